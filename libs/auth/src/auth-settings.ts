import { type AuthConfig, ConfigError, JWT_ALGORITHMS, type JwtAlgorithm } from '@protes/config';
import { claimHas } from './claims';
import { type PasswordHash, parsePasswordHash } from './password-hash';

/** An issuer as the verifier uses it: every default applied. */
export interface IssuerSettings {
  issuer: string;
  jwksUri?: string;
  audiences: string[];
  algorithms: JwtAlgorithm[];
  requiredScopes: string[];
  requiredClaims: Record<string, string>;
}

/** A trusted issuer of GA4GH Passport visas, as the visa verifier uses it. */
export interface VisaIssuerSettings {
  issuer: string;
  jwksUri: string;
  algorithms: JwtAlgorithm[];
}

/** `auth` from the configuration, checked and with its defaults spelt out. */
export interface AuthSettings {
  enabled: boolean;
  realm: string;
  clockSkewSeconds: number;
  issuers: IssuerSettings[];
  visaIssuers: VisaIssuerSettings[];
  jwks: { maxAgeMs: number; cooldownMs: number; timeoutMs: number };
  cacheSize: number;
  basicUsers: Map<string, PasswordHash>;
  admin: { claim?: string; value?: string; subjects: Set<string> };
  /** Lower-case header names. */
  forwardHeaders: string[];
  exposeClaims: string[];
}

/** Headers that carry credentials: never handed to middlewares, whatever the configuration. */
export const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];

/**
 * Checks what the schema cannot and spells out defaults. Throws a ConfigError naming the key, so
 * that the gateway stops at start rather than refusing every caller later.
 */
export function authSettings(config: AuthConfig): AuthSettings {
  const fail = (message: string): never => {
    throw new ConfigError(message);
  };
  if (config.enabled && config.issuers.length === 0 && config.basic.users.length === 0) {
    fail(
      'auth: authentication is on (auth.enabled) but no auth.issuers and no auth.basic.users ' +
        'are configured, so nobody could call the API. Configure an issuer or users, or set ' +
        'PROTES_AUTH__ENABLED=false to run without authentication on a trusted network.',
    );
  }
  const issuers = config.issuers.map((issuer): IssuerSettings => ({
    issuer: issuer.issuer,
    ...(issuer.jwksUri !== undefined && { jwksUri: issuer.jwksUri }),
    audiences: [issuer.audience].flat(),
    algorithms: issuer.algorithms ?? [...JWT_ALGORITHMS],
    requiredScopes: issuer.requiredScopes ?? [],
    requiredClaims: issuer.requiredClaims ?? {},
  }));
  const visaIssuers = config.visaIssuers.map((issuer): VisaIssuerSettings => ({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    algorithms: issuer.algorithms ?? [...JWT_ALGORITHMS],
  }));
  for (const [key, list] of Object.entries({ issuers, visaIssuers })) {
    const seen = new Set<string>();
    list.forEach(({ issuer }, i) => {
      if (seen.has(issuer)) fail(`auth.${key}.${i}.issuer: the issuer ${issuer} is listed twice`);
      seen.add(issuer);
    });
  }
  const basicUsers = new Map<string, PasswordHash>();
  config.basic.users.forEach(({ username, passwordHash }, i) => {
    if (basicUsers.has(username))
      fail(`auth.basic.users.${i}.username: ${username} is listed twice`);
    try {
      basicUsers.set(username, parsePasswordHash(passwordHash));
    } catch (error) {
      fail(`auth.basic.users.${i}.passwordHash: ${(error as Error).message}`);
    }
  });
  const forwardHeaders = [...new Set(config.forwardHeaders.map((h) => h.toLowerCase()))];
  forwardHeaders.forEach((header) => {
    if (CREDENTIAL_HEADERS.includes(header)) {
      fail(`auth.forwardHeaders: ${header} carries credentials and is never forwarded`);
    }
  });
  return {
    enabled: config.enabled,
    realm: 'protes',
    clockSkewSeconds: config.clockSkewSeconds,
    issuers,
    visaIssuers,
    jwks: { ...config.jwks },
    cacheSize: config.cacheSize,
    basicUsers,
    admin: {
      ...(config.admin.claim !== undefined && { claim: config.admin.claim }),
      ...(config.admin.value !== undefined && { value: config.admin.value }),
      subjects: new Set(config.admin.subjects),
    },
    forwardHeaders,
    exposeClaims: config.exposeClaims,
  };
}

/** The admin rule: an owner id listed in `auth.admin.subjects`, or the `auth.admin` claim. */
export function isAdministrator(
  admin: AuthSettings['admin'],
  owner: string,
  claims: Readonly<Record<string, unknown>>,
): boolean {
  if (admin.subjects.has(owner)) return true;
  return admin.claim !== undefined && admin.value !== undefined
    ? claimHas(claims, admin.claim, admin.value)
    : false;
}
