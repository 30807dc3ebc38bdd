import { createHmac, randomBytes } from 'node:crypto';

/**
 * What verified credentials resolved to, so that a client polling with the same token or password
 * pays for one signature check or one scrypt, not one per request. Bounded (least recently used
 * goes first) and every entry expires. Entries are found by a credential's digest (`digest`): an
 * HMAC under a key made at start and never stored, so the cache holds nothing a memory dump could
 * turn back into a credential or test a guessed password against. The digest is its own step so
 * that a request's credential is digested once however often it is looked up.
 */
export class CredentialCache<V> {
  private readonly secret = randomBytes(32);
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** What a credential is found by. */
  digest(credential: string): string {
    return createHmac('sha256', this.secret).update(credential).digest('base64url');
  }

  /** The value kept for the credential of this `digest`, if it has not expired. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry); // most recently used last
    return entry.value;
  }

  /**
   * Keeps `value` for the credential of this `digest` until `expiresAt` (ms since the epoch);
   * nothing when the capacity is 0.
   */
  set(key: string, value: V, expiresAt: number): void {
    if (this.capacity === 0 || expiresAt <= this.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
