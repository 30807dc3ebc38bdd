import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes for `auth.basic.users`: scrypt from node:crypto, written as
 * `$scrypt$n=<cost>,r=<block size>,p=<parallelism>$<salt>$<key>` (salt and key in unpadded
 * base64), the shape of the PHC string format. The parameters travel with the hash, so a hash made
 * with other costs still verifies.
 */

export interface ScryptParameters {
  /** CPU and memory cost, a power of two. */
  n: number;
  r: number;
  p: number;
}

/** OWASP's recommendation for scrypt (128 MiB, a fraction of a second per check). */
export const DEFAULT_SCRYPT: ScryptParameters = { n: 2 ** 17, r: 8, p: 1 };

/**
 * Bounds on what a configured hash may ask for: below, a stolen configuration is cheap to crack;
 * above, one login would hold gigabytes.
 */
const LIMITS = { n: [2 ** 14, 2 ** 20], r: [1, 32], p: [1, 16] } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

export interface PasswordHash extends ScryptParameters {
  salt: Buffer;
  key: Buffer;
}

export class PasswordHashError extends Error {}

const FORMAT = /^\$scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function checkParameters({ n, r, p }: ScryptParameters): void {
  const within = (value: number, [min, max]: readonly [number, number]) =>
    Number.isInteger(value) && value >= min && value <= max;
  if (!within(n, LIMITS.n) || (n & (n - 1)) !== 0) {
    throw new PasswordHashError(
      `n must be a power of two from ${LIMITS.n[0]} to ${LIMITS.n[1]}, not ${n}`,
    );
  }
  if (!within(r, LIMITS.r)) throw new PasswordHashError(`r must be 1 to ${LIMITS.r[1]}, not ${r}`);
  if (!within(p, LIMITS.p)) throw new PasswordHashError(`p must be 1 to ${LIMITS.p[1]}, not ${p}`);
}

/** Reads a hash; the error says what is wrong with it without repeating it. */
export function parsePasswordHash(text: string): PasswordHash {
  const match = FORMAT.exec(text);
  if (!match) {
    throw new PasswordHashError(
      'is not a hash made by `npm run auth:hash-password` ($scrypt$n=…,r=…,p=…$salt$key)',
    );
  }
  const [n, r, p] = [match[1], match[2], match[3]].map(Number);
  checkParameters({ n, r, p });
  const salt = Buffer.from(match[4], 'base64');
  const key = Buffer.from(match[5], 'base64');
  if (salt.length < SALT_BYTES)
    throw new PasswordHashError(`its salt is under ${SALT_BYTES} bytes`);
  if (key.length < 16) throw new PasswordHashError('its key is under 16 bytes');
  return { n, r, p, salt, key };
}

function derive(password: string, salt: Buffer, length: number, params: ScryptParameters) {
  // Node refuses scrypt above 32 MiB unless told: allow what the parameters need (128·n·r·p).
  const options: ScryptOptions = {
    N: params.n,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.n * params.r * params.p,
  };
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function hashPassword(
  password: string,
  params: ScryptParameters = DEFAULT_SCRYPT,
): Promise<string> {
  checkParameters(params);
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, params);
  const b64 = (buffer: Buffer) => buffer.toString('base64').replace(/=+$/, '');
  return `$scrypt$n=${params.n},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** Whether `password` is the one hashed, compared in constant time. */
export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  const key = await derive(password, hash.salt, hash.key.length, hash);
  return timingSafeEqual(key, hash.key);
}
