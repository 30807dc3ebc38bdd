import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executor, LIMIT_CASES, task } from '@protes/tes/testing/limit-cases';
import { MAX_URL_LENGTH } from '@protes/server';
import { nodesEnv, startGateway, startSimulator, type Started } from '../../scripts/processes';
import { LocalIssuer } from '../auth/local-issuer';
import {
  type Answer,
  CheckedApi,
  e2eGatewayEnv,
  expectFieldError,
  expectStatus,
  loggedErrors,
  TES_PATH,
} from '../e2e/helpers';

/**
 * What keeps one request from hurting the others, end to end: the compiled gateway (`npm run
 * build`) as real processes, one with small request limits and CORS on, one with a small rate
 * limit and CORS off, and a simulated TES node behind them.
 */

const ORIGIN = 'https://app.example.org';
const RATE_MAX = 3;
const TASKS = `${TES_PATH}/tasks`;

let dir: string;
let sim: Started;
/** Small limits, CORS for ORIGIN, no rate limit. */
let limited: Started;
/** A rate limit of RATE_MAX per minute, no CORS. */
let throttled: Started;
/** The same rate limit with authentication on, against `issuer`. */
let guarded: Started;
const issuer = new LocalIssuer();
const AUDIENCE = 'protes-hardening';
let api: CheckedApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-hardening-'));
  sim = await startSimulator({ name: 'sim' });
  const nodes = JSON.parse(
    nodesEnv([
      { name: 'sim', url: sim.url },
      // Nothing listens there: a node with connection errors, which service-info must not show.
      { name: 'dead', url: 'http://127.0.0.1:9' },
    ]),
  ) as object[];
  // One after the other: two gateways starting at once on a busy machine can take longer than a
  // start is given.
  limited = await startGateway(
    e2eGatewayEnv(join(dir, 'limited'), nodes, {
      PROTES_SERVER__BODY_LIMIT_BYTES: '65536',
      PROTES_SERVER__MAX_JSON_DEPTH: '10',
      PROTES_SERVER__CORS__ORIGINS: JSON.stringify([ORIGIN]),
      PROTES_TASKS__LIMITS__EXECUTORS: '2',
      PROTES_TASKS__LIMITS__INPUTS: '2',
      PROTES_TASKS__LIMITS__OUTPUTS: '2',
      PROTES_TASKS__LIMITS__VOLUMES: '2',
      PROTES_TASKS__LIMITS__TAGS: '2',
      PROTES_TASKS__LIMITS__ENV_ENTRIES: '2',
      PROTES_TASKS__LIMITS__COMMAND_ARGS: '2',
      PROTES_TASKS__LIMITS__STRING_LENGTH: '1024',
    }),
  );
  throttled = await startGateway(
    e2eGatewayEnv(join(dir, 'throttled'), nodes, {
      PROTES_SERVER__RATE_LIMIT__ENABLED: 'true',
      PROTES_SERVER__RATE_LIMIT__MAX: String(RATE_MAX),
      PROTES_SERVER__RATE_LIMIT__WINDOW_MS: '60000',
    }),
  );
  await issuer.start();
  await issuer.addKey('k1', 'ES256');
  guarded = await startGateway(
    e2eGatewayEnv(join(dir, 'guarded'), nodes, {
      PROTES_SERVER__RATE_LIMIT__ENABLED: 'true',
      PROTES_SERVER__RATE_LIMIT__MAX: String(RATE_MAX),
      PROTES_SERVER__RATE_LIMIT__WINDOW_MS: '60000',
      PROTES_AUTH__ENABLED: 'true',
      PROTES_AUTH__ISSUERS: JSON.stringify([
        { issuer: issuer.url, jwksUri: `${issuer.url}/jwks`, audience: AUDIENCE },
      ]),
    }),
  );
  api = new CheckedApi(limited.url);
}, 90_000);

afterAll(async () => {
  await Promise.all([limited, throttled, guarded, sim].map((p) => p?.stop()));
  await issuer.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('request limits', () => {
  const post = (body: unknown) => api.call('POST', TASKS, { json: body });

  it.each(LIMIT_CASES.map((c) => [c.field, c] as const))(
    '%s: 2 are taken, 3 refused with 400 naming the field and the limit',
    async (field, { make, unit }) => {
      expectStatus(await post(make(2)), 200, `a task with 2 ${field}`);
      const body = expectFieldError(await post(make(3)), field);
      expect(body.errors).toEqual([{ field, reason: `must not have more than 2 ${unit}` }]);
    },
  );

  it('refuses a string longer than the limit, naming where it is', async () => {
    expectStatus(await post(task({ name: 'n'.repeat(1024) })), 200, 'a name of 1024 characters');
    const body = expectFieldError(
      await post(task({ executors: [executor({ workdir: `/${'w'.repeat(1024)}` })] })),
      'executors[0].workdir',
    );
    expect(body.errors?.[0].reason).toBe('must not be longer than 1024 characters');
  });

  it.each([
    ['cpu_cores', -1],
    ['ram_gb', -0.5],
    ['disk_gb', -2],
  ])('refuses a negative resources.%s', async (field, value) => {
    expectFieldError(await post(task({ resources: { [field]: value } })), `resources.${field}`);
  });

  it('refuses JSON nested deeper than server.maxJsonDepth with 400, and a body over the size limit with 413', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const nesting = (depth: number) =>
      api.call('POST', TASKS, {
        raw: `{"executors":[{"image":"a","command":["x"]}],"z":${nested(depth - 1)}}`,
      });
    expectStatus(await nesting(10), 200, 'a body 10 levels deep');
    expect(await nesting(11)).toEqual({
      status: 400,
      body: { status_code: 400, msg: 'request body nests deeper than 10 levels' },
    });
    const big = await post(task({ description: 'd'.repeat(70_000) }));
    expect(big.status).toBe(413);
  });

  it('created only the tasks that were within the limits', async () => {
    // One per count limit at its limit, the task with the long name and the one 10 levels deep.
    expect(await api.listAll()).toHaveLength(9);
  });
});

describe('service-info', () => {
  it('names no node address or error, even with a node that refuses connections', async () => {
    const info = JSON.stringify(await api.serviceInfo());
    for (const secret of ['127.0.0.1', 'dead', 'ECONNREFUSED', ':9']) {
      expect(info).not.toContain(secret);
    }
  });
});

/** A plain fetch that returns the headers too. */
async function fetchFrom(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer & { headers: Headers }> {
  const response = await fetch(`${base}${path}`, { method, headers });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json');
  return {
    status: response.status,
    headers: response.headers,
    body: json ? JSON.parse(text) : text,
  };
}

describe('rate limit', () => {
  it('answers 429 with Retry-After and the JSON error body past the limit, per caller', async () => {
    for (let i = 0; i < RATE_MAX; i++) {
      expect((await fetchFrom(throttled.url, TASKS)).status).toBe(200);
    }
    const refused = await fetchFrom(throttled.url, TASKS);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.body).toEqual({
      status_code: 429,
      msg: expect.stringMatching(/^too many requests: retry in/),
    });
    // Another credential is another caller (auth is off here: the header only names the caller).
    const other = await fetchFrom(throttled.url, TASKS, { authorization: 'Bearer someone-else' });
    expect(other.status).toBe(200);
  });

  it('counts ever new invalid credentials against the address, a verified one apart', async () => {
    const user = {
      authorization: `Bearer ${await issuer.sign('k1', issuer.claims('user', AUDIENCE))}`,
    };
    // Its first use is verified (and counted against the address); then it names its caller.
    expect((await fetchFrom(guarded.url, TASKS, user)).status).toBe(200);
    for (let i = 1; i < RATE_MAX; i++) {
      const forged = { authorization: `Bearer forged.token.${i}` };
      expect((await fetchFrom(guarded.url, TASKS, forged)).status).toBe(401);
    }
    // A fresh invalid credential gets no fresh limit: the address's is used up.
    const refused = await fetchFrom(guarded.url, TASKS, { authorization: 'Bearer forged.again' });
    expect(refused.status).toBe(429);
    expect((await fetchFrom(guarded.url, TASKS)).status).toBe(429);
    // The verified user has a limit of its own.
    expect((await fetchFrom(guarded.url, TASKS, user)).status).toBe(200);
  });

  it('never limits the probes and the metrics scrape', async () => {
    for (const path of ['/health', '/health/live', '/metrics']) {
      for (let i = 0; i <= RATE_MAX; i++) {
        expect((await fetchFrom(throttled.url, path)).status).toBe(200);
      }
    }
  });
});

describe('security headers', () => {
  it('sends a same-origin content security policy and the usual headers on every answer', async () => {
    const answers = [
      await fetchFrom(limited.url, `${TES_PATH}/service-info`),
      await fetchFrom(limited.url, '/no/such/path'),
      await fetchFrom(limited.url, `${TASKS}/nope`),
      // Refused while routing, before any handler: a wrong method and an overlong URL.
      await fetchFrom(limited.url, `${TES_PATH}/service-info`, {}, 'DELETE'),
      await fetchFrom(limited.url, `${TASKS}?name_prefix=${'x'.repeat(MAX_URL_LENGTH)}`),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 404, 404, 405, 414]);
    for (const answer of answers) {
      const csp = answer.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toMatch(/style-src 'self'(;|$)/);
      expect(csp).not.toContain('unsafe-inline');
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
    }
  });
});

describe('CORS', () => {
  const preflight = {
    origin: ORIGIN,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization,content-type',
  };

  it('lets a configured origin call the API', async () => {
    const answer = await fetchFrom(limited.url, TASKS, preflight, 'OPTIONS');
    expect(answer.status).toBe(204);
    expect(answer.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(answer.headers.get('access-control-allow-methods')).toContain('POST');
    const get = await fetchFrom(limited.url, TASKS, { origin: ORIGIN });
    expect(get.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  it('leaves unknown paths 404 (the preflight route matches any path)', async () => {
    expect((await fetchFrom(limited.url, '/no/such/path')).status).toBe(404);
  });

  it('gives no other origin leave', async () => {
    const answer = await fetchFrom(limited.url, TASKS, { origin: 'https://evil.example' });
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('is off unless origins are configured', async () => {
    const answer = await fetchFrom(throttled.url, '/health', preflight, 'OPTIONS');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    const get = await fetchFrom(throttled.url, '/health', { origin: ORIGIN });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('afterwards', () => {
  it('the gateways logged no error', () => {
    expect(loggedErrors(limited)).toBe('');
    expect(loggedErrors(throttled)).toBe('');
  });
});
