/** The middleware chain as the management API last stored it. */
export interface StoredChain {
  /** The chain as given to save; its owner (@protes/distribution) validates it when reading. */
  chain: unknown;
  /** 1 after the first save, bumped by each save. */
  version: number;
  /** When it was saved, RFC 3339. */
  updatedAt: string;
}

/** Raised by save when the stored chain is no longer the version the caller read. */
export class ChainSettingsConflictError extends Error {
  constructor() {
    super('the middleware chain was changed by someone else');
  }
}

/**
 * Where the middleware chain set at runtime is kept, so that it survives restarts and reaches every
 * gateway that shares the store. An abstract class, to serve as the DI token; adapters are bound in
 * PersistenceModule. The chain is opaque here: the store does not know what a chain is.
 */
export abstract class ChainSettingsStore {
  abstract get(): Promise<StoredChain | undefined>;

  /**
   * Stores `chain` if the stored version is still `expectedVersion` (0: nothing stored), and returns
   * what was stored; ChainSettingsConflictError otherwise.
   */
  abstract save(chain: unknown, expectedVersion: number): Promise<StoredChain>;

  /** Forgets the stored chain. */
  abstract clear(): Promise<void>;

  abstract close(): Promise<void>;
}
