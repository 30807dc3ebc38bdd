import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthenticationError, KeysUnavailableError } from './auth-errors';
import type { IssuerSettings } from './auth-settings';
import { IssuerKeys } from './issuer-keys';

/** A JWKS and discovery document on a real local server, counting fetches; `up` can fail it. */
class KeyServer {
  url = '';
  fetches = 0;
  up = true;
  keys: JWK[] = [];
  issuer = '';
  private server?: Server;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      if (request.url === '/.well-known/openid-configuration') {
        response.end(JSON.stringify({ issuer: this.issuer, jwks_uri: `${this.url}/jwks` }));
        return;
      }
      this.fetches++;
      response.writeHead(this.up ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify(this.up ? { keys: this.keys } : {}));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.issuer = this.url;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()));
  }
}

const jwk = async (kid: string): Promise<JWK> => ({
  ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)),
  kid,
  alg: 'ES256',
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const header = (kid: string) => ({ alg: 'ES256', kid });

describe('IssuerKeys', () => {
  const server = new KeyServer();
  const settings = (jwksUri?: string): IssuerSettings => ({
    issuer: server.url,
    ...(jwksUri && { jwksUri }),
    audiences: ['a'],
    algorithms: ['ES256'],
    requiredScopes: [],
    requiredClaims: {},
  });
  const options = { maxAgeMs: 60_000, cooldownMs: 300, timeoutMs: 1000 };

  beforeAll(() => server.start());
  afterAll(() => server.stop());
  beforeEach(async () => {
    server.up = true;
    server.fetches = 0;
    server.keys = [await jwk('k1')];
  });

  it('fetches the keys once and keeps them', async () => {
    const keys = new IssuerKeys(settings(`${server.url}/jwks`), options);
    const key = await keys.keyFor(header('k1'));
    expect(key.asymmetricKeyType).toBe('ec');
    await keys.keyFor(header('k1'));
    expect(server.fetches).toBe(1);
  });

  it('fetches again for an unknown key id at most once per cool-down', async () => {
    const keys = new IssuerKeys(settings(`${server.url}/jwks`), options);
    await keys.keyFor(header('k1'));
    await sleep(options.cooldownMs + 50);
    for (let i = 0; i < 4; i++) {
      await expect(keys.keyFor(header('k9'))).rejects.toBeInstanceOf(AuthenticationError);
    }
    expect(server.fetches).toBe(2);
    server.keys.push(await jwk('k2'));
    await sleep(options.cooldownMs + 50);
    await keys.keyFor(header('k2'));
    expect(server.fetches).toBe(3);
  });

  it('keeps verifying with the last keys while the issuer is down, asking once per cool-down', async () => {
    const keys = new IssuerKeys(settings(`${server.url}/jwks`), { ...options, maxAgeMs: 100 });
    await keys.keyFor(header('k1'));
    server.up = false;
    await sleep(150); // the keys are stale: jose wants to fetch them again
    for (let i = 0; i < 5; i++) await keys.keyFor(header('k1'));
    expect(server.fetches).toBe(2);
    await sleep(options.cooldownMs + 50);
    await keys.keyFor(header('k1'));
    expect(server.fetches).toBe(3);
    server.up = true;
    await sleep(options.cooldownMs + 50);
    await keys.keyFor(header('k1'));
    expect(server.fetches).toBe(4);
  });

  it('answers "unavailable" when it never had keys, without asking on every request', async () => {
    server.up = false;
    const keys = new IssuerKeys(settings(`${server.url}/jwks`), options);
    await expect(keys.keyFor(header('k1'))).rejects.toBeInstanceOf(KeysUnavailableError);
    await expect(keys.keyFor(header('k1'))).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(server.fetches).toBe(1);
  });

  it('finds the key set by OpenID discovery, which must name the issuer', async () => {
    const keys = new IssuerKeys(settings(), options);
    await keys.keyFor(header('k1'));
    expect(server.fetches).toBe(1);
    server.issuer = 'https://impostor.example.org';
    try {
      const other = new IssuerKeys(settings(), options);
      await expect(other.keyFor(header('k1'))).rejects.toBeInstanceOf(KeysUnavailableError);
    } finally {
      server.issuer = server.url;
    }
  });
});
