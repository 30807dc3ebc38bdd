import {
  hashPassword,
  parsePasswordHash,
  PasswordHashError,
  verifyPassword,
} from './password-hash';

// The smallest cost the configuration accepts, to keep the suite fast.
const CHEAP = { n: 2 ** 14, r: 8, p: 1 };

describe('password hashes', () => {
  it('verify the password they were made from, and no other', async () => {
    const hash = parsePasswordHash(await hashPassword('s3cret pässword', CHEAP));
    expect(await verifyPassword('s3cret pässword', hash)).toBe(true);
    expect(await verifyPassword('s3cret passwort', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('carry their parameters and a fresh salt', async () => {
    const [a, b] = [await hashPassword('x', CHEAP), await hashPassword('x', CHEAP)];
    expect(a).toMatch(/^\$scrypt\$n=16384,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    const other = await hashPassword('x', { n: 2 ** 15, r: 4, p: 2 });
    expect(parsePasswordHash(other)).toMatchObject({ n: 2 ** 15, r: 4, p: 2 });
    expect(await verifyPassword('x', parsePasswordHash(other))).toBe(true);
  });

  it('default to OWASP’s scrypt parameters', async () => {
    expect(parsePasswordHash(await hashPassword('x'))).toMatchObject({ n: 2 ** 17, r: 8, p: 1 });
  });

  it.each([
    ['a plain password', 'hunter2-hunter2'],
    ['another scheme', '$2b$12$abcdefghijklmnopqrstuv'],
    [
      'n not a power of two',
      '$scrypt$n=20000,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5',
    ],
    ['n too small', '$scrypt$n=1024,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5'],
    ['r too large', '$scrypt$n=16384,r=64,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5'],
    ['a short salt', '$scrypt$n=16384,r=8,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5'],
  ])('refuse %s, without repeating it', (_case, text) => {
    let error: unknown;
    try {
      parsePasswordHash(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PasswordHashError);
    expect((error as Error).message).not.toContain(text);
  });

  it('refuse to make a hash with parameters they would refuse', async () => {
    await expect(hashPassword('x', { n: 1024, r: 8, p: 1 })).rejects.toThrow(/power of two/);
  });
});
