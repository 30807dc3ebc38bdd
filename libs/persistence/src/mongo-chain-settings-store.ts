import { type ConnectOptions, type Connection, createConnection, mongo } from 'mongoose';
import {
  CHAIN_SETTINGS_KEY,
  ChainSettingsConflictError,
  ChainSettingsStore,
  type StoredChain,
} from './chain-settings-store';

interface SettingsDocument {
  _id: string;
  version: number;
  updatedAt: string;
  /** JSON: settings may hold keys MongoDB does not allow in field names ('$…', '.'). */
  value: string;
}

const DUPLICATE_KEY = 11000;

/**
 * ChainSettingsStore in a `settings` collection, over a connection of its own. A save is one
 * insert (first save) or one update conditional on the version, both atomic on one document.
 */
export class MongoChainSettingsStore extends ChainSettingsStore {
  private readonly settings;

  /** The store takes the connection over: close() closes it. */
  constructor(private readonly connection: Connection) {
    super();
    this.settings = connection.collection<SettingsDocument>('settings');
  }

  static async connect(url: string, options?: ConnectOptions): Promise<MongoChainSettingsStore> {
    return new MongoChainSettingsStore(await createConnection(url, options).asPromise());
  }

  async get(): Promise<StoredChain | undefined> {
    const doc = await this.settings.findOne({ _id: { $eq: CHAIN_SETTINGS_KEY } });
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
        await this.settings.insertOne({ _id: CHAIN_SETTINGS_KEY, ...fields });
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

  async close(): Promise<void> {
    await this.connection.close();
  }
}
