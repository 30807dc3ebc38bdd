import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MiddlewareDecision } from '@protes/core';
import type { TesTask, TesTaskRequest } from '@protes/tes';
import type { JWTPayload } from 'jose';
import { startGateway, type Started } from '../../scripts/processes';
import { LocalIssuer } from '../auth/local-issuer';
import { e2eGatewayEnv, metadataOf, startSimulators, TES_PATH, waitFor } from './helpers';

/**
 * Data-use restrictions end to end: the compiled gateway (`npm run build`) with authentication on,
 * trusting a real local token issuer and a real local visa issuer (node:http servers with JWKS of
 * keys made here; a third issuer, not trusted, signs visas too), in front of two simulated TES
 * nodes, one in the EU and one in the US. Its chain: `data-use` (an EU-only rule, and a dataset
 * that takes a GA4GH Passport visa), then `round-robin`.
 */

const AUDIENCE = 'protes-data-use';
const DATASET = 'https://ega-archive.org/datasets/EGAD00001';
const EGA_INPUT = 'https://ega.example.org/EGAD00001/sample.cram';
const EU_INPUT = 's3://eu-cohort/sample.bam';
const NODES = { eu: 'eu-west', us: 'us-east' } as const;
const RULES = [
  { name: 'eu-only', data: [{ prefix: 's3://eu-cohort/' }], regions: ['eu-west'] },
  {
    name: 'ega',
    data: [{ prefix: 'https://ega.example.org/EGAD00001/' }],
    users: [{ visa: DATASET }],
  },
];

const login = new LocalIssuer();
const visas = new LocalIssuer();
const stranger = new LocalIssuer();
const sims = new Map<string, Started>();
let gateway: Started;
let dir: string;

const now = () => Math.floor(Date.now() / 1000);

/** A ControlledAccessGrants visa for DATASET, signed by `issuer`'s key `kid`. */
function visa(issuer: LocalIssuer, extra: JWTPayload = {}, kid = 'visa-1'): Promise<string> {
  return issuer.sign(kid, {
    iss: visas.url,
    sub: 'alice',
    iat: now() - 60,
    exp: now() + 3600,
    ga4gh_visa_v1: {
      type: 'ControlledAccessGrants',
      asserted: now() - 86_400,
      value: DATASET,
      source: 'https://ega-archive.org/dacs/EGAC00001',
      by: 'dac',
    },
    ...(issuer !== visas && { iss: issuer.url }),
    ...extra,
  });
}

/** A token of the login issuer for alice carrying these visas (none: no passport claim). */
const tokenWith = (passport?: string[]) =>
  login.sign(
    'login-1',
    login.claims('alice', AUDIENCE, passport ? { ga4gh_passport_v1: passport } : {}),
  );

async function call<T>(
  method: 'GET' | 'POST',
  path: string,
  token: string,
  json?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${gateway.url}${TES_PATH}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(json !== undefined && { 'content-type': 'application/json' }),
    },
    ...(json !== undefined && { body: JSON.stringify(json) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const taskReading = (...urls: string[]): TesTaskRequest => ({
  executors: [{ image: 'alpine', command: ['true'] }],
  inputs: urls.map((url, i) => ({ url, path: `/in/${i}` })),
});

/** Creates the task; resolves with it (FULL) once the gateway has placed it on a node. */
async function placed(token: string, task: TesTaskRequest): Promise<TesTask> {
  const created = await call<{ id: string }>('POST', '/tasks', token, task);
  expect(created.status).toBe(200);
  return waitFor(`task ${created.body.id} to be placed`, async () => {
    const { body } = await call<TesTask>('GET', `/tasks/${created.body.id}?view=FULL`, token);
    return metadataOf(body).protes_node ? body : undefined;
  });
}

const decisionsOf = (t: TesTask): MiddlewareDecision[] =>
  JSON.parse(metadataOf(t).protes_decisions ?? '[]') as MiddlewareDecision[];

const taskCount = async (token: string) =>
  (await call<{ tasks: unknown[] }>('GET', '/tasks?page_size=1000', token)).body.tasks.length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-data-use-'));
  for (const issuer of [login, visas, stranger]) await issuer.start();
  await login.addKey('login-1', 'ES256');
  await visas.addKey('visa-1', 'ES256');
  await stranger.addKey('visa-1', 'ES256');
  await startSimulators(Object.keys(NODES), ['--running-ms', '50'], sims);
  const nodes = Object.entries(NODES).map(([name, region]) => ({
    name,
    url: `${sims.get(name)?.url}${TES_PATH}`,
    region,
  }));
  gateway = await startGateway(
    e2eGatewayEnv(dir, nodes, {
      PROTES_AUTH__ENABLED: 'true',
      PROTES_AUTH__ISSUERS: JSON.stringify([
        { issuer: login.url, jwksUri: `${login.url}/jwks`, audience: AUDIENCE },
      ]),
      PROTES_AUTH__VISA_ISSUERS: JSON.stringify([
        { issuer: visas.url, jwksUri: `${visas.url}/jwks` },
      ]),
      PROTES_MIDDLEWARE__CHAIN: JSON.stringify([
        { name: 'data-use', settings: { rules: RULES } },
        'round-robin',
      ]),
    }),
  );
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all([...sims.values()].map((sim) => sim.stop()));
  for (const issuer of [login, visas, stranger]) await issuer.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a dataset that takes a GA4GH Passport visa', () => {
  it('is used by a caller whose token carries a valid visa for it', async () => {
    const task = await placed(await tokenWith([await visa(visas)]), taskReading(EGA_INPUT));
    expect(decisionsOf(task)[0]).toMatchObject({
      middleware: 'data-use',
      outcome: 'applied',
      reason: 'rule ega',
    });
  });

  it.each<[string, () => Promise<string[] | undefined>]>([
    ['no passport', () => Promise.resolve(undefined)],
    [
      'a visa for another dataset',
      async () => [
        await visa(visas, {
          ga4gh_visa_v1: {
            type: 'ControlledAccessGrants',
            asserted: now() - 60,
            value: `${DATASET}9`,
            source: 'https://dac',
          },
        }),
      ],
    ],
    ['an expired visa', async () => [await visa(visas, { exp: now() - 3600 })]],
    ['a visa of an issuer it does not trust', async () => [await visa(stranger)]],
    [
      'a visa naming the trusted issuer with a bad signature',
      async () => [await visa(stranger, { iss: visas.url })],
    ],
  ])(
    'is refused, 403 naming the rule, to a caller with %s; nothing is stored',
    async (_what, make) => {
      const token = await tokenWith(await make());
      const before = await taskCount(token);
      const answer = await call<{ status_code: number; msg: string }>(
        'POST',
        '/tasks',
        token,
        taskReading(EGA_INPUT),
      );
      expect(answer).toEqual({
        status: 403,
        body: {
          status_code: 403,
          msg: `rejected by data-use: rule ega: the caller may not use the data of inputs[0].url (a valid GA4GH Passport ControlledAccessGrants visa for ${DATASET} is required)`,
          errors: [expect.objectContaining({ field: 'inputs[0].url' })],
        },
      });
      expect(await taskCount(token)).toBe(before);
    },
  );
});

describe('data that may be processed only in the EU', () => {
  it('goes only to the EU node, and the decision names the rule; other tasks go anywhere', async () => {
    const token = await tokenWith();
    const confined = [];
    const free = [];
    for (let i = 0; i < 4; i++) {
      confined.push(await placed(token, taskReading('https://example.org/ref.fa', EU_INPUT)));
    }
    for (let i = 0; i < 4; i++)
      free.push(await placed(token, taskReading('https://example.org/ref.fa')));
    expect(confined.map((t) => metadataOf(t).protes_node)).toEqual(['eu', 'eu', 'eu', 'eu']);
    expect(decisionsOf(confined[0])[0]).toMatchObject({
      middleware: 'data-use',
      order: ['eu'],
      reason: 'rule eu-only: only on nodes of region eu-west',
    });
    // Round-robin spreads the others: the restriction, not the chain, kept the US node out.
    expect(new Set(free.map((t) => metadataOf(t).protes_node))).toEqual(new Set(['eu', 'us']));
    expect(decisionsOf(free[0])[0]).toMatchObject({ reason: 'no rule applies to its inputs' });
  });
});
