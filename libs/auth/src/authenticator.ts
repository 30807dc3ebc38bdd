import {
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticationError } from './auth-errors';
import { AUTH_SETTINGS } from './auth.module-definition';
import type { AuthSettings } from './auth-settings';
import { BasicVerifier } from './basic-verifier';
import { CredentialCache } from './credential-cache';
import { type PassportJwt, passportJwt, verifiedTokenOf } from './jwt-passport';
import { JwtVerifier } from './jwt-verifier';
import type { Principal } from './principal';

/** A Basic login is checked again after this long (a token lives until its `exp`). */
const BASIC_CACHE_MS = 10 * 60 * 1000;
/** RFC 7235's auth-scheme, then the credentials. */
const AUTHORIZATION = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:[ ]+(.*))?$/;
/** RFC 6750's b64token. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The schemes this service takes, and what a verified credential is cached under. */
type Scheme = 'bearer' | 'basic';
const cacheKey = (scheme: Scheme, credentials: string): string =>
  `${scheme === 'bearer' ? 'Bearer' : 'Basic'} ${credentials}`;

/**
 * Establishes who sends a request from its Authorization header: a JWT bearer token (passport-jwt
 * against the configured issuers) or Basic credentials (the configured users). What a credential
 * resolved to is cached, keyed by its HMAC, until the token expires (a Basic login for ten
 * minutes), so that a client polling thousands of times with one token is verified once.
 */
@Injectable()
export class Authenticator implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Auth');
  private readonly cache: CredentialCache<Principal>;
  /** Each request's credential digest, by the request's headers (see digestOf). */
  private readonly digests = new WeakMap<IncomingHttpHeaders, string>();
  private readonly jwt?: PassportJwt;
  private readonly basic: BasicVerifier;

  constructor(@Inject(AUTH_SETTINGS) private readonly settings: AuthSettings) {
    this.cache = new CredentialCache(settings.cacheSize);
    if (settings.enabled && settings.issuers.length) {
      this.jwt = passportJwt(new JwtVerifier(settings));
    }
    this.basic = new BasicVerifier(settings);
  }

  onApplicationBootstrap(): void {
    const { enabled, issuers, basicUsers } = this.settings;
    if (!enabled) {
      this.logger.warn(
        'AUTHENTICATION IS OFF (auth.enabled: false): every caller is the same anonymous user, ' +
          'and the management API (/protes/v1/middlewares, /protes/v1/nodes) is open to anyone ' +
          'who reaches this port. Run it so only on a trusted network.',
      );
      return;
    }
    this.logger.log(
      `authentication on: ${issuers.length} token issuer(s) ` +
        `(${issuers.map((i) => i.issuer).join(', ') || 'none'}), ${basicUsers.size} Basic user(s)`,
    );
  }

  onModuleDestroy(): void {
    this.jwt?.dispose();
  }

  /** The challenges of a 401: the schemes this service takes. */
  get schemes(): ('Bearer' | 'Basic')[] {
    return [
      ...(this.jwt ? (['Bearer'] as const) : []),
      ...(this.basic.enabled ? (['Basic'] as const) : []),
    ];
  }

  /**
   * Who a request stands for in per-caller request limits, without verifying anything: the digest
   * of its credential when that was verified before and has not expired (it is in the cache), or,
   * with authentication off, of any Authorization header (a trusted network's clients may use one
   * to get limits of their own). Undefined otherwise: the limit then keys on the address, so that
   * a client sending ever new invalid credentials cannot give itself a fresh limit with each.
   */
  callerKey(headers: IncomingHttpHeaders): string | undefined {
    const { authorization } = headers;
    if (!authorization) return undefined;
    if (!this.settings.enabled) return this.cache.digest(authorization);
    const match = AUTHORIZATION.exec(authorization.trim());
    const scheme = match?.[1].toLowerCase();
    if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
    const digest = this.digestOf(headers, scheme, match?.[2]?.trim() ?? '');
    return this.cache.get(digest) !== undefined ? digest : undefined;
  }

  /** Who sent the request; an AuthenticationError, PermissionError or KeysUnavailableError if not. */
  async authenticate(context: ExecutionContext): Promise<Principal> {
    const { headers } = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>();
    const header = headers.authorization?.trim();
    if (!header) {
      throw new AuthenticationError(`credentials are required (${this.schemes.join(' or ')})`);
    }
    const match = AUTHORIZATION.exec(header);
    if (!match) {
      throw new AuthenticationError('the Authorization header is malformed', 'invalid_request');
    }
    const scheme = match[1].toLowerCase();
    const credentials = match[2]?.trim() ?? '';
    if (scheme === 'bearer') return this.bearer(credentials, context, headers);
    if (scheme === 'basic') return this.basicLogin(credentials, headers);
    throw new AuthenticationError(
      `the Authorization scheme is not one this service takes (${this.schemes.join(', ')})`,
    );
  }

  /**
   * The cache digest of the request's credential, worked out once per request: the request
   * limit's hook asks for it before the guard does (an HMAC each time otherwise).
   */
  private digestOf(headers: IncomingHttpHeaders, scheme: Scheme, credentials: string): string {
    let digest = this.digests.get(headers);
    if (digest === undefined) {
      digest = this.cache.digest(cacheKey(scheme, credentials));
      this.digests.set(headers, digest);
    }
    return digest;
  }

  private async bearer(
    token: string,
    context: ExecutionContext,
    headers: IncomingHttpHeaders,
  ): Promise<Principal> {
    if (!TOKEN68.test(token)) {
      throw new AuthenticationError(
        'the Authorization header is malformed: Bearer takes one token',
        'invalid_request',
      );
    }
    if (!this.jwt) {
      throw new AuthenticationError('bearer tokens are not accepted: no issuer is configured');
    }
    const key = this.digestOf(headers, 'bearer', token);
    const cached = this.cache.get(key);
    if (cached) return cached;
    await this.jwt.guard.canActivate(context);
    const { principal, expiresAt } = verifiedTokenOf(context);
    this.cache.set(key, principal, expiresAt);
    return principal;
  }

  private async basicLogin(credentials: string, headers: IncomingHttpHeaders): Promise<Principal> {
    if (!this.basic.enabled) {
      throw new AuthenticationError('Basic authentication is not enabled on this service');
    }
    const decoded = BASE64.test(credentials)
      ? Buffer.from(credentials, 'base64').toString('utf8')
      : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new AuthenticationError(
        'the Authorization header is malformed: Basic takes base64 of user:password',
        'invalid_request',
        'Basic',
      );
    }
    const key = this.digestOf(headers, 'basic', credentials);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const principal = await this.basic.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    this.cache.set(key, principal, Date.now() + BASIC_CACHE_MS);
    return principal;
  }
}
