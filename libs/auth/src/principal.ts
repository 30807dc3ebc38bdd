import type { Visa } from '@protes/middleware-sdk';

/**
 * Who is calling, as the API and the middleware chain see it. Built once per credential by the
 * authentication guard; never holds the credential itself.
 */
export interface Principal {
  /** What vouched for the caller: a token's `iss`, `basic` for a configured user, '' for none. */
  readonly issuer: string;
  /** The token's `sub`, the Basic user name, or `anonymous`. */
  readonly subject: string;
  /**
   * The owner id of the tasks this caller creates: `issuer|subject`, or `anonymous` while
   * authentication is off. Issuers are URLs without `|`, so two callers never share an id.
   */
  readonly owner: string;
  /** Sees and cancels every task, and may use the management API. */
  readonly admin: boolean;
  /** The token's `scope` / `scp`. */
  readonly scopes: readonly string[];
  /** The claims named in `auth.exposeClaims` that the token carries; nothing else. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * The GA4GH Passport ControlledAccessGrants of the token (`ga4gh_passport_v1`) that verified
   * against `auth.visaIssuers`; the visa JWTs themselves are not kept. Never logged.
   */
  readonly visas: readonly Visa[];
}

export const ANONYMOUS_OWNER = 'anonymous';
/** The issuer of principals that Basic authentication against `auth.basic.users` produces. */
export const BASIC_ISSUER = 'basic';

export const ownerIdOf = (issuer: string, subject: string): string => `${issuer}|${subject}`;

/** Every caller while authentication is off: one user, no administrator. */
export const ANONYMOUS: Principal = Object.freeze({
  issuer: '',
  subject: ANONYMOUS_OWNER,
  owner: ANONYMOUS_OWNER,
  admin: false,
  scopes: Object.freeze([]),
  claims: Object.freeze({}),
  visas: Object.freeze([]),
});
