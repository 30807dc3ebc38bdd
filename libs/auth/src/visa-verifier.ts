import { Logger } from '@nestjs/common';
import type { Visa } from '@protes/middleware-sdk';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { AuthSettings, VisaIssuerSettings } from './auth-settings';
import { IssuerKeys } from './issuer-keys';

/** The token claim holding the caller's visas (GA4GH Passport v1.2): a list of visa JWTs. */
export const PASSPORT_CLAIM = 'ga4gh_passport_v1';
/** The visa's own claim: type, asserted, value, source, by, conditions. */
const VISA_CLAIM = 'ga4gh_visa_v1';
const CONTROLLED_ACCESS = 'ControlledAccessGrants';
/** Visas looked at per token; a passport is a handful, and each costs a signature check. */
export const MAX_VISAS = 64;

/** Why one visa is not taken; logged at debug, never answered. */
class VisaRefused extends Error {}

const refuse = (reason: string): never => {
  throw new VisaRefused(reason);
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';

/**
 * Verifies the GA4GH Passport visas a verified token carries (`ga4gh_passport_v1`), keeping the
 * ControlledAccessGrants that pass: signed by an issuer of `auth.visaIssuers` with one of its
 * algorithms (its keys fetched, cached and refreshed as any issuer's, by IssuerKeys, from its
 * configured `jwksUri`; a visa's `jku` is never followed), `exp` and `iat` within the clock skew,
 * and a `ga4gh_visa_v1` with a `value` and a `source`, `asserted` not in the future, an unexpired
 * `expires` when given, and no `conditions` (which this gateway cannot evaluate). A visa that does
 * not pass is ignored and the reason logged at debug: it never refuses the request.
 */
export class VisaVerifier {
  private readonly logger = new Logger('Auth');
  private readonly issuers = new Map<string, { settings: VisaIssuerSettings; keys: IssuerKeys }>();

  constructor(
    private readonly settings: AuthSettings,
    private readonly now: () => number = Date.now,
  ) {
    for (const issuer of settings.visaIssuers) {
      this.issuers.set(issuer.issuer, {
        settings: issuer,
        keys: new IssuerKeys(issuer, settings.jwks, now),
      });
    }
  }

  /** The visas of `payload` (a verified token) that pass, in their order. */
  async visasOf(payload: JWTPayload): Promise<Visa[]> {
    const passport = payload[PASSPORT_CLAIM];
    if (passport === undefined) return [];
    if (!Array.isArray(passport)) {
      this.logger.debug(`ignored the passport of ${payload.sub}: ${PASSPORT_CLAIM} is not a list`);
      return [];
    }
    if (passport.length > MAX_VISAS) {
      this.logger.debug(
        `ignored ${passport.length - MAX_VISAS} visa(s) of ${payload.sub} beyond the first ${MAX_VISAS}`,
      );
    }
    const results = await Promise.all(
      passport.slice(0, MAX_VISAS).map((visa) =>
        this.verify(visa).catch((error: unknown) => {
          this.logger.debug(`ignored a visa of ${payload.sub}: ${(error as Error).message}`);
          return undefined;
        }),
      ),
    );
    return results.filter((visa): visa is Visa => visa !== undefined);
  }

  private async verify(token: unknown): Promise<Visa | undefined> {
    if (typeof token !== 'string') return refuse('it is not a JWT');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return refuse('it is not a well-formed JWT');
    }
    const issuer = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
    if (!issuer) return refuse('its issuer is not in auth.visaIssuers');
    const { algorithms } = issuer.settings;
    if (!algorithms.some((alg) => alg === header.alg)) {
      return refuse('its signature algorithm (alg) is not accepted');
    }
    const skew = this.settings.clockSkewSeconds;
    const { payload } = await jwtVerify(token, await issuer.keys.keyFor(header), {
      issuer: issuer.settings.issuer,
      algorithms,
      clockTolerance: skew,
      currentDate: new Date(this.now()),
      requiredClaims: ['exp', 'iat', 'sub'],
    }).catch((error: unknown) => refuse(`it does not verify: ${(error as Error).message}`));
    const now = this.now() / 1000;
    if ((payload.iat as number) > now + skew) return refuse('it is issued in the future (iat)');
    const visa = payload[VISA_CLAIM];
    if (!isRecord(visa)) return refuse(`it has no ${VISA_CLAIM} object`);
    if (visa.type !== CONTROLLED_ACCESS) return undefined; // another kind of visa: not a grant
    const { value, source, asserted, expires, conditions } = visa;
    if (!nonEmpty(value) || !nonEmpty(source)) return refuse('it has no value or no source');
    if (typeof asserted !== 'number' || asserted > now + skew) {
      return refuse('its asserted time is missing or in the future');
    }
    if (conditions !== undefined && !(Array.isArray(conditions) && conditions.length === 0)) {
      return refuse('it has conditions, which this gateway does not evaluate');
    }
    if (expires !== undefined && (typeof expires !== 'number' || expires <= now - skew)) {
      return refuse('its expires is not a time in the future');
    }
    const expiresAt = Math.min(payload.exp as number, expires ?? Infinity);
    return { value, issuer: issuer.settings.issuer, expiresAt: expiresAt * 1000 };
  }
}
