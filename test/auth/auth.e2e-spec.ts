import { hashPassword } from '@protes/auth';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { GATEWAY_MAIN, GATEWAY_READY } from '../../scripts/processes';
import { PyTes } from '../clients/replay';
import { LocalIssuer } from './local-issuer';

interface Gateway {
  url: string;
  /** Everything it wrote so far, stdout and stderr, from its first line. */
  output: () => string;
  stop: () => Promise<void>;
}

/** The compiled gateway with these PROTES_* variables, its whole output kept. */
function launch(env: NodeJS.ProcessEnv): Promise<Gateway> {
  const child = spawn(process.execPath, [GATEWAY_MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the gateway did not start:\n${output}`));
    }, 20_000);
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = GATEWAY_READY.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve({ url: ready[1], output: () => output, stop });
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited with ${code}:\n${output}`));
    });
  });
}

/**
 * Authentication and authorization end to end: the compiled gateway (`npm run build`) as a real
 * process, trusting two real local issuers (node:http servers with a JWKS of keys made by the
 * test), plus one Basic user. Every answer's body and everything the gateway logs are kept, and
 * the last tests check that no credential ever shows in them.
 */

const AUDIENCE = 'protes-test';
const BASIC_USER = 'carol';
const BASIC_PASSWORD = 'carol-correct-horse';
const TASK = { executors: [{ image: 'alpine', command: ['true'] }] };
const TES = '/ga4gh/tes/v1';
/** The issuers' key cool-down: an unknown key id makes one fetch at most per this. */
const COOLDOWN_MS = 1000;

let dir: string;
let gateway: Gateway;
/** Keys listed in its JWKS (rs-1, es-1), found by jwksUri. */
const issuer = new LocalIssuer();
/** Found by OpenID discovery; its tokens need the scope `tes`. */
const scoped = new LocalIssuer();
/** Every body the gateway answered. */
const bodies: string[] = [];
/** Every credential sent: none may show in a log line or an answer. */
const secrets = new Set<string>([BASIC_PASSWORD, 'wrong-password']);

interface Answer {
  status: number;
  headers: Headers;
  body: { status_code?: number; msg?: string; id?: string; tasks?: { id: string }[] };
}

async function call(
  method: string,
  path: string,
  authorization?: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<Answer> {
  // The credential itself (the scheme and the short malformed samples are no secret).
  const credential = /^\S+\s+(\S{12,})$/.exec(authorization ?? '')?.[1];
  if (credential) secrets.add(credential);
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: {
      ...extraHeaders,
      ...(authorization !== undefined && { authorization }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  bodies.push(text);
  const json = response.headers.get('content-type')?.includes('json') && text;
  return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) : {} };
}

const bearer = (token: string) => `Bearer ${token}`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A token of the main issuer for `sub`, RS256 unless told. */
const tokenFor = (sub: string, extra = {}, kid = 'rs-1') =>
  issuer.sign(kid, issuer.claims(sub, AUDIENCE, extra));

function expectRefused(answer: Answer, status: number, msg: RegExp): void {
  expect({ status: answer.status, body: answer.body }).toEqual({
    status: status,
    body: { status_code: status, msg: expect.stringMatching(msg) },
  });
}

/** 401 with RFC 6750's challenge naming the error, and the Basic challenge beside it. */
function expectInvalidToken(answer: Answer, msg: RegExp): void {
  expectRefused(answer, 401, msg);
  const challenge = answer.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(
    /^Bearer realm="protes", error="invalid_token", error_description="[^"]+"/,
  );
  expect(challenge).toContain('Basic realm="protes"');
}

/**
 * A middleware plugin (loaded by `middleware.modules`) that refuses every task, saying in the
 * refusal what it was told of the caller. Written as CommonJS at run time, requiring Nest by path.
 */
function writeCallerEcho(into: string): string {
  const path = join(into, 'caller-echo.plugin.js');
  writeFileSync(
    path,
    `'use strict';
const { Injectable, Module } = require(${JSON.stringify(require.resolve('@nestjs/common'))});
class CallerEcho {
  constructor() { this.name = 'caller-echo'; }
  async handle(context) {
    const refusal = new Error(JSON.stringify(context.caller));
    refusal.name = 'MiddlewareRejection';
    refusal.status = 422;
    throw refusal;
  }
}
Injectable()(CallerEcho);
class CallerEchoModule {}
Module({ providers: [CallerEcho] })(CallerEchoModule);
module.exports = { ProtesMiddlewareModule: CallerEchoModule };
`,
  );
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-auth-'));
  await issuer.start();
  await issuer.addKey('rs-1', 'RS256');
  await issuer.addKey('es-1', 'ES256');
  await scoped.start();
  await scoped.addKey('scoped-1', 'ES256');
  const passwordHash = await hashPassword(BASIC_PASSWORD, { n: 2 ** 14, r: 8, p: 1 });
  gateway = await launch({
    PROTES_CONFIG: '',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
    PROTES_NODES: '[]',
    PROTES_LOG__LEVEL: 'debug',
    PROTES_AUTH__ENABLED: 'true',
    PROTES_AUTH__CLOCK_SKEW_SECONDS: '5',
    PROTES_AUTH__JWKS__COOLDOWN_MS: String(COOLDOWN_MS),
    PROTES_AUTH__ISSUERS: JSON.stringify([
      { issuer: issuer.url, jwksUri: `${issuer.url}/jwks`, audience: AUDIENCE },
      { issuer: scoped.url, audience: ['other', AUDIENCE], requiredScopes: ['tes'] },
    ]),
    PROTES_AUTH__BASIC__USERS: JSON.stringify([{ username: BASIC_USER, passwordHash }]),
    PROTES_AUTH__ADMIN__CLAIM: 'groups',
    PROTES_AUTH__ADMIN__VALUE: 'protes-admin',
    PROTES_AUTH__FORWARD_HEADERS: '["X-Request-Id"]',
    PROTES_AUTH__EXPOSE_CLAIMS: '["groups"]',
    PROTES_MIDDLEWARE__MODULES: JSON.stringify([writeCallerEcho(dir)]),
  });
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await issuer.stop();
  await scoped.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('what needs no credentials', () => {
  it.each([
    '/health/live',
    '/health',
    '/metrics',
    `${TES}/service-info`,
    '/v1/service-info',
    `${TES}/openapi.json`,
    '/docs',
    '/docs/json',
    '/',
    '/status-page/status.js',
  ])('%s answers without credentials', async (path) => {
    expect((await call('GET', path)).status).toBe(200);
  });

  it.each([
    ['GET', `${TES}/tasks`],
    ['GET', '/v1/tasks'],
    ['POST', `${TES}/tasks`],
    ['GET', `${TES}/tasks/01anything`],
    ['POST', `${TES}/tasks/01anything:cancel`],
    ['GET', '/protes/v1/nodes'],
    ['GET', '/protes/v1/middlewares'],
  ])('%s %s needs them: 401 with both challenges and no error code', async (method, path) => {
    const answer = await call(method, path, undefined, method === 'POST' ? TASK : undefined);
    expectRefused(answer, 401, /credentials are required/);
    const challenge = answer.headers.get('www-authenticate');
    expect(challenge).toBe('Bearer realm="protes", Basic realm="protes", charset="UTF-8"');
  });
});

describe('bearer tokens', () => {
  it('accepts a valid RS256 and a valid ES256 token', async () => {
    expect((await call('GET', `${TES}/tasks`, bearer(await tokenFor('alice')))).status).toBe(200);
    const es = await tokenFor('alice', {}, 'es-1');
    expect((await call('GET', `${TES}/tasks`, bearer(es))).status).toBe(200);
  });

  it('accepts a token that expired within the clock skew, refuses one beyond it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const justExpired = await tokenFor('alice', { exp: now - 2 });
    expect((await call('GET', `${TES}/tasks`, bearer(justExpired))).status).toBe(200);
    const expired = await tokenFor('alice', { exp: now - 60 });
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(expired)), /expired/);
  });

  it('refuses a token that is not valid yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    const early = await tokenFor('alice', { nbf: now + 120 });
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(early)), /not valid yet \(nbf\)/);
  });

  it('refuses a token of an issuer it does not trust', async () => {
    const token = await issuer.sign(
      'rs-1',
      issuer.claims('alice', AUDIENCE, { iss: 'https://elsewhere.example.org' }),
    );
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(token)), /issuer \(iss\)/);
  });

  it('refuses a token meant for another service', async () => {
    const token = await issuer.sign('rs-1', issuer.claims('alice', 'someone-else'));
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(token)), /\(aud\)/);
  });

  it('refuses a token of one issuer with the audience only another issuer is configured for', async () => {
    const token = await issuer.sign('rs-1', issuer.claims('alice', 'other'));
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(token)), /\(aud\)/);
  });

  it('refuses a bad signature', async () => {
    await issuer.addKey('rs-aside', 'RS256', false);
    const forged = await issuer.withForeignSignature(
      'rs-1',
      'rs-aside',
      issuer.claims('mallory', AUDIENCE),
    );
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(forged)), /signature/);
  });

  it('refuses alg none, and HS256 keyed with the public key', async () => {
    const none = issuer.unsigned(issuer.claims('mallory', AUDIENCE), 'rs-1');
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(none)), /algorithm \(alg\)/);
    const hmac = await issuer.hmacWithPublicKey('rs-1', issuer.claims('mallory', AUDIENCE));
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(hmac)), /algorithm \(alg\)/);
  });

  it('refuses a token without expiry or without subject, and one that is no JWT', async () => {
    const noExp = await issuer.sign('rs-1', {
      ...issuer.claims('alice', AUDIENCE),
      exp: undefined,
    });
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(noExp)), /no expiry/);
    const noSub = await issuer.sign('rs-1', { ...issuer.claims('x', AUDIENCE), sub: undefined });
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(noSub)), /no subject/);
    expectInvalidToken(
      await call('GET', `${TES}/tasks`, bearer('abc.def')),
      /not a well-formed JWT/,
    );
  });

  it('fetches the keys again once for an unknown key id, not on every request, then refuses', async () => {
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
    await issuer.addKey('ghost', 'RS256', false);
    const token = await tokenFor('alice', {}, 'ghost');
    const before = issuer.jwksFetches;
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(token)), /\(kid\)/);
    expect(issuer.jwksFetches).toBe(before + 1);
    for (let i = 0; i < 5; i++) {
      expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(token)), /\(kid\)/);
    }
    expect(issuer.jwksFetches).toBe(before + 1);
  });

  it('takes a new key the issuer publishes, without a restart (rotation)', async () => {
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
    await issuer.addKey('rs-2', 'RS256');
    const before = issuer.jwksFetches;
    const token = await tokenFor('alice', {}, 'rs-2');
    expect((await call('GET', `${TES}/tasks`, bearer(token))).status).toBe(200);
    expect(issuer.jwksFetches).toBe(before + 1);
    // The old key still verifies, from the keys now cached.
    expect((await call('GET', `${TES}/tasks`, bearer(await tokenFor('alice')))).status).toBe(200);
    expect(issuer.jwksFetches).toBe(before + 1);
  });

  it('verifies a token once, then answers its client from the cache until it expires', async () => {
    await issuer.addKey('rs-short', 'RS256');
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
    const hot = await tokenFor('polling-client', {}, 'rs-short');
    expect((await call('GET', `${TES}/tasks`, bearer(hot))).status).toBe(200);
    // The key is withdrawn and the gateway learns it (an unknown kid makes it fetch the keys).
    issuer.unpublish('rs-short');
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
    const before = issuer.jwksFetches;
    const unknown = await tokenFor('x', {}, 'ghost');
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(unknown)), /\(kid\)/);
    expect(issuer.jwksFetches).toBe(before + 1);
    // A new token of the withdrawn key is checked, and refused; the one verified before is not
    // checked again while it is valid.
    const fresh = await tokenFor('polling-client', { jti: 'another' }, 'rs-short');
    expectInvalidToken(await call('GET', `${TES}/tasks`, bearer(fresh)), /\(kid\)/);
    for (let i = 0; i < 3; i++) {
      expect((await call('GET', `${TES}/tasks`, bearer(hot))).status).toBe(200);
    }
  });

  it('finds an issuer by OpenID discovery and holds its tokens to the required scope', async () => {
    const claims = (extra = {}) => scoped.claims('dana', AUDIENCE, extra);
    const without = await scoped.sign('scoped-1', claims({ scope: 'openid profile' }));
    const answer = await call('GET', `${TES}/tasks`, bearer(without));
    expectRefused(answer, 403, /lacks the scope tes/);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    const withScope = await scoped.sign('scoped-1', claims({ scope: 'openid tes' }));
    expect((await call('GET', `${TES}/tasks`, bearer(withScope))).status).toBe(200);
    const withScp = await scoped.sign('scoped-1', claims({ scp: ['tes'] }));
    expect((await call('GET', `${TES}/tasks`, bearer(withScp))).status).toBe(200);
    expect(scoped.discoveryFetches).toBe(1);
  });
});

describe('the Authorization header', () => {
  it.each([
    ['Bearer with no token', 'Bearer'],
    ['Bearer with two words', 'Bearer abc def'],
    ['Basic that is not base64', 'Basic !!!'],
    ['Basic without a colon', `Basic ${Buffer.from('carol').toString('base64')}`],
  ])('malformed (%s): 400 invalid_request', async (_case, header) => {
    const answer = await call('GET', `${TES}/tasks`, header);
    expectRefused(answer, 400, /malformed/);
  });

  it('of a scheme it does not take: 401 with the challenges', async () => {
    const answer = await call('GET', `${TES}/tasks`, 'Digest username="carol"');
    expectRefused(answer, 401, /scheme is not one this service takes/);
    expect(answer.headers.get('www-authenticate')).toContain('Bearer realm="protes"');
  });
});

describe('Basic authentication', () => {
  it('accepts a configured user with the right password', async () => {
    const answer = await call('GET', `${TES}/tasks`, basic(BASIC_USER, BASIC_PASSWORD));
    expect(answer.status).toBe(200);
  });

  it.each([
    ['a wrong password', BASIC_USER, 'wrong-password'],
    ['an unknown user', 'nobody', BASIC_PASSWORD],
  ])('refuses %s with 401 and the same message', async (_case, user, password) => {
    const answer = await call('GET', `${TES}/tasks`, basic(user, password));
    expectRefused(answer, 401, /^wrong user name or password$/);
    expect(answer.headers.get('www-authenticate')).toContain('Basic realm="protes"');
  });

  it('serves py-tes configured with a token and a user: its Basic header wins', async () => {
    const client = new PyTes(gateway.url, {
      token: await tokenFor('someone-else'),
      user: BASIC_USER,
      password: BASIC_PASSWORD,
    });
    const created = JSON.parse(
      (await client.send('POST', ['tasks'], { body: JSON.stringify(TASK) })).body,
    ) as {
      id: string;
    };
    // The task is carol's (Basic), not the token's subject's.
    expect(
      (await call('GET', `${TES}/tasks/${created.id}`, basic(BASIC_USER, BASIC_PASSWORD))).status,
    ).toBe(200);
    const asTokenSubject = await call(
      'GET',
      `${TES}/tasks/${created.id}`,
      bearer(await tokenFor('someone-else')),
    );
    expect(asTokenSubject.status).toBe(404);
  });
});

describe('who sees which task', () => {
  let alice: string;
  let bob: string;
  let admin: string;
  let alicesTask: string;
  let bobsTask: string;

  beforeAll(async () => {
    alice = bearer(await tokenFor('alice'));
    bob = bearer(await tokenFor('bob', {}, 'es-1'));
    admin = bearer(await tokenFor('root', { groups: ['staff', 'protes-admin'] }));
    alicesTask =
      (await call('POST', `${TES}/tasks`, alice, { ...TASK, name: 'alice-1' })).body.id ?? '';
    bobsTask = (await call('POST', `${TES}/tasks`, bob, { ...TASK, name: 'bob-1' })).body.id ?? '';
    expect(alicesTask).not.toBe('');
    expect(bobsTask).not.toBe('');
  });

  const listed = async (who: string) =>
    ((await call('GET', `${TES}/tasks?page_size=2048`, who)).body.tasks ?? []).map((t) => t.id);

  it('each user gets and lists their own tasks', async () => {
    expect((await call('GET', `${TES}/tasks/${alicesTask}`, alice)).status).toBe(200);
    expect(await listed(alice)).toContain(alicesTask);
    expect(await listed(alice)).not.toContain(bobsTask);
    expect(await listed(bob)).toEqual([bobsTask]);
  });

  it("another's task is unknown (404) to get and cancel, and missing from the list", async () => {
    expectRefused(await call('GET', `${TES}/tasks/${alicesTask}`, bob), 404, /not found/);
    expectRefused(await call('GET', `/v1/tasks/${alicesTask}?view=FULL`, bob), 404, /not found/);
    expectRefused(await call('POST', `${TES}/tasks/${alicesTask}:cancel`, bob), 404, /not found/);
    expectRefused(await call('POST', `${TES}/tasks/${bobsTask}:cancel`, alice), 404, /not found/);
    expect(await listed(bob)).not.toContain(alicesTask);
  });

  it('the same subject of another issuer is another user', async () => {
    const otherAlice = bearer(
      await scoped.sign('scoped-1', scoped.claims('alice', AUDIENCE, { scope: 'tes' })),
    );
    expect((await call('GET', `${TES}/tasks/${alicesTask}`, otherAlice)).status).toBe(404);
  });

  it('an administrator sees, lists and cancels everyone’s tasks', async () => {
    expect((await call('GET', `${TES}/tasks/${alicesTask}`, admin)).status).toBe(200);
    expect((await call('GET', `${TES}/tasks/${bobsTask}`, admin)).status).toBe(200);
    expect(await listed(admin)).toEqual(expect.arrayContaining([alicesTask, bobsTask]));
    expect((await call('POST', `${TES}/tasks/${bobsTask}:cancel`, admin)).status).toBe(200);
    expect((await call('POST', `${TES}/tasks/${alicesTask}:cancel`, alice)).status).toBe(200);
  });

  it('only an administrator may use the management API: others get 403', async () => {
    for (const path of ['/protes/v1/middlewares', '/protes/v1/nodes']) {
      expectRefused(await call('GET', path, alice), 403, /only administrators/);
      expectRefused(
        await call('GET', path, basic(BASIC_USER, BASIC_PASSWORD)),
        403,
        /only administrators/,
      );
      expect((await call('GET', path, admin)).status).toBe(200);
    }
    expectRefused(await call('DELETE', '/protes/v1/middlewares', bob), 403, /only administrators/);
    expectRefused(
      await call('PUT', '/protes/v1/middlewares', bob, { chain: ['random'] }),
      403,
      /only administrators/,
    );
  });
});

describe('what the middleware chain sees of the caller', () => {
  it('its owner id, the allow-listed headers and claims, its visas, and nothing else', async () => {
    const admin = bearer(await tokenFor('root', { groups: ['protes-admin'], email: 'r@x' }));
    const alice = await tokenFor('alice', { groups: ['lab-1'], email: 'alice@example.org' });
    expect(
      (await call('PUT', '/protes/v1/middlewares', admin, { chain: ['caller-echo'] })).status,
    ).toBe(200);
    try {
      const answer = await call('POST', `${TES}/tasks`, bearer(alice), TASK, {
        'x-request-id': 'req-1',
        'user-agent': 'curl/8',
        cookie: 'session=abc',
      });
      expect(answer.status).toBe(422);
      const seen: unknown = JSON.parse(
        (answer.body.msg ?? '').replace(/^rejected by caller-echo: /, ''),
      );
      expect(seen).toEqual({
        subject: `${issuer.url}|alice`,
        headers: { 'x-request-id': 'req-1' },
        claims: { groups: ['lab-1'] },
        visas: [],
      });
    } finally {
      expect((await call('DELETE', '/protes/v1/middlewares', admin)).status).toBe(200);
    }
  });
});

describe('credentials stay secret', () => {
  it('shows no credential in any answer', () => {
    expect(secrets.size).toBeGreaterThan(10);
    const leaks = [...secrets].filter((secret) => bodies.some((body) => body.includes(secret)));
    expect(leaks).toEqual([]);
  });

  it('writes no credential to its logs, while it logs why it refused', () => {
    const logs = gateway.output();
    expect(logs).toMatch(/401 TasksController\.list: the token has expired/);
    const leaks = [...secrets].filter((secret) => logs.includes(secret));
    expect(leaks).toEqual([]);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT at all
  });
});

describe('start-up', () => {
  it('refuses to start with authentication on and nobody who could call', async () => {
    const failure = await launch({
      PROTES_CONFIG: '',
      PROTES_SERVER__PORT: '0',
      PROTES_STORE__SQLITE_PATH: join(dir, 'refused.db'),
      PROTES_AUTH__ENABLED: 'true',
    }).then(
      (started) => started.stop().then(() => 'started'),
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/PROTES_AUTH__ENABLED=false/);
  });

  it('with authentication off says so loudly, and every caller is one user', async () => {
    const open = await launch({
      PROTES_CONFIG: '',
      PROTES_SERVER__PORT: '0',
      PROTES_STORE__SQLITE_PATH: join(dir, 'open.db'),
      PROTES_AUTH__ENABLED: 'false',
      PROTES_LOG__JSON: 'false',
    });
    try {
      const get = (path: string, authorization?: string) =>
        fetch(`${open.url}${path}`, { headers: authorization ? { authorization } : {} });
      const created = (await (
        await fetch(`${open.url}${TES}/tasks`, {
          method: 'POST',
          headers: { authorization: 'Bearer not-even-a-jwt', 'content-type': 'application/json' },
          body: JSON.stringify(TASK),
        })
      ).json()) as { id: string };
      expect((await get(`${TES}/tasks/${created.id}`)).status).toBe(200);
      expect((await get(`${TES}/tasks/${created.id}`, basic('x', 'y'))).status).toBe(200);
      expect((await get('/protes/v1/nodes')).status).toBe(200);
      expect((await get('/protes/v1/middlewares')).status).toBe(200);
    } finally {
      await open.stop();
    }
    expect(open.output()).toMatch(/WARN.*AUTHENTICATION IS OFF/);
  });
});
