import { Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type RemoteJWKSet,
} from 'jose';
import { KeyObject } from 'node:crypto';
import { invalidToken, KeysUnavailableError } from './auth-errors';
import type { AuthSettings, IssuerSettings } from './auth-settings';

/**
 * The signing keys of one issuer, from its JWKS: fetched on first use, kept for `maxAgeMs`, and
 * fetched again early for a key id not seen before, at most once per `cooldownMs` (jose's remote
 * key set does both). What jose does not do, done here: while the issuer cannot be reached, the
 * keys fetched last keep verifying, and no request tries again before the cool-down has passed, so
 * a failing issuer is never asked once per request.
 */
export class IssuerKeys {
  private readonly logger = new Logger('Auth');
  private remote?: RemoteJWKSet;
  /** The last key set that was fetched, and since when fetching fails. */
  private lastKnown?: JSONWebKeySet;
  private failingSince?: number;
  private lastAttempt = -Infinity;
  private discovery?: Promise<URL>;

  constructor(
    readonly settings: Pick<IssuerSettings, 'issuer' | 'jwksUri'>,
    private readonly options: AuthSettings['jwks'],
    private readonly now: () => number = Date.now,
  ) {}

  /** The key a token with this header was signed with, as jsonwebtoken takes it. */
  async keyFor(header: JWSHeaderParameters): Promise<KeyObject> {
    const inOutage =
      this.failingSince !== undefined && this.now() - this.lastAttempt < this.options.cooldownMs;
    try {
      const key = inOutage ? await this.fromLastKnown(header) : await this.fromRemote(header);
      return KeyObject.from(key);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) {
        throw invalidToken("no signing key of the token's issuer matches the token (kid)");
      }
      if (error instanceof errors.JWKSMultipleMatchingKeys) {
        throw invalidToken('the token names no key id (kid) and the issuer has several keys');
      }
      if (error instanceof errors.JOSENotSupported || error instanceof errors.JWKInvalid) {
        throw invalidToken("the token's key cannot be used with its algorithm");
      }
      throw error;
    }
  }

  private async fromRemote(header: JWSHeaderParameters) {
    this.lastAttempt = this.now();
    try {
      const remote = await this.remoteSet();
      const key = await remote(header);
      this.lastKnown = remote.jwks();
      if (this.failingSince !== undefined) {
        this.logger.log(`the keys of issuer ${this.settings.issuer} can be fetched again`);
        this.failingSince = undefined;
      }
      return key;
    } catch (error) {
      if (!isFetchFailure(error)) throw error;
      this.lastKnown = this.remote?.jwks() ?? this.lastKnown;
      if (this.failingSince === undefined) {
        this.failingSince = this.now();
        this.logger.warn(
          `cannot fetch the signing keys of issuer ${this.settings.issuer} (${describe(error)}); ` +
            `${this.lastKnown ? 'using the keys fetched last' : 'its tokens cannot be verified'}, ` +
            `trying again at most every ${this.options.cooldownMs / 1000} s`,
        );
      }
      return this.fromLastKnown(header);
    }
  }

  private fromLastKnown(header: JWSHeaderParameters) {
    if (!this.lastKnown) {
      throw new KeysUnavailableError(
        "the token's issuer cannot be reached to fetch its signing keys; try again later",
      );
    }
    return createLocalJWKSet(this.lastKnown)(header);
  }

  private async remoteSet(): Promise<RemoteJWKSet> {
    if (this.remote) return this.remote;
    const url = this.settings.jwksUri
      ? new URL(this.settings.jwksUri)
      : await (this.discovery ??= this.discover().finally(() => (this.discovery = undefined)));
    this.remote ??= createRemoteJWKSet(url, {
      cacheMaxAge: this.options.maxAgeMs,
      cooldownDuration: this.options.cooldownMs,
      timeoutDuration: this.options.timeoutMs,
    });
    return this.remote;
  }

  /** OpenID Connect discovery: `jwks_uri` from the issuer's metadata, which must name it. */
  private async discover(): Promise<URL> {
    const base = this.settings.issuer.replace(/\/+$/, '');
    const response = await fetch(`${base}/.well-known/openid-configuration`, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    }).catch((error: unknown) => {
      throw new DiscoveryError(describe(error));
    });
    if (response.status !== 200) throw new DiscoveryError(`discovery answered ${response.status}`);
    const metadata = (await response.json().catch(() => undefined)) as
      { issuer?: unknown; jwks_uri?: unknown } | undefined;
    if (metadata?.issuer !== this.settings.issuer || typeof metadata.jwks_uri !== 'string') {
      throw new DiscoveryError('the discovery document does not name this issuer and a jwks_uri');
    }
    return new URL(metadata.jwks_uri);
  }
}

class DiscoveryError extends Error {}

/** Reaching the issuer failed (network, timeout, an answer that is no key set), not the token. */
function isFetchFailure(error: unknown): boolean {
  if (error instanceof DiscoveryError || error instanceof errors.JWKSTimeout) return true;
  if (error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC') return true;
  return error instanceof TypeError; // fetch: connection refused, DNS, TLS
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  return `${(error as Error).message}${typeof cause === 'string' ? `: ${cause}` : ''}`;
}
