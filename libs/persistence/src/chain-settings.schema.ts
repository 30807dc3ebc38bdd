import { Schema } from 'mongoose';

/** The stored middleware chain as MongoDB keeps it, one document under CHAIN_SETTINGS_KEY. */
export interface SettingsDocument {
  _id: string;
  version: number;
  updatedAt: string;
  /** JSON: settings may hold keys MongoDB does not allow in field names ('$…', '.'). */
  value: string;
}

export const CHAIN_SETTINGS_MODEL = 'ChainSettings';

export const chainSettingsSchema = new Schema<SettingsDocument>(
  {
    _id: { type: String, required: true },
    version: { type: Number, required: true },
    updatedAt: { type: String, required: true },
    value: { type: String, required: true },
  },
  { collection: 'settings', versionKey: false },
);
