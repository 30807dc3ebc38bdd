import { loadConfig } from '@protes/config';
import type { JWTPayload } from 'jose';
import { LocalIssuer } from '../../../test/auth/local-issuer';
import { type AuthSettings, authSettings } from './auth-settings';
import { JwtVerifier } from './jwt-verifier';
import { MAX_VISAS, PASSPORT_CLAIM, VisaVerifier } from './visa-verifier';

/**
 * The visa checks against real visa issuers: node:http servers with a JWKS of keys made here
 * (test/auth/local-issuer.ts), one trusted by the configuration and one not.
 */

const DATASET = 'https://ega-archive.org/datasets/EGAD00001';
const trusted = new LocalIssuer();
const stranger = new LocalIssuer();
const now = () => Math.floor(Date.now() / 1000);

/** The claims of a ControlledAccessGrants visa of `issuer` for DATASET; `visa` changes the object. */
function grant(issuer: LocalIssuer, extra: JWTPayload = {}, visa: Record<string, unknown> = {}) {
  return {
    iss: issuer.url,
    sub: 'alice@visas',
    iat: now() - 60,
    exp: now() + 3600,
    [`ga4gh_visa_v1`]: {
      type: 'ControlledAccessGrants',
      asserted: now() - 86_400,
      value: DATASET,
      source: 'https://ega-archive.org/dacs/EGAC00001',
      by: 'dac',
      ...visa,
    },
    ...extra,
  };
}

let settings: AuthSettings;
let verifier: VisaVerifier;

beforeAll(async () => {
  await trusted.start();
  await trusted.addKey('visa-1', 'ES256');
  await trusted.addKey('unpublished', 'ES256', false);
  await stranger.start();
  await stranger.addKey('visa-1', 'ES256');
  const config = loadConfig({
    PROTES_AUTH__ISSUERS: JSON.stringify([{ issuer: 'https://login.example.org', audience: 'x' }]),
    PROTES_AUTH__VISA_ISSUERS: JSON.stringify([
      { issuer: trusted.url, jwksUri: `${trusted.url}/jwks`, algorithms: ['ES256'] },
    ]),
    PROTES_AUTH__CLOCK_SKEW_SECONDS: '5',
  });
  settings = authSettings(config.auth);
  verifier = new VisaVerifier(settings);
});

afterAll(async () => {
  await trusted.stop();
  await stranger.stop();
});

const visasOf = (passport: unknown) =>
  verifier.visasOf({ sub: 'alice', [PASSPORT_CLAIM]: passport });

describe('VisaVerifier', () => {
  it('takes a valid ControlledAccessGrants visa: its dataset, issuer and expiry', async () => {
    const claims = grant(trusted);
    expect(await visasOf([await trusted.sign('visa-1', claims)])).toEqual([
      { value: DATASET, issuer: trusted.url, expiresAt: claims.exp * 1000 },
    ]);
  });

  it('ends a grant at its `expires` when that comes before the JWT’s exp', async () => {
    const expires = now() + 600;
    const visa = await trusted.sign('visa-1', grant(trusted, {}, { expires }));
    expect((await visasOf([visa]))[0].expiresAt).toBe(expires * 1000);
  });

  it('keeps the good visas of a passport and drops the others', async () => {
    const good = await trusted.sign('visa-1', grant(trusted));
    const other = await trusted.sign('visa-1', grant(trusted, {}, { value: `${DATASET}9` }));
    const expired = await trusted.sign('visa-1', grant(trusted, { exp: now() - 60 }));
    expect((await visasOf([expired, good, 'junk', other])).map((v) => v.value)).toEqual([
      DATASET,
      `${DATASET}9`,
    ]);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['expired (exp)', () => trusted.sign('visa-1', grant(trusted, { exp: now() - 60 }))],
    [
      'issued in the future (iat)',
      () => trusted.sign('visa-1', grant(trusted, { iat: now() + 600 })),
    ],
    ['without iat', () => trusted.sign('visa-1', grant(trusted, { iat: undefined }))],
    ['of an untrusted issuer', () => stranger.sign('visa-1', grant(stranger))],
    ['claiming a trusted issuer, signed by another', () => stranger.sign('visa-1', grant(trusted))],
    ['signed with a key not in the JWKS', () => trusted.sign('unpublished', grant(trusted))],
    [
      'with a forged signature',
      () => trusted.withForeignSignature('visa-1', 'unpublished', grant(trusted)),
    ],
    ['unsigned (alg none)', () => Promise.resolve(trusted.unsigned(grant(trusted), 'visa-1'))],
    ['HS256 with the public key', () => trusted.hmacWithPublicKey('visa-1', grant(trusted))],
    [
      'of another type',
      () => trusted.sign('visa-1', grant(trusted, {}, { type: 'AffiliationAndRole' })),
    ],
    ['without a value', () => trusted.sign('visa-1', grant(trusted, {}, { value: '' }))],
    ['without a source', () => trusted.sign('visa-1', grant(trusted, {}, { source: undefined }))],
    [
      'asserted in the future',
      () => trusted.sign('visa-1', grant(trusted, {}, { asserted: now() + 600 })),
    ],
    [
      'expired (expires)',
      () => trusted.sign('visa-1', grant(trusted, {}, { expires: now() - 60 })),
    ],
    [
      'with conditions',
      () =>
        trusted.sign(
          'visa-1',
          grant(trusted, {}, { conditions: [[{ type: 'AffiliationAndRole' }]] }),
        ),
    ],
    ['without a visa object', () => trusted.sign('visa-1', grant(trusted, { ga4gh_visa_v1: 'x' }))],
    ['not a string', () => Promise.resolve({ value: DATASET })],
  ])('ignores a visa %s', async (_what, make) => {
    expect(await visasOf([await make()])).toEqual([]);
  });

  it('takes nothing from a passport that is not a list, or from a token without one', async () => {
    expect(await visasOf(await trusted.sign('visa-1', grant(trusted)))).toEqual([]);
    expect(await verifier.visasOf({ sub: 'alice' })).toEqual([]);
  });

  it(`looks at the first ${MAX_VISAS} visas of a passport only`, async () => {
    const good = await trusted.sign('visa-1', grant(trusted));
    const passport = [...Array<string>(MAX_VISAS).fill('junk'), good];
    expect(await visasOf(passport)).toEqual([]);
    expect(await visasOf(passport.slice(1))).toHaveLength(1);
  });
});

describe('JwtVerifier with visas', () => {
  it('puts the verified grants on the principal, which lasts no longer than the first of them', async () => {
    const visaExp = now() + 600;
    const tokenExp = now() + 3600;
    const { principal, expiresAt } = await new JwtVerifier(settings).principalOf({
      iss: 'https://login.example.org',
      sub: 'alice',
      aud: 'x',
      exp: tokenExp,
      [PASSPORT_CLAIM]: [
        await trusted.sign('visa-1', grant(trusted, { exp: visaExp })),
        await stranger.sign('visa-1', grant(stranger, { exp: now() + 60 })),
      ],
    });
    expect(principal.visas).toEqual([
      { value: DATASET, issuer: trusted.url, expiresAt: visaExp * 1000 },
    ]);
    expect(expiresAt).toBe(visaExp * 1000);
  });

  it('keeps the token’s expiry, and no visas, for a token without a passport', async () => {
    const exp = now() + 3600;
    const verified = await new JwtVerifier(settings).principalOf({
      iss: 'https://login.example.org',
      sub: 'alice',
      aud: 'x',
      exp,
    });
    expect(verified).toMatchObject({ principal: { visas: [] }, expiresAt: exp * 1000 });
  });
});
