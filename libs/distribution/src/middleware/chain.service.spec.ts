import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { type ChainEntryConfig, ConfigError, loadConfig, protesConfig } from '@protes/config';
import { ChainSettingsStore, SqliteChainSettingsStore } from '@protes/persistence';
import type { TesTaskRequest } from '@protes/tes';
import { Type } from '@sinclair/typebox';
import {
  ChainFailedException,
  type ChainOutcome,
  ChainService,
  TaskRejectedException,
} from './chain.service';
import {
  MiddlewareError,
  MiddlewareRejection,
  type NodeCandidate,
  SettingsError,
  type TaskContext,
  type TaskMiddleware,
} from './middleware';
import { ChainValidationError } from './middleware-chain.config';
import { BUILTIN_MIDDLEWARE_INSTANCES, MiddlewareRegistry } from './middleware-registry';

const node = (name: string): NodeCandidate => ({
  name,
  health: { healthy: true },
  metadata: { weight: 1 },
  load: 0,
});

const task = (): TesTaskRequest => ({
  name: 't',
  executors: [{ image: 'alpine', command: ['true'] }],
  tags: { team: 'a' },
});

/** A middleware from a function of the context; `calls` counts how often it ran. */
function middleware(
  name: string,
  handle: (context: TaskContext) => TaskContext | Promise<TaskContext> = (c) => c,
): TaskMiddleware & { calls: number } {
  const m = {
    name,
    calls: 0,
    handle: async (context: TaskContext) => {
      m.calls++;
      return handle(context);
    },
  };
  return m;
}

const keepOnly = (name: string, ...keep: string[]) =>
  middleware(name, (c) => ({
    ...c,
    candidates: c.candidates.filter((n) => keep.includes(n.name)),
  }));
let reverse: ReturnType<typeof middleware>;
beforeEach(() => {
  reverse = middleware('reverse', (c) => ({ ...c, candidates: [...c.candidates].reverse() }));
});
const failing = (name: string, reason = `${name} has no data`) =>
  middleware(name, () => {
    throw new MiddlewareError(reason);
  });

/** A ChainService over these middlewares (as the built-ins) and this configured chain. */
async function chainOf(
  middlewares: TaskMiddleware[],
  chain: ChainEntryConfig[],
  settings: ChainSettingsStore = new SqliteChainSettingsStore({ path: ':memory:' }),
): Promise<ChainService> {
  const config = { ...loadConfig({}), middleware: { chain, modules: [] } };
  const app = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [
      { provide: protesConfig.KEY, useValue: config },
      { provide: BUILTIN_MIDDLEWARE_INSTANCES, useValue: middlewares },
      { provide: ChainSettingsStore, useValue: settings },
      MiddlewareRegistry,
      ChainService,
    ],
  }).compile();
  await app.init();
  return app.get(ChainService);
}

const run = (chain: ChainService, nodes = ['a', 'b', 'c'], t = task()): Promise<ChainOutcome> =>
  chain.run({
    taskId: 'task-1',
    task: t,
    caller: { subject: 'anonymous', headers: {} },
    candidates: nodes.map(node),
  });

const outcomesOf = ({ decisions }: { decisions: ChainOutcome['decisions'] }) =>
  decisions.map((d) => [d.entry, d.middleware, d.outcome, d.order.join(','), d.reason]);

/** The error a promise rejects with (failing the test if it resolves). */
async function failure<T>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as T;
}

describe('ChainService.run', () => {
  it('runs the entries in order, each on the outcome of the one before, and records each', async () => {
    const chain = await chainOf([keepOnly('only-ab', 'a', 'b'), reverse], ['only-ab', 'reverse']);
    const outcome = await run(chain);
    expect(outcome.candidates.map((c) => c.name)).toEqual(['b', 'a']);
    expect(outcomesOf(outcome)).toEqual([
      [0, 'only-ab', 'applied', 'a,b', undefined],
      [1, 'reverse', 'applied', 'b,a', undefined],
    ]);
    for (const d of outcome.decisions) expect(d.ms).toBeGreaterThanOrEqual(0);
  });

  it('records the reason a middleware gives with its decision, and hands none to the next', async () => {
    const explained = middleware('explained', (c) => ({ ...c, reason: 'kept every node' }));
    const seen: (string | undefined)[] = [];
    const next = middleware('next', (c) => {
      seen.push(c.reason);
      return c;
    });
    const outcome = await run(await chainOf([explained, next], ['explained', 'next']));
    expect(outcomesOf(outcome)).toEqual([
      [0, 'explained', 'applied', 'a,b,c', 'kept every node'],
      [1, 'next', 'applied', 'a,b,c', undefined],
    ]);
    expect(seen).toEqual([undefined]);
  });

  it('times each decision', async () => {
    const slow = middleware('slow', async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return c;
    });
    const { decisions } = await run(await chainOf([slow], ['slow']));
    expect(decisions[0].ms).toBeGreaterThanOrEqual(25);
    expect(decisions[0].ms).toBeLessThan(1000);
  });

  it('passes each middleware its settings, the caller and the task as received', async () => {
    const seen: TaskContext[] = [];
    const tagger = middleware('tagger', (c) => ({
      ...c,
      task: { ...c.task, tags: { ...c.task.tags, placed: String(c.settings.label) } },
    }));
    const spy = middleware('spy', (c) => {
      seen.push(c);
      return c;
    });
    const chain = await chainOf(
      [tagger, spy],
      [{ name: 'tagger', settings: { label: 'x' } }, 'spy'],
    );
    const sent = task();
    const outcome = await run(chain, ['a'], sent);
    expect(outcome.task.tags).toEqual({ team: 'a', placed: 'x' });
    expect(seen[0].task.tags).toEqual({ team: 'a', placed: 'x' });
    expect(seen[0].received.tags).toEqual({ team: 'a' });
    expect(seen[0].settings).toEqual({});
    expect(seen[0].caller.subject).toBe('anonymous');
    expect(sent.tags).toEqual({ team: 'a' });
  });

  it('keeps a middleware from changing what it was given in place', async () => {
    const vandal = middleware('vandal', (c) => {
      (c.received as TesTaskRequest).name = 'changed';
      return c;
    });
    await expect(run(await chainOf([vandal], ['vandal']))).rejects.toBeInstanceOf(
      ChainFailedException,
    );
  });

  it('refuses the task on a rejection: 4xx with the reason, no later entry runs', async () => {
    const guard = middleware('guard', () => {
      throw new MiddlewareRejection('tasks of team a are not accepted', 403);
    });
    const after = middleware('after');
    const chain = await chainOf([reverse, guard, after], ['reverse', 'guard', 'after']);
    const error = await failure(run(chain), TaskRejectedException);
    expect(error.getStatus()).toBe(403);
    expect(error.message).toBe('rejected by guard: tasks of team a are not accepted');
    expect(after.calls).toBe(0);
    expect(outcomesOf(error)).toEqual([
      [0, 'reverse', 'applied', 'c,b,a', undefined],
      [1, 'guard', 'rejected', 'c,b,a', 'tasks of team a are not accepted'],
    ]);
    expect(error.errors).toEqual([]);
  });

  it("carries a rejection's field, so that the client's 400 can name it", async () => {
    const guard = middleware('guard', () => {
      throw new MiddlewareRejection('needs TES 1.1', 400, 'executors[0].ignore_error');
    });
    const error = await failure(run(await chainOf([guard], ['guard'])), TaskRejectedException);
    expect(error.errors).toEqual([{ field: 'executors[0].ignore_error', reason: 'needs TES 1.1' }]);
  });

  it('knows a plugin rejection by its name, and keeps its status to the 4xx range', async () => {
    const foreign = (status: unknown) =>
      middleware('foreign', () => {
        throw Object.assign(new Error('no'), { name: 'MiddlewareRejection', status });
      });
    for (const [status, expected] of [
      [451, 451],
      [503, 503],
      [500, 400],
      [502, 400],
      [undefined, 400],
    ]) {
      const error = await failure(
        run(await chainOf([foreign(status)], ['foreign'])),
        TaskRejectedException,
      );
      expect(error.getStatus()).toBe(expected);
    }
  });

  it("carries a rejection's retryAfterSeconds, in whole seconds, for Retry-After", async () => {
    const busy = (retryAfterSeconds: unknown) =>
      middleware('busy', () => {
        throw Object.assign(new Error('node x is down'), {
          name: 'MiddlewareRejection',
          status: 503,
          retryAfterSeconds,
        });
      });
    for (const [given, expected] of [
      [12, 12],
      [2.1, 3],
      [0, 1],
      ['soon', undefined],
      [undefined, undefined],
    ]) {
      const error = await failure(
        run(await chainOf([busy(given)], ['busy'])),
        TaskRejectedException,
      );
      expect([given, error.getStatus(), error.retryAfterSeconds]).toEqual([given, 503, expected]);
    }
    const ours = middleware('ours', () => {
      throw new MiddlewareRejection('node x is down', 503, 'tags.protes.node', 30);
    });
    const error = await failure(run(await chainOf([ours], ['ours'])), TaskRejectedException);
    expect(error).toMatchObject({
      retryAfterSeconds: 30,
      message: 'rejected by ours: node x is down',
    });
    expect(error.errors).toEqual([{ field: 'tags.protes.node', reason: 'node x is down' }]);
  });

  it('does not fall back on a rejection', async () => {
    const guard = middleware('guard', () => {
      throw new MiddlewareRejection('no');
    });
    const chain = await chainOf([guard, reverse], [{ fallback: ['guard', 'reverse'] }]);
    await failure(run(chain), TaskRejectedException);
    expect(reverse.calls).toBe(0);
  });

  it('falls back to the next member on a failure, leaving no trace of the failed one', async () => {
    const partial = middleware('partial', (c) => {
      c.candidates.splice(0, 1);
      c.task.name = 'half-done';
      throw new MiddlewareError('lookup timed out');
    });
    const chain = await chainOf([partial, reverse], [{ fallback: ['partial', 'reverse'] }]);
    const outcome = await run(chain);
    expect(outcome.task.name).toBe('t');
    expect(outcome.candidates.map((c) => c.name)).toEqual(['c', 'b', 'a']);
    expect(outcomesOf(outcome)).toEqual([
      [0, 'partial', 'failed', 'a,b,c', 'lookup timed out'],
      [0, 'reverse', 'applied', 'c,b,a', undefined],
    ]);
  });

  it('counts any error, not only MiddlewareError, as a failure', async () => {
    const buggy = middleware('buggy', () => {
      throw new TypeError('x is undefined');
    });
    const outcome = await run(
      await chainOf([buggy, reverse], [{ fallback: ['buggy', 'reverse'] }]),
    );
    expect(outcomesOf(outcome)[0]).toEqual([0, 'buggy', 'failed', 'a,b,c', 'x is undefined']);
  });

  it('fails the task with 503 and every reason when all members of a group fail', async () => {
    const chain = await chainOf(
      [reverse, failing('geo'), failing('tags')],
      ['reverse', { fallback: ['geo', 'tags'] }],
    );
    const error = await failure(run(chain), ChainFailedException);
    expect(error.getStatus()).toBe(503);
    expect(error.message).toBe(
      'the middleware chain could not place the task (entry 1, fallback(geo, tags)): geo: geo has no data; tags: tags has no data',
    );
    expect(outcomesOf(error).map((d) => d[2])).toEqual(['applied', 'failed', 'failed']);
  });

  it('skips a group whose members all fail with onFailure: skip', async () => {
    const chain = await chainOf(
      [failing('geo'), reverse],
      [{ fallback: ['geo'], onFailure: 'skip' }, 'reverse'],
    );
    const outcome = await run(chain);
    expect(outcome.candidates.map((c) => c.name)).toEqual(['c', 'b', 'a']);
    expect(outcomesOf(outcome)).toEqual([
      [0, 'geo', 'failed', 'a,b,c', 'geo has no data'],
      [0, 'fallback(geo)', 'skipped', 'a,b,c', 'every member failed'],
      [1, 'reverse', 'applied', 'c,b,a', undefined],
    ]);
  });

  it('fails the task when a middleware outside a group fails', async () => {
    const error = await failure(
      run(await chainOf([failing('geo')], ['geo'])),
      ChainFailedException,
    );
    expect(error.message).toMatch(/\(entry 0, geo\): geo: geo has no data$/);
  });

  it('skips disabled entries and members, and records them', async () => {
    const off = middleware('off');
    const chain = await chainOf(
      [off, reverse],
      [{ name: 'off', enabled: false }, { fallback: [{ name: 'off', enabled: false }, 'reverse'] }],
    );
    const outcome = await run(chain);
    expect(off.calls).toBe(0);
    expect(outcomesOf(outcome)).toEqual([
      [0, 'off', 'skipped', 'a,b,c', 'disabled'],
      [1, 'off', 'skipped', 'a,b,c', 'disabled'],
      [1, 'reverse', 'applied', 'c,b,a', undefined],
    ]);
  });

  it('takes an empty outcome: the forwarder ends such a task with the reason', async () => {
    const outcome = await run(await chainOf([keepOnly('none')], ['none']));
    expect(outcome.candidates).toEqual([]);
    expect(outcomesOf(outcome)).toEqual([[0, 'none', 'applied', '', undefined]]);
  });

  it.each([
    [
      'adds a node it was not given',
      (c: TaskContext) => ({ ...c, candidates: [...c.candidates, node('x')] }),
      /not a selection/,
    ],
    [
      'repeats a node',
      (c: TaskContext) => ({ ...c, candidates: [c.candidates[0], c.candidates[0]] }),
      /not a selection/,
    ],
    [
      'returns no candidates list',
      (c: TaskContext) => ({ ...c, candidates: undefined }) as unknown as TaskContext,
      /not a selection/,
    ],
    [
      'breaks the task',
      (c: TaskContext) => ({ ...c, task: { ...c.task, executors: [] } }),
      /not valid TES: executors/,
    ],
  ])('counts it as a failure when a middleware %s', async (_case, handle, reason) => {
    const chain = await chainOf(
      [middleware('bad', handle)],
      [{ fallback: ['bad'], onFailure: 'skip' }],
    );
    const [failed] = (await run(chain)).decisions;
    expect(failed).toMatchObject({
      middleware: 'bad',
      outcome: 'failed',
      reason: expect.stringMatching(reason),
    });
  });
});

describe('ChainService start-up', () => {
  it('stops the start on a configured chain naming an unregistered middleware, listing the known names', async () => {
    const error = await failure(
      chainOf([reverse, failing('geo')], ['reverse', { fallback: ['geo', 'nearest'] }]),
      ConfigError,
    );
    expect(error.message).toBe(
      'middleware.chain[1].fallback[1]: "nearest" is not a registered middleware (registered: geo, reverse)',
    );
  });
});

describe('ChainService management', () => {
  let settings: SqliteChainSettingsStore;
  let chain: ChainService;

  beforeEach(async () => {
    settings = new SqliteChainSettingsStore({ path: ':memory:' });
    chain = await chainOf(
      [reverse, keepOnly('only-a', 'a'), failing('geo')],
      ['reverse'],
      settings,
    );
  });
  afterEach(() => settings.close());

  const names = async () => (await run(chain)).candidates.map((c) => c.name);

  it('shows the configured chain, normalized, and the registered names', async () => {
    expect(await chain.describe()).toEqual({
      source: 'configuration',
      chain: [{ name: 'reverse', settings: {}, enabled: true }],
      registered: ['geo', 'only-a', 'reverse'],
    });
  });

  it('replaces the chain, stores it, and runs it from the next task', async () => {
    const view = await chain.replace({
      chain: [{ fallback: ['geo', 'only-a'], onFailure: 'skip' }],
    });
    expect(view).toMatchObject({
      source: 'store',
      updatedAt: expect.any(String),
      chain: [
        {
          fallback: [
            { name: 'geo', settings: {}, enabled: true },
            { name: 'only-a', settings: {}, enabled: true },
          ],
          onFailure: 'skip',
          enabled: true,
        },
      ],
    });
    expect(await names()).toEqual(['a']);
    expect((await settings.get())?.chain).toEqual(view.chain);
  });

  it('changes one entry or group member with patch', async () => {
    await chain.replace({ chain: ['only-a', { fallback: ['geo', 'reverse'] }] });
    await chain.patch('0', { enabled: false });
    expect(await names()).toEqual(['c', 'b', 'a']);
    const view = await chain.patch('1.1', { settings: { k: 1 } });
    expect(view.chain[1]).toMatchObject({
      fallback: [{ name: 'geo' }, { name: 'reverse', settings: { k: 1 } }],
    });
    await chain.patch('1', { onFailure: 'skip', enabled: true });
    expect((await chain.describe()).chain[1]).toMatchObject({ onFailure: 'skip' });
  });

  it('patches the configured chain when none is stored yet', async () => {
    const view = await chain.patch('0', { settings: { k: 'v' } });
    expect(view).toMatchObject({
      source: 'store',
      chain: [{ name: 'reverse', settings: { k: 'v' } }],
    });
  });

  it('refuses an unknown name, naming the entry and the registered names', async () => {
    const error = await failure(
      chain.replace({ chain: ['reverse', { name: 'nearest' }] }),
      ChainValidationError,
    );
    expect(error.errors).toEqual([
      {
        field: 'chain[1]',
        reason: '"nearest" is not a registered middleware (registered: geo, only-a, reverse)',
      },
    ]);
    expect(await settings.get()).toBeUndefined();
  });

  it.each([
    [{}, [{ field: 'chain', reason: 'is required' }]],
    [{ chain: 'reverse' }, [{ field: 'chain', reason: 'must be array' }]],
    [{ chain: [], extra: 1 }, [{ field: 'extra', reason: 'is not a known key' }]],
    [
      { chain: [{ nam: 'reverse' }] },
      [
        { field: 'chain[0]', reason: "must have required property 'name'" },
        { field: 'chain[0].nam', reason: 'is not a known key' },
      ],
    ],
    [
      { chain: [{ fallback: [] }] },
      [{ field: 'chain[0].fallback', reason: 'must NOT have fewer than 1 items' }],
    ],
    [
      { chain: [{ name: 'reverse', enabled: 'yes' }] },
      [{ field: 'chain[0].enabled', reason: 'must be boolean' }],
    ],
  ])('refuses the malformed chain %j, naming each field', async (body, errors) => {
    const error = await failure(chain.replace(body), ChainValidationError);
    expect(error.errors).toEqual(errors);
  });

  it.each([
    ['x', {}, 'index'],
    ['0', {}, '(body)'],
    ['0', { enabled: 'no' }, 'enabled'],
    ['0', { onFailure: 'skip' }, 'onFailure'],
  ])('refuses a bad patch of entry %s: %j', async (index, body, field) => {
    const error = await failure(chain.patch(index, body), ChainValidationError);
    expect(error.errors.map((e) => e.field)).toEqual([field]);
  });

  it('refuses settings on a group, and answers 404 for an entry that does not exist', async () => {
    await chain.replace({ chain: [{ fallback: ['reverse'] }] });
    const error = await failure(chain.patch('0', { settings: {} }), ChainValidationError);
    expect(error.errors[0].reason).toMatch(/patch its members \(0\.0/);
    await expect(chain.patch('3', { enabled: false })).rejects.toThrow('the chain has no entry 3');
    await expect(chain.patch('0.4', { enabled: false })).rejects.toThrow(
      'the chain has no entry 0.4',
    );
  });

  it('goes back to the configured chain on reset', async () => {
    await chain.replace({ chain: ['only-a'] });
    expect((await chain.reset()).source).toBe('configuration');
    expect(await names()).toEqual(['c', 'b', 'a']);
  });

  it('runs the configured chain, and says why, while the stored one names a middleware it lacks', async () => {
    await settings.save([{ name: 'gone', settings: {}, enabled: true }], 0);
    expect(await names()).toEqual(['c', 'b', 'a']);
    const view = await chain.describe();
    expect(view.source).toBe('configuration');
    expect(view.storedChainError).toMatch(/"gone" is not a registered middleware/);
    // A new chain replaces it.
    await chain.replace({ chain: ['only-a'] });
    expect(await names()).toEqual(['a']);
  });

  it('does not lose a change made by another gateway in between', async () => {
    await chain.replace({ chain: ['reverse', 'only-a'] });
    const other = await chainOf(
      [reverse, keepOnly('only-a', 'a'), failing('geo')],
      ['reverse'],
      settings,
    );
    await Promise.all([
      chain.patch('0', { enabled: false }),
      other.patch('1', { settings: { k: 1 } }),
    ]);
    expect((await chain.describe()).chain).toEqual([
      { name: 'reverse', settings: {}, enabled: false },
      { name: 'only-a', settings: { k: 1 }, enabled: true },
    ]);
  });
});

/**
 * A middleware with settings: `factor` (a number of at least 1, required) and `label`; `prepare`
 * turns them into what each task uses, and counts how often it runs. `prepare` refuses a label
 * that `refused` holds, as a file that cannot be read would be.
 */
function scaled(name = 'scaled', refused = new Set<string>()) {
  const m = {
    name,
    prepared: 0,
    seen: [] as unknown[],
    settingsSchema: Type.Object(
      {
        factor: Type.Number({ minimum: 1 }),
        label: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    prepare(settings: Readonly<Record<string, unknown>>) {
      m.prepared++;
      if (refused.has(String(settings.label))) {
        throw new SettingsError('label', 'names a file that cannot be read (ENOENT)');
      }
      return { times: settings.factor as number };
    },
    handle(context: TaskContext<{ times: number }>): Promise<TaskContext<{ times: number }>> {
      m.seen.push(context.prepared);
      return Promise.resolve(context);
    },
  };
  return m;
}

describe('ChainService settings', () => {
  it('checks and prepares the configured chain once, at start, and hands each task the result', async () => {
    const s = scaled();
    const chain = await chainOf([s], [{ name: 'scaled', settings: { factor: 2 } }]);
    expect(s.prepared).toBe(1);
    for (let i = 0; i < 3; i++) await run(chain);
    expect(s.prepared).toBe(1);
    expect(s.seen).toEqual([{ times: 2 }, { times: 2 }, { times: 2 }]);
  });

  it.each([
    [
      [{ name: 'scaled', settings: { factor: 0 } }],
      'middleware.chain[0].settings.factor: must be >= 1',
    ],
    [
      [
        'reverse',
        { fallback: ['reverse', { name: 'scaled', settings: { factor: 1, labl: 'x' } }] },
      ],
      'middleware.chain[1].fallback[1].settings.labl: is not a known setting',
    ],
    [[{ name: 'scaled', enabled: false }], 'middleware.chain[0].settings.factor: is required'],
    [
      [
        { name: 'scaled', settings: { factor: 'two' } },
        { name: 'scaled', settings: { factor: 1, label: 'gone' } },
      ],
      'middleware.chain[0].settings.factor: must be number; middleware.chain[1].settings.label: names a file that cannot be read (ENOENT)',
    ],
  ])(
    'stops the start on bad settings in %j, naming entry and field',
    async (configured, message) => {
      const error = await failure(
        chainOf([scaled('scaled', new Set(['gone'])), reverse], configured as ChainEntryConfig[]),
        ConfigError,
      );
      expect(error.message).toBe(message);
    },
  );

  it('takes any settings for a middleware that declares no schema', async () => {
    const chain = await chainOf([reverse], [{ name: 'reverse', settings: { anything: [1] } }]);
    expect((await run(chain)).candidates.map((c) => c.name)).toEqual(['c', 'b', 'a']);
  });

  it('reads settings errors of a plugin by name, and hides what else its prepare throws', async () => {
    const plugin = (error: unknown) => ({
      name: 'plugin',
      prepare: () => {
        throw error;
      },
      handle: (c: TaskContext) => Promise.resolve(c),
    });
    const named = Object.assign(new Error('x'), {
      name: 'SettingsError',
      errors: [{ field: 'rules[2]', reason: 'is too vague' }],
    });
    const byName = await failure(chainOf([plugin(named)], ['plugin']), ConfigError);
    expect(byName.message).toBe('middleware.chain[0].settings.rules[2]: is too vague');
    const other = await failure(
      chainOf([plugin(new Error('/secret/path: EACCES'))], ['plugin']),
      ConfigError,
    );
    expect(other.message).toBe(
      'middleware.chain[0].settings: could not be prepared (the reason is in the log)',
    );
  });

  describe('through the management API', () => {
    let store: SqliteChainSettingsStore;
    let chain: ChainService;
    let s: ReturnType<typeof scaled>;
    const refused = new Set<string>();

    beforeEach(async () => {
      refused.clear();
      store = new SqliteChainSettingsStore({ path: ':memory:' });
      s = scaled('scaled', refused);
      chain = await chainOf(
        [s, reverse],
        [{ name: 'scaled', settings: { factor: 1 } }, 'reverse'],
        store,
      );
    });
    afterEach(() => store.close());

    it('refuses a replacement with bad settings, naming each field, and stores nothing', async () => {
      const error = await failure(
        chain.replace({
          chain: [
            'reverse',
            { name: 'scaled', settings: { factor: 0.5, colour: 'red' } },
            { fallback: [{ name: 'scaled', settings: {} }] },
          ],
        }),
        ChainValidationError,
      );
      expect(error.errors).toEqual([
        { field: 'chain[1].settings.colour', reason: 'is not a known setting' },
        { field: 'chain[1].settings.factor', reason: 'must be >= 1' },
        { field: 'chain[2].fallback[0].settings.factor', reason: 'is required' },
      ]);
      expect(await store.get()).toBeUndefined();
    });

    it('refuses settings that cannot be prepared, such as a file that cannot be read', async () => {
      refused.add('gone');
      const error = await failure(
        chain.replace({ chain: [{ name: 'scaled', settings: { factor: 1, label: 'gone' } }] }),
        ChainValidationError,
      );
      expect(error.errors).toEqual([
        { field: 'chain[0].settings.label', reason: 'names a file that cannot be read (ENOENT)' },
      ]);
    });

    it('refuses a patch with bad settings, naming the entry', async () => {
      await chain.replace({
        chain: ['reverse', { fallback: ['reverse', { name: 'scaled', settings: { factor: 3 } }] }],
      });
      const error = await failure(
        chain.patch('1.1', { settings: { factor: -1 } }),
        ChainValidationError,
      );
      expect(error.errors).toEqual([
        { field: 'chain[1].fallback[1].settings.factor', reason: 'must be >= 1' },
      ]);
      expect((await chain.describe()).chain[1]).toMatchObject({
        fallback: [{ name: 'reverse' }, { name: 'scaled', settings: { factor: 3 } }],
      });
    });

    it('prepares a new chain once, before it is stored, and not again for its tasks', async () => {
      expect(s.prepared).toBe(1);
      await chain.replace({ chain: [{ name: 'scaled', settings: { factor: 4 } }] });
      expect(s.prepared).toBe(2);
      for (let i = 0; i < 3; i++) await run(chain);
      expect(s.prepared).toBe(2);
      expect(s.seen).toEqual([{ times: 4 }, { times: 4 }, { times: 4 }]);
    });

    it('keeps what was prepared for members a change leaves as they were', async () => {
      await chain.patch('1', { enabled: false });
      await chain.replace({ chain: ['reverse', { name: 'scaled', settings: { factor: 1 } }] });
      expect(s.prepared).toBe(1);
      await chain.patch('1', { settings: { factor: 2 } });
      expect(s.prepared).toBe(2);
    });

    it("prepares another gateway's change once, at the first task that sees it", async () => {
      const other = await chainOf([scaled(), reverse], ['reverse'], store);
      await other.replace({ chain: [{ name: 'scaled', settings: { factor: 7 } }] });
      expect(s.prepared).toBe(1);
      for (let i = 0; i < 2; i++) await run(chain);
      expect(s.prepared).toBe(2);
      expect(s.seen).toEqual([{ times: 7 }, { times: 7 }]);
    });

    it('runs the configured chain while the stored one cannot be prepared here, and says why', async () => {
      await store.save(
        [{ name: 'scaled', settings: { factor: 1, label: 'here-only' }, enabled: true }],
        0,
      );
      refused.add('here-only');
      await run(chain);
      await run(chain);
      expect(s.prepared).toBe(2); // once for the configured chain, once for the stored one
      const view = await chain.describe();
      expect(view.source).toBe('configuration');
      expect(view.storedChainError).toMatch(
        /cannot run here, the configured one does: chain\[0\]\.settings\.label: names a file that cannot be read/,
      );
    });

    it('runs the configured chain while the stored one has settings its middleware refuses', async () => {
      await store.save([{ name: 'scaled', settings: { factor: 0 }, enabled: true }], 0);
      expect(s.seen).toEqual([]);
      await run(chain);
      expect(s.seen).toEqual([{ times: 1 }]);
      expect((await chain.describe()).storedChainError).toMatch(
        /chain\[0\]\.settings\.factor: must be >= 1/,
      );
    });
  });
});
