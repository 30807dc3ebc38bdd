import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@protes/config';
import { LIMIT_CASES } from '@protes/tes/testing/limit-cases';
import { startGateway, type Started } from '../../scripts/processes';
import { LocalIssuer } from '../auth/local-issuer';
import { seededRandom } from '../../apps/tes-sim/src/sim-random';
import { type HeaderList, type RawRequest, sendRaw } from '../clients/raw-http';
import { e2eGatewayEnv, startSimulators, TES_PATH } from '../e2e/helpers';

/**
 * Throws generated malformed and oversized requests at the compiled gateway (`npm run build`),
 * authentication on against a local issuer, with a simulated TES node behind it: every one must
 * be refused with a 4xx, none may create a task, and the gateway must stay up, while a valid user
 * keeps creating and reading tasks alongside. The generator is seeded: a failure replays exactly.
 * Each request goes on its own connection, written byte for byte (raw-http), so that bad request
 * lines, methods and headers reach the server as sent.
 */

const SEED = 0x7e5f022;
const CASES = 1200;
/** Fuzz requests in flight at once. */
const PARALLEL = 6;
const AUDIENCE = 'protes-fuzz';
const TASKS = `${TES_PATH}/tasks`;
/** The gateway's defaults (tasks.limits, server.maxJsonDepth), which the oversized cases exceed. */
const {
  tasks: { limits: LIMITS },
  server: { maxJsonDepth: MAX_JSON_DEPTH },
} = loadConfig({});
const BODY_LIMIT = 2 * 1024 * 1024;

const rng = seededRandom(SEED);
const int = (min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const times = <T>(n: number, make: (i: number) => T): T[] =>
  Array.from({ length: n }, (_, i) => make(i));
const printable = (n: number) => times(n, () => String.fromCharCode(int(0x21, 0x7e))).join('');

const executor = (extra: Record<string, unknown> = {}) => ({
  image: 'alpine',
  command: ['echo', 'fuzz'],
  ...extra,
});
const validTask = (extra: Record<string, unknown> = {}) => ({
  name: 'fuzz',
  executors: [executor()],
  ...extra,
});

interface Tokens {
  user: string;
  admin: string;
  /** Tokens that must be refused (401), by what is wrong with them. */
  bad: Record<string, string>;
}
let tokens: Tokens;

interface Case {
  kind: string;
  request: RawRequest;
}

const json = (value: unknown) => JSON.stringify(value);

/** A POST of the valid user (or of `authorization`; none if '') with a JSON body. */
function post(kind: string, body: string | Buffer, authorization = tokens.user): Case {
  const headers: HeaderList = [['Content-Type', 'application/json']];
  if (authorization) headers.push(['Authorization', authorization]);
  return { kind, request: { method: 'POST', target: TASKS, headers, body } };
}

function get(kind: string, target: string, authorization: string | undefined = tokens.user): Case {
  const headers: HeaderList = authorization ? [['Authorization', authorization]] : [];
  return { kind, request: { method: 'GET', target, headers } };
}

/** Each generator makes one request that must be refused; they are taken in turn. */
const GENERATORS: (() => Case)[] = [
  // Not JSON: a valid task cut short, random bytes, the syntax JSON does not have.
  () => {
    const text = json(validTask({ tags: { a: 'b' } }));
    return post('bad JSON (truncated)', text.slice(0, int(1, text.length - 1)));
  },
  () => {
    const bytes = Buffer.from(times(int(1, 200), () => int(0, 255)));
    bytes[0] = pick([0x7b, 0x5b, 0x00, 0xff]); // `{`, `[` or bytes no JSON starts with
    return post('bad JSON (bytes)', bytes);
  },
  () =>
    post(
      'bad JSON (syntax)',
      pick([
        `{"executors":[{"image":"a","command":["x"]}],}`,
        `{'executors':[]}`,
        `{"executors":NaN}`,
        `{"executors":[{"image":"a","command":["x"]}]}}`,
        `{"__proto__":{"x":1},"executors":[{"image":"a","command":["x"]}]}`,
        `{"executors":[{"image":"a","command":["x"]}],"constructor":{"prototype":{"x":1}}}`,
        `[`,
        `"`,
      ]),
    ),
  // Nested past the depth limit, balanced or not, in arrays or objects.
  () => {
    const depth = int(MAX_JSON_DEPTH + 1, 5000);
    const nested = pick([
      `${'['.repeat(depth)}${']'.repeat(depth)}`,
      `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      '['.repeat(depth),
    ]);
    return post('deep JSON', `{"executors":[{"image":"a","command":["x"]}],"tags":${nested}}`);
  },
  // Valid JSON, wrong TES.
  () =>
    post(
      'wrong types',
      json(
        pick<Record<string, unknown>>([
          { executors: 'x' },
          { executors: [] },
          { executors: [1] },
          { executors: [{ image: 1, command: ['x'] }] },
          { executors: [{ image: 'a', command: [] }] },
          { executors: [{ image: 'a', command: 'ls' }] },
          { executors: [{ image: 'a', command: ['x'], env: { A: 1 } }] },
          validTask({ inputs: [{ url: 's3://b/x' }] }),
          validTask({ inputs: [{ path: 'relative', url: 's3://b/x' }] }),
          validTask({ inputs: {} }),
          validTask({ outputs: [{ path: '/o' }] }),
          validTask({ tags: [1] }),
          validTask({ tags: { a: 1 } }),
          validTask({ volumes: 'x' }),
          validTask({ resources: { cpu_cores: '2' } }),
          validTask({ resources: { cpu_cores: 1.5 } }),
          validTask({ resources: { cpu_cores: 2 ** 31 } }),
          validTask({ name: null }),
          { name: 'no executors' },
        ]),
      ),
    ),
  () => post('not an object', pick(['[]', '"task"', '42', 'null', 'true', ' '])),
  // One over each limit.
  () => {
    const over = pick(LIMIT_CASES);
    return post(`over ${over.limit}`, json(over.make(LIMITS[over.limit] + 1)));
  },
  () => {
    const long = 'x'.repeat(LIMITS.stringLength + int(1, 1000));
    return post(
      'over stringLength',
      json(
        pick([
          validTask({ name: long }),
          validTask({ executors: [executor({ image: long })] }),
          validTask({ executors: [executor({ command: ['echo', long] })] }),
          validTask({ tags: { [long]: 'v' } }),
          validTask({ inputs: [{ path: '/i', url: `s3://${long}` }] }),
          validTask({ executors: [executor({ env: { [long]: '1' } })] }),
        ]),
      ),
    );
  },
  () => {
    const field = pick(['cpu_cores', 'ram_gb', 'disk_gb']);
    const value = pick([-1, -int(2, 1000), -0.001, -1e308]);
    return post('negative resources', json(validTask({ resources: { [field]: value } })));
  },
  () =>
    post(
      'infinite resources',
      `{"executors":[{"image":"a","command":["x"]}],"resources":{"ram_gb":1e400}}`,
    ),
  () => {
    // Announced, not sent: the gateway answers 413 from Content-Length alone and may close at
    // once, and a client still writing megabytes would see that as a broken pipe, not an answer.
    const { kind, request } = post('over the body limit', json(validTask()).slice(0, -1));
    const length = String(BODY_LIMIT + int(1, BODY_LIMIT));
    return {
      kind,
      request: { ...request, headers: [...(request.headers ?? []), ['Content-Length', length]] },
    };
  },
  // Credentials that must not pass.
  () => {
    const [what, token] = pick(Object.entries(tokens.bad));
    return pick([
      post(`bad token (${what})`, json(validTask()), `Bearer ${token}`),
      get(`bad token (${what})`, TASKS, `Bearer ${token}`),
    ]);
  },
  () => {
    const [header, payload] = tokens.user.slice('Bearer '.length).split('.', 2);
    const signature = printable(int(10, 80)).replace(/[^A-Za-z0-9_-]/g, 'A');
    return get('bad token (tampered)', TASKS, `Bearer ${header}.${payload}.${signature}`);
  },
  () =>
    get(
      'malformed Authorization',
      TASKS,
      pick([
        'Bearer',
        'Bearer ',
        'Bearer a.b',
        'Bearer ..',
        `Bearer ${Buffer.from('{}').toString('base64url')}..`,
        `Bearer ${'a'.repeat(int(1000, 8000))}`,
        'Basic',
        'Basic %%%',
        `Basic ${Buffer.from('nocolon').toString('base64')}`,
        `Basic ${Buffer.from('nobody:wrong').toString('base64')}`,
        'Negotiate abc',
        printable(int(1, 300)),
      ]),
    ),
  () => post('no credentials', json(validTask()), ''),
  // Requests the router must refuse.
  () =>
    get(
      'bad URL',
      pick([
        `${TASKS}/%zz`,
        `${TASKS}/${'a'.repeat(int(300, 2000))}`,
        `/${'x'.repeat(int(8200, 12_000))}`,
        `${TES_PATH}/../../etc/passwd`,
        `${TASKS}/${printable(int(1, 40)).replace(/[\s%?#]/g, '')}`,
        `${TASKS}/%00`,
        // Never `/?…` or `/#…`: `/` itself is the status page (200).
        `/${printable(int(1, 60)).replace(/[\s%?#]/g, '') || 'x'}`,
        '*',
        `${TASKS}/a b`,
      ]),
    ),
  () => {
    const [method, target] = pick([
      ['PUT', TASKS],
      ['DELETE', TASKS],
      ['PATCH', `${TASKS}/x`],
      ['POST', `${TES_PATH}/service-info`],
      ['DELETE', `${TASKS}/x:cancel`],
      ['PROPFIND', TASKS],
      ['FOO', TASKS],
      ['get', TASKS],
      ['PUT', '/protes/v1/middlewares'],
      ['DELETE', '/protes/v1/middlewares'],
    ]);
    const headers: HeaderList = [
      ['Authorization', tokens.user],
      ['Content-Type', 'application/json'],
    ];
    return { kind: 'bad method', request: { method, target, headers, body: json(['random']) } };
  },
  () => {
    const query = pick([
      'page_size=-1',
      'page_size=abc',
      'page_size=1.5',
      `page_size=${int(3000, 10 ** 9)}`,
      `page_token=${encodeURIComponent(printable(int(1, 100)))}`,
      'view=BOGUS',
      'state=NOPE',
      `name_prefix=${'n'.repeat(9000)}`,
    ]);
    return get('bad query', `${TASKS}?${query}`);
  },
  () => {
    const headers: HeaderList = pick([
      [['X-Junk', 'a'.repeat(int(17_000, 40_000))]],
      times(int(200, 400), (i): [string, string] => [`X-H${i}`, 'v'.repeat(100)]),
    ]);
    return { kind: 'huge headers', request: { method: 'GET', target: TASKS, headers } };
  },
];

let dir: string;
let gateway: Started;
const sims = new Map<string, Started>();

async function call(request: RawRequest): Promise<{ status: number; body: string }> {
  return sendRaw(gateway.url, request, 30_000);
}

/** Every task id the administrator sees. */
async function allTaskIds(): Promise<string[]> {
  const ids: string[] = [];
  let token = '';
  for (;;) {
    const answer = await fetch(
      `${gateway.url}${TASKS}?page_size=1000${token && `&page_token=${token}`}`,
      { headers: { authorization: tokens.admin } },
    );
    const page = (await answer.json()) as { tasks: { id: string }[]; next_page_token?: string };
    ids.push(...page.tasks.map((t) => t.id));
    if (!page.next_page_token) return ids.sort();
    token = encodeURIComponent(page.next_page_token);
  }
}

const issuer = new LocalIssuer();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-fuzz-'));
  await issuer.start();
  await issuer.addKey('rs-1', 'RS256');
  await issuer.addKey('aside', 'RS256', false);
  const claims = (sub: string, extra = {}) => issuer.claims(sub, AUDIENCE, extra);
  const now = Math.floor(Date.now() / 1000);
  tokens = {
    user: `Bearer ${await issuer.sign('rs-1', claims('valid-user'))}`,
    admin: `Bearer ${await issuer.sign('rs-1', claims('root', { groups: ['protes-admin'] }))}`,
    bad: {
      expired: await issuer.sign('rs-1', claims('u', { exp: now - 3600, iat: now - 7200 })),
      'not yet valid': await issuer.sign('rs-1', claims('u', { nbf: now + 3600 })),
      'wrong issuer': await issuer.sign('rs-1', claims('u', { iss: 'https://evil.example' })),
      'wrong audience': await issuer.sign('rs-1', issuer.claims('u', 'someone-else')),
      'alg none': issuer.unsigned(claims('u'), 'rs-1'),
      'HS256 with the public key': await issuer.hmacWithPublicKey('rs-1', claims('u')),
      'foreign signature': await issuer.withForeignSignature('rs-1', 'aside', claims('u')),
      'unknown kid': await issuer.sign('aside', claims('u')),
    },
  };
  await startSimulators(['fuzz-node'], [], sims);
  const node = sims.get('fuzz-node');
  gateway = await startGateway(
    e2eGatewayEnv(dir, [{ name: 'fuzz-node', url: `${node?.url}${TES_PATH}` }], {
      PROTES_SERVER__BODY_LIMIT_BYTES: String(BODY_LIMIT),
      PROTES_AUTH__ENABLED: 'true',
      PROTES_AUTH__ISSUERS: json([
        { issuer: issuer.url, jwksUri: `${issuer.url}/jwks`, audience: AUDIENCE },
      ]),
      PROTES_AUTH__ADMIN__CLAIM: 'groups',
      PROTES_AUTH__ADMIN__VALUE: 'protes-admin',
    }),
  );
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all([...sims.values()].map((s) => s.stop()));
  await issuer.stop();
  rmSync(dir, { recursive: true, force: true });
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

it(`refuses ${CASES} malformed and oversized requests with 4xx, creating nothing, while valid requests go on`, async () => {
  const before = await allTaskIds();

  // A valid user creating and reading tasks, one after the other, until the fuzzing ends.
  const created: string[] = [];
  const latencies: number[] = [];
  const validFailures: string[] = [];
  let fuzzing = true;
  const validStream = (async () => {
    const headers = { authorization: tokens.user, 'content-type': 'application/json' };
    while (fuzzing) {
      const started = performance.now();
      const made = await fetch(`${gateway.url}${TASKS}`, {
        method: 'POST',
        headers,
        body: json(validTask({ name: `valid-${created.length}` })),
      });
      const { id } = (await made.json()) as { id?: string };
      if (made.status !== 200 || !id) validFailures.push(`POST → ${made.status}`);
      else {
        created.push(id);
        const read = await fetch(`${gateway.url}${TASKS}/${id}`, { headers });
        await read.arrayBuffer();
        if (read.status !== 200) validFailures.push(`GET ${id} → ${read.status}`);
      }
      latencies.push(performance.now() - started);
    }
  })();

  // Made as they are sent (some are megabytes), in one order whatever the timing: the seed
  // alone decides them.
  const wrong: string[] = [];
  const byKind = new Map<string, Map<number, number>>();
  let sent = 0;
  await Promise.all(
    times(PARALLEL, async () => {
      while (sent < CASES) {
        const { kind, request } = GENERATORS[sent++ % GENERATORS.length]();
        try {
          const { status, body } = await call(request);
          const statuses = byKind.get(kind) ?? new Map<number, number>();
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          byKind.set(kind, statuses);
          if (status < 400 || status >= 500) {
            wrong.push(
              `${kind}: ${request.method} ${request.target.slice(0, 80)} → ${status} ${body.slice(0, 200)}`,
            );
          }
        } catch (error) {
          wrong.push(
            `${kind}: ${request.method} ${request.target.slice(0, 80)} → ${(error as Error).message.split('\n')[0]}`,
          );
        }
      }
    }),
  );
  fuzzing = false;
  await validStream;

  const sorted = [...latencies].sort((a, b) => a - b);
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const summary = [...byKind].map(
    ([kind, statuses]) => `  ${kind}: ${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}`,
  );
  process.stdout.write(
    `fuzz (seed ${SEED}): ${sent} requests\n${summary.join('\n')}\n` +
      `valid stream meanwhile: ${latencies.length} POST+GET pairs, p50 ${ms(percentile(sorted, 50))}, ` +
      `p95 ${ms(percentile(sorted, 95))}, max ${ms(sorted.at(-1) ?? 0)}\n`,
  );

  expect(wrong).toEqual([]);
  expect(validFailures).toEqual([]);
  expect(created.length).toBeGreaterThan(0);

  // Alive, and the store holds exactly what it held plus the valid user's tasks.
  expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
  expect(await allTaskIds()).toEqual([...before, ...created].sort());
}, 600_000);
