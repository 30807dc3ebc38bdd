import { createHmac, randomBytes } from 'node:crypto';

/**
 * What verified credentials resolved to, so that a client polling with the same token or password
 * pays for one signature check or one scrypt, not one per request. Bounded (least recently used
 * goes first) and every entry expires. Keys are an HMAC of the credential under a key made at
 * start and never stored, so the cache holds nothing a memory dump could turn back into a
 * credential or test a guessed password against.
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

  get(credential: string): V | undefined {
    const key = this.keyOf(credential);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry); // most recently used last
    return entry.value;
  }

  /** Keeps `value` until `expiresAt` (ms since the epoch); nothing when the capacity is 0. */
  set(credential: string, value: V, expiresAt: number): void {
    if (this.capacity === 0 || expiresAt <= this.now()) return;
    const key = this.keyOf(credential);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  private keyOf(credential: string): string {
    return createHmac('sha256', this.secret).update(credential).digest('base64url');
  }
}
