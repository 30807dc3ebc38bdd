import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { KeyObject } from 'node:crypto';
import { invalidToken, PermissionError } from './auth-errors';
import { type AuthSettings, isAdministrator, type IssuerSettings } from './auth-settings';
import { claimHas, pickClaims, scopesOf } from './claims';
import { IssuerKeys } from './issuer-keys';
import { ownerIdOf, type Principal } from './principal';
import { VisaVerifier } from './visa-verifier';

/** A verified token: who it stands for, and until when it may be used. */
export interface VerifiedToken {
  principal: Principal;
  /** `exp`, or the first end of the principal's visas when sooner; in ms since the epoch. */
  expiresAt: number;
}

/**
 * What proTES adds to the verification jsonwebtoken does for passport-jwt: it picks the issuer a
 * token claims, refuses an algorithm that issuer does not allow before any key is looked up,
 * hands over that issuer's key, and once the signature, `iss`, `aud`, `exp` and `nbf` have passed,
 * checks what differs per issuer (its audience, scopes and claims) and makes the principal.
 */
export class JwtVerifier {
  private readonly issuers = new Map<string, { settings: IssuerSettings; keys: IssuerKeys }>();
  private readonly visas: VisaVerifier;

  constructor(private readonly settings: AuthSettings) {
    this.visas = new VisaVerifier(settings);
    for (const issuer of settings.issuers) {
      this.issuers.set(issuer.issuer, {
        settings: issuer,
        keys: new IssuerKeys(issuer, settings.jwks),
      });
    }
  }

  /** jsonwebtoken's options, the union over the issuers; per-issuer checks follow in principalOf. */
  get verifyOptions() {
    const all = this.settings.issuers;
    return {
      issuer: all.map((i) => i.issuer),
      audience: [...new Set(all.flatMap((i) => i.audiences))],
      algorithms: [...new Set(all.flatMap((i) => i.algorithms))],
      clockTolerance: this.settings.clockSkewSeconds,
    };
  }

  /** The key of the issuer the token names; the token is not trusted yet. */
  async keyFor(token: string): Promise<KeyObject> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch {
      throw invalidToken('the token is not a well-formed JWT');
    }
    const issuer = typeof payload.iss === 'string' ? this.issuers.get(payload.iss) : undefined;
    if (!issuer) throw invalidToken("the token's issuer (iss) is not one this service trusts");
    // Before any key is fetched: `none`, HS* (which would turn a public key into an HMAC secret)
    // and whatever else the issuer is not configured for.
    if (!issuer.settings.algorithms.some((alg) => alg === header.alg)) {
      throw invalidToken("the token's signature algorithm (alg) is not accepted");
    }
    return issuer.keys.keyFor(header);
  }

  /**
   * After jsonwebtoken has verified the token: the checks that depend on its issuer, then the
   * principal, with the Passport visas of the token that verify. It holds them while they last:
   * what the credential cache keeps ends with the first of them to expire.
   */
  async principalOf(payload: JWTPayload): Promise<VerifiedToken> {
    const issuer = typeof payload.iss === 'string' ? this.issuers.get(payload.iss) : undefined;
    if (!issuer) throw invalidToken("the token's issuer (iss) is not one this service trusts");
    const audiences = [payload.aud ?? []].flat();
    if (!issuer.settings.audiences.some((a) => audiences.includes(a))) {
      throw invalidToken('the token is not meant for this service (aud)');
    }
    if (typeof payload.exp !== 'number') throw invalidToken('the token has no expiry (exp)');
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw invalidToken('the token has no subject (sub)');
    }
    const scopes = scopesOf(payload);
    const missing = issuer.settings.requiredScopes.filter((s) => !scopes.includes(s));
    if (missing.length) {
      throw new PermissionError(
        `the token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`,
        'insufficient_scope',
      );
    }
    for (const [claim, value] of Object.entries(issuer.settings.requiredClaims)) {
      if (!claimHas(payload, claim, value)) {
        throw new PermissionError(`the token lacks the required claim ${claim}`);
      }
    }
    const owner = ownerIdOf(payload.iss as string, payload.sub);
    const visas = await this.visas.visasOf(payload);
    return {
      principal: {
        issuer: payload.iss as string,
        subject: payload.sub,
        owner,
        admin: isAdministrator(this.settings.admin, owner, payload),
        scopes,
        claims: pickClaims(payload, this.settings.exposeClaims),
        visas,
      },
      expiresAt: Math.min(payload.exp * 1000, ...visas.map((visa) => visa.expiresAt)),
    };
  }
}
