import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OAuth2/OIDC issuer for the tests: a node:http server with an OpenID discovery document
 * and a JWKS of keys made here with jose, which mints tokens with them. Keys can be added (a
 * rotation) while it runs, and it counts how often its JWKS is fetched.
 */

export type Alg = 'RS256' | 'ES256';

interface SigningKey {
  kid: string;
  alg: Alg;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

export async function makeKey(kid: string, alg: Alg): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

export class LocalIssuer {
  url = '';
  jwksFetches = 0;
  discoveryFetches = 0;
  /** While false the JWKS answers 503 (the issuer is down). */
  serving = true;
  private readonly published: SigningKey[] = [];
  private server?: Server;

  /** Keys by id: published ones and any made aside (unknown to the JWKS). */
  readonly keys = new Map<string, SigningKey>();

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.url === '/.well-known/openid-configuration') {
        this.discoveryFetches++;
        return send(200, { issuer: this.url, jwks_uri: `${this.url}/jwks` });
      }
      if (request.url === '/jwks') {
        this.jwksFetches++;
        if (!this.serving) return send(503, { error: 'down' });
        return send(200, { keys: this.published.map((k) => k.publicJwk) });
      }
      send(404, {});
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Makes a key; published in the JWKS unless `publish` is false. */
  async addKey(kid: string, alg: Alg, publish = true): Promise<SigningKey> {
    const key = await makeKey(kid, alg);
    this.keys.set(kid, key);
    if (publish) this.published.push(key);
    return key;
  }

  /** Takes a key out of the JWKS (a revocation); tokens signed with it stay signed with it. */
  unpublish(kid: string): void {
    const at = this.published.findIndex((k) => k.kid === kid);
    if (at >= 0) this.published.splice(at, 1);
  }

  /** The standard claims of a token of this issuer for `sub`, valid for an hour. */
  claims(sub: string, audience: string, extra: JWTPayload = {}): JWTPayload {
    const now = nowSeconds();
    return { iss: this.url, sub, aud: audience, iat: now, nbf: now, exp: now + 3600, ...extra };
  }

  /** A token signed with key `kid`; `payload` is sent as is (set `exp: undefined` to drop it). */
  async sign(kid: string, payload: JWTPayload): Promise<string> {
    const key = this.keys.get(kid);
    if (!key) throw new Error(`no key ${kid}`);
    const claims = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }

  /** `alg: none`: no signature at all. */
  unsigned(payload: JWTPayload, kid?: string): string {
    return `${b64url({ alg: 'none', typ: 'JWT', ...(kid && { kid }) })}.${b64url(payload)}.`;
  }

  /**
   * HS256 with the issuer's public key (PEM) as the HMAC secret: the forgery a verifier falls for
   * when it lets the token choose the algorithm.
   */
  async hmacWithPublicKey(kid: string, payload: JWTPayload): Promise<string> {
    const key = this.keys.get(kid);
    if (!key) throw new Error(`no key ${kid}`);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(key.publicPem));
  }

  /** A valid token whose signature is replaced by one from `otherKid`'s key. */
  async withForeignSignature(kid: string, otherKid: string, payload: JWTPayload): Promise<string> {
    const [header, body] = (await this.sign(kid, payload)).split('.');
    const signature = (await this.sign(otherKid, payload)).split('.')[2];
    return `${header}.${body}.${signature}`;
  }
}
