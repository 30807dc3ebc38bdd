import { type AuthConfig, ConfigError, loadConfig } from '@protes/config';
import { authSettings, isAdministrator } from './auth-settings';

const HASH =
  '$scrypt$n=16384,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5';
const ISSUER = { issuer: 'https://login.example.org', audience: 'protes' };

const config = (env: Record<string, unknown> = {}): AuthConfig =>
  loadConfig(
    Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    ),
  ).auth;

function refusal(auth: AuthConfig): string {
  try {
    authSettings(auth);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('authSettings', () => {
  it('refuses authentication on with nobody who could call, naming the way out', () => {
    expect(refusal(config())).toMatch(/PROTES_AUTH__ENABLED=false/);
    expect(authSettings(config({ PROTES_AUTH__ENABLED: 'false' })).enabled).toBe(false);
  });

  it('spells out the defaults of an issuer: asymmetric algorithms, no scopes, no claims', () => {
    const { issuers } = authSettings(config({ PROTES_AUTH__ISSUERS: [ISSUER] }));
    expect(issuers).toEqual([
      {
        issuer: ISSUER.issuer,
        audiences: ['protes'],
        algorithms: [
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'ES256',
          'ES384',
          'ES512',
        ],
        requiredScopes: [],
        requiredClaims: {},
      },
    ]);
  });

  it('spells out the defaults of a visa issuer: asymmetric algorithms', () => {
    const visaIssuer = {
      issuer: 'https://visas.example.org',
      jwksUri: 'https://visas.example.org/jwks',
    };
    const { visaIssuers } = authSettings(
      config({ PROTES_AUTH__ISSUERS: [ISSUER], PROTES_AUTH__VISA_ISSUERS: [visaIssuer] }),
    );
    expect(visaIssuers).toEqual([
      { ...visaIssuer, algorithms: expect.not.arrayContaining(['HS256']) },
    ]);
    expect(visaIssuers[0].algorithms).toHaveLength(9);
  });

  it('refuses an issuer listed twice and a user listed twice', () => {
    expect(refusal(config({ PROTES_AUTH__ISSUERS: [ISSUER, ISSUER] }))).toContain(
      'auth.issuers.1.issuer',
    );
    const visaIssuer = {
      issuer: 'https://visas.example.org',
      jwksUri: 'https://visas.example.org/jwks',
    };
    expect(
      refusal(
        config({
          PROTES_AUTH__ISSUERS: [ISSUER],
          PROTES_AUTH__VISA_ISSUERS: [visaIssuer, visaIssuer],
        }),
      ),
    ).toContain('auth.visaIssuers.1.issuer');
    const user = { username: 'a', passwordHash: HASH };
    expect(refusal(config({ PROTES_AUTH__BASIC__USERS: [user, user] }))).toContain(
      'auth.basic.users.1.username',
    );
  });

  it('refuses a hash it cannot use, naming the key and not the hash', () => {
    const weak = HASH.replace('n=16384', 'n=1024');
    const message = refusal(
      config({ PROTES_AUTH__BASIC__USERS: [{ username: 'a', passwordHash: weak }] }),
    );
    expect(message).toContain('auth.basic.users.0.passwordHash');
    expect(message).not.toContain(weak);
  });

  it.each(['Authorization', 'cookie', 'Proxy-Authorization'])(
    'never forwards %s to middlewares',
    (header) => {
      const auth = config({
        PROTES_AUTH__ISSUERS: [ISSUER],
        PROTES_AUTH__FORWARD_HEADERS: [header],
      });
      expect(refusal(auth)).toContain('auth.forwardHeaders');
    },
  );

  it('reads forwarded header names in lower case', () => {
    const auth = config({
      PROTES_AUTH__ISSUERS: [ISSUER],
      PROTES_AUTH__FORWARD_HEADERS: ['User-Agent', 'user-agent', 'X-Request-Id'],
    });
    expect(authSettings(auth).forwardHeaders).toEqual(['user-agent', 'x-request-id']);
  });
});

describe('isAdministrator', () => {
  const settings = authSettings(
    config({
      PROTES_AUTH__ISSUERS: [ISSUER],
      PROTES_AUTH__ADMIN__CLAIM: 'groups',
      PROTES_AUTH__ADMIN__VALUE: 'protes-admin',
      PROTES_AUTH__ADMIN__SUBJECTS: ['basic|ops'],
    }),
  );

  it('is true for a listed owner id or the configured claim, false otherwise', () => {
    expect(isAdministrator(settings.admin, 'basic|ops', {})).toBe(true);
    expect(isAdministrator(settings.admin, 'x|alice', { groups: ['protes-admin'] })).toBe(true);
    expect(isAdministrator(settings.admin, 'x|alice', { groups: ['staff'] })).toBe(false);
    expect(isAdministrator(settings.admin, 'basic|alice', {})).toBe(false);
  });

  it('is false for everyone without a rule', () => {
    const none = authSettings(config({ PROTES_AUTH__ISSUERS: [ISSUER] })).admin;
    expect(isAdministrator(none, 'x|root', { groups: ['protes-admin'] })).toBe(false);
  });
});
