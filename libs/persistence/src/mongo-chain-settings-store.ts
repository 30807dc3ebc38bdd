import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { type Model, mongo } from 'mongoose';
import {
  CHAIN_SETTINGS_KEY,
  ChainSettingsConflictError,
  ChainSettingsStore,
  type StoredChain,
} from './chain-settings-store';
import { CHAIN_SETTINGS_MODEL, type SettingsDocument } from './chain-settings.schema';
import { PROTES_CONNECTION } from './mongo-connection';

const DUPLICATE_KEY = 11000;

/**
 * ChainSettingsStore in the `settings` collection, through the model MongooseModule registers on
 * the store's connection. A save is one insert (first save) or one update conditional on the
 * version, both atomic on one document.
 */
@Injectable()
export class MongoChainSettingsStore extends ChainSettingsStore {
  constructor(
    @InjectModel(CHAIN_SETTINGS_MODEL, PROTES_CONNECTION)
    private readonly settings: Model<SettingsDocument>,
  ) {
    super();
  }

  async get(): Promise<StoredChain | undefined> {
    const doc = await this.settings.findOne({ _id: { $eq: CHAIN_SETTINGS_KEY } }).lean();
    return doc
      ? { chain: JSON.parse(doc.value) as unknown, version: doc.version, updatedAt: doc.updatedAt }
      : undefined;
  }

  async save(chain: unknown, expectedVersion: number): Promise<StoredChain> {
    const stored = { chain, version: expectedVersion + 1, updatedAt: new Date().toISOString() };
    const fields = {
      version: stored.version,
      updatedAt: stored.updatedAt,
      value: JSON.stringify(chain),
    };
    if (expectedVersion === 0) {
      try {
        await this.settings.create({ _id: CHAIN_SETTINGS_KEY, ...fields });
      } catch (error) {
        if (error instanceof mongo.MongoServerError && error.code === DUPLICATE_KEY) {
          throw new ChainSettingsConflictError();
        }
        throw error;
      }
    } else {
      const { matchedCount } = await this.settings.updateOne(
        { _id: { $eq: CHAIN_SETTINGS_KEY }, version: { $eq: expectedVersion } },
        { $set: fields },
      );
      if (matchedCount !== 1) throw new ChainSettingsConflictError();
    }
    return stored;
  }

  async clear(): Promise<void> {
    await this.settings.deleteOne({ _id: { $eq: CHAIN_SETTINGS_KEY } });
  }

  /**
   * Nothing to close: the connection is MongooseModule's, which closes it at application shutdown,
   * once every hook that may still write has run.
   */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
