import { HttpException } from '@nestjs/common';
import type {
  ClientCaller,
  ForNodeContext,
  FromNodeContext,
  HookNode,
  NodeHooks,
  ToClientContext,
} from '@protes/middleware-sdk';
import type { TesTask, TesTaskRequest } from '@protes/tes';
import type { PreparedChain, PreparedMember } from './chain-settings';
import type { ChainService } from './chain.service';
import type { TaskContext, TaskMiddleware } from './middleware';
import type { ChainEntry, ChainMiddleware } from './middleware-chain.config';
import type { MiddlewareRegistry } from './middleware-registry';
import { hooksOf, implementsHook, MiddlewareHooks } from './node-hooks';

type Hooked = TaskMiddleware & NodeHooks;

/** A middleware with the given hooks (and a handle that is never run here). */
function middleware(name: string, hooks: NodeHooks = {}): Hooked {
  return {
    name,
    handle: (context: TaskContext) => Promise.resolve(context),
    ...hooks,
  };
}

const member = (name: string, settings = {}, enabled = true): ChainMiddleware => ({
  name,
  settings,
  enabled,
});

/** A prepared chain of these entries, each member's middleware taken from `by` (by name). */
function chainOf(entries: ChainEntry[], by: Record<string, Hooked>): PreparedChain {
  const members = new Map<ChainMiddleware, PreparedMember>();
  for (const entry of entries) {
    for (const m of 'fallback' in entry ? entry.fallback : [entry]) {
      members.set(m, { middleware: by[m.name], prepared: { of: m.name }, key: m.name });
    }
  }
  return { chain: entries, members };
}

const node: HookNode = { name: 'n1', metadata: { weight: 1 }, health: { healthy: true } };
const request = (tags: Record<string, string> = {}): TesTaskRequest => ({
  executors: [{ image: 'alpine', command: ['true'] }],
  tags,
});
const forNodeContext = { taskId: 't1', received: request(), owner: 'alice' };
const remote = (state: TesTask['state'] = 'RUNNING'): TesTask => ({
  id: 'r1',
  state,
  logs: [{ logs: [], outputs: [] }],
});
const caller: ClientCaller = { subject: 'alice', admin: false };

/** A forNode hook that adds `key: value` to the tags. */
const tagging = (key: string, value: string): NodeHooks['forNode'] => {
  return (task) => ({ ...task, tags: { ...task.tags, [key]: value } });
};

describe('implementsHook', () => {
  it('recognises a hook by shape', () => {
    expect(implementsHook({ forNode: () => undefined }, 'forNode')).toBe(true);
    expect(implementsHook({ forNode: 'no' }, 'forNode')).toBe(false);
    expect(implementsHook(undefined, 'toClient')).toBe(false);
  });
});

describe('hooksOf', () => {
  it('finds the hooks of a chain once per chain', () => {
    const by = { a: middleware('a', { forNode: tagging('a', '1') }), b: middleware('b') };
    const chain = chainOf([member('a'), member('b')], by);
    const hooks = hooksOf(chain);
    expect(hooksOf(chain)).toBe(hooks);
    expect(hooks.has('forNode')).toBe(true);
    expect(hooks.has('fromNode')).toBe(false);
    expect(hooksOf(chainOf([member('b')], by)).has('forNode')).toBe(false);
  });

  it('leaves out disabled entries and members', () => {
    const by = { a: middleware('a', { forNode: tagging('a', '1') }) };
    expect(hooksOf(chainOf([member('a', {}, false)], by)).has('forNode')).toBe(false);
    const group: ChainEntry = {
      fallback: [member('a', {}, false)],
      onFailure: 'fail',
      enabled: true,
    };
    expect(hooksOf(chainOf([group], by)).has('forNode')).toBe(false);
  });
});

describe('ChainHooks.forNode', () => {
  it('runs the hooks in chain order, each with its settings, prepared value and the context', async () => {
    const seen: ForNodeContext[] = [];
    const by = {
      first: middleware('first', {
        forNode: (task, _node, context) => {
          seen.push(context);
          return { ...task, tags: { ...task.tags, order: 'first' } };
        },
      }),
      plain: middleware('plain'),
      second: middleware('second', {
        forNode: (task) => ({
          ...task,
          tags: { ...task.tags, order: `${task.tags?.order}>second` },
        }),
      }),
    };
    const chain = chainOf([member('first', { x: 1 }), member('plain'), member('second')], by);
    const result = await hooksOf(chain).forNode(request(), node, forNodeContext);
    expect(result.task.tags).toEqual({ order: 'first>second' });
    expect(result.refused).toBeUndefined();
    expect(seen).toEqual([{ ...forNodeContext, settings: { x: 1 }, prepared: { of: 'first' } }]);
    expect(result.decisions).toEqual([
      expect.objectContaining({
        entry: 0,
        middleware: 'first',
        outcome: 'applied',
        order: ['n1'],
        reason: 'forNode for node n1: changed tags',
      }),
      expect.objectContaining({ entry: 2, middleware: 'second', outcome: 'applied' }),
    ]);
    expect(result.decisions[0].ms).toEqual(expect.any(Number));
  });

  it('records no decision for a hook that changed nothing', async () => {
    const by = { same: middleware('same', { forNode: (task) => task }) };
    const result = await hooksOf(chainOf([member('same')], by)).forNode(
      request(),
      node,
      forNodeContext,
    );
    expect(result.decisions).toEqual([]);
  });

  it('hands each hook a copy: what a failed hook changed leaves no trace', async () => {
    const by = {
      vandal: middleware('vandal', {
        forNode: (task) => {
          task.tags = { broken: 'yes' };
          throw new Error('gave up');
        },
      }),
    };
    const group: ChainEntry = { fallback: [member('vandal')], onFailure: 'skip', enabled: true };
    const input = request({ keep: 'me' });
    const result = await hooksOf(chainOf([group], by)).forNode(input, node, forNodeContext);
    expect(result.task).toEqual(request({ keep: 'me' }));
    expect(input.tags).toEqual({ keep: 'me' });
  });

  it('refuses the node the task when a hook fails or returns no valid TES task', async () => {
    const by = {
      broken: middleware('broken', {
        forNode: () => ({ executors: [] }),
      }),
      later: middleware('later', { forNode: tagging('later', '1') }),
    };
    const result = await hooksOf(chainOf([member('broken'), member('later')], by)).forNode(
      request(),
      node,
      forNodeContext,
    );
    expect(result.refused).toMatch(
      /^middleware broken could not prepare the task for this node: broken: returned a task that is not valid TES: executors/,
    );
    expect(result.decisions).toEqual([
      expect.objectContaining({ entry: 0, middleware: 'broken', outcome: 'failed' }),
    ]);
    expect(result.decisions[0].reason).toMatch(/^forNode for node n1: returned a task/);
  });

  it('tries a group member after another as the chain does, and skips a group with onFailure: skip', async () => {
    const fails = () => {
      throw new Error('no data');
    };
    const by = {
      a: middleware('a', { forNode: fails }),
      b: middleware('b', { forNode: tagging('b', '1') }),
      c: middleware('c', { forNode: fails }),
      d: middleware('d', { forNode: tagging('d', '1') }),
    };
    const chain = chainOf(
      [
        { fallback: [member('a'), member('b')], onFailure: 'fail', enabled: true },
        { fallback: [member('c')], onFailure: 'skip', enabled: true },
        member('d'),
      ],
      by,
    );
    const result = await hooksOf(chain).forNode(request(), node, forNodeContext);
    expect(result.refused).toBeUndefined();
    expect(result.task.tags).toEqual({ b: '1', d: '1' });
    expect(result.decisions.map((d) => [d.entry, d.middleware, d.outcome])).toEqual([
      [0, 'a', 'failed'],
      [0, 'b', 'applied'],
      [1, 'c', 'failed'],
      [2, 'd', 'applied'],
    ]);
  });
});

describe('ChainHooks.fromNode', () => {
  const normalising = middleware('norm', {
    fromNode: (task) => ({ ...task, logs: [{ logs: [], outputs: [], system_logs: ['read'] }] }),
  });

  it('passes the answer through the hooks, with a decision for a hook that changed it', async () => {
    const seen: FromNodeContext[] = [];
    const spy = middleware('spy', {
      fromNode: (task, _node, context) => {
        seen.push(context);
        return task;
      },
    });
    const chain = chainOf([member('norm'), member('spy')], { norm: normalising, spy });
    const result = await hooksOf(chain).fromNode(remote(), node, { taskId: 't1', remoteId: 'r1' });
    expect(result.task.logs?.[0].system_logs).toEqual(['read']);
    expect(result.decisions).toEqual([
      expect.objectContaining({
        entry: 0,
        middleware: 'norm',
        outcome: 'applied',
        order: ['n1'],
        reason: 'fromNode for node n1, task r1: changed logs',
      }),
    ]);
    expect(seen).toEqual([{ taskId: 't1', remoteId: 'r1', settings: {}, prepared: { of: 'spy' } }]);
  });

  it('records a hook once per node attempt: not again when the record has it', async () => {
    const hooks = hooksOf(chainOf([member('norm')], { norm: normalising }));
    const first = await hooks.fromNode(remote(), node, { taskId: 't1', remoteId: 'r1' });
    const again = await hooks.fromNode(
      remote('COMPLETE'),
      node,
      { taskId: 't1', remoteId: 'r1' },
      first.decisions,
    );
    expect(again.task.logs?.[0].system_logs).toEqual(['read']);
    expect(again.decisions).toEqual([]);
    // Another attempt (a resubmission elsewhere) is recorded anew.
    const elsewhere = await hooks.fromNode(
      remote(),
      { ...node, name: 'n2' },
      { taskId: 't1', remoteId: 'r9' },
      first.decisions,
    );
    expect(elsewhere.decisions).toHaveLength(1);
  });

  it("goes on without a hook that fails or breaks the answer: a node's word cannot be refused", async () => {
    const by = {
      thrower: middleware('thrower', {
        fromNode: () => {
          throw new Error('cannot read');
        },
      }),
      renamer: middleware('renamer', { fromNode: (task) => ({ ...task, id: 'other' }) }),
      norm: normalising,
    };
    const chain = chainOf([member('thrower'), member('renamer'), member('norm')], by);
    const result = await hooksOf(chain).fromNode(remote(), node, { taskId: 't1', remoteId: 'r1' });
    expect(result.task.id).toBe('r1');
    expect(result.task.logs?.[0].system_logs).toEqual(['read']);
    expect(result.decisions.map((d) => [d.middleware, d.outcome, d.reason])).toEqual([
      ['thrower', 'failed', 'fromNode for node n1, task r1: cannot read'],
      ['renamer', 'failed', 'fromNode for node n1, task r1: changed the task id to other'],
      ['norm', 'applied', 'fromNode for node n1, task r1: changed logs'],
    ]);
  });
});

describe('ChainHooks.toClient', () => {
  const answer = (): TesTask => ({
    id: 'g1',
    state: 'COMPLETE',
    executors: [{ image: 'alpine', command: ['true'], env: { SECRET: 'x' } }],
    logs: [{ logs: [], outputs: [], metadata: { protes_node: 'n1' } }],
  });
  const context = { view: 'FULL' as const, caller };

  it('lets a hook redact fields and add facts to metadata', async () => {
    const seen: ToClientContext[] = [];
    const by = {
      redact: middleware('redact', {
        toClient: (task, ctx) => {
          seen.push(ctx);
          return {
            ...task,
            executors: task.executors?.map(({ env: _env, ...e }) => e),
            logs: task.logs?.map((l) => ({ ...l, metadata: { ...l.metadata, cost: '0.1' } })),
          };
        },
      }),
    };
    const task = answer();
    const out = await hooksOf(chainOf([member('redact')], by)).toClient(task, context);
    expect(out.executors).toEqual([{ image: 'alpine', command: ['true'] }]);
    expect(out.logs?.[0].metadata).toEqual({ protes_node: 'n1', cost: '0.1' });
    expect(task).toEqual(answer());
    expect(seen).toEqual([{ ...context, settings: {}, prepared: { of: 'redact' } }]);
  });

  it.each([
    ['a field TES does not define', (t: TesTask) => ({ ...t, cost: 1 }), /TES 1.1 does not define/],
    [
      'a metadata value that is no string',
      (t: TesTask) => ({ ...t, logs: [{ logs: [], outputs: [], metadata: { n: 1 } }] }),
      /TES 1.1 does not define/,
    ],
    [
      'a changed state',
      (t: TesTask) => ({ ...t, state: 'RUNNING' }),
      /changed the id or the state/,
    ],
  ])('refuses the answer (500) for a hook that adds %s', async (_, hook, reason) => {
    const warnings: string[] = [];
    const by = { bad: middleware('bad', { toClient: hook as NodeHooks['toClient'] }) };
    const run = hooksOf(chainOf([member('bad')], by)).toClient(answer(), context, {
      warn: (message: string) => void warnings.push(message),
    });
    await expect(run).rejects.toThrow(HttpException);
    await expect(run).rejects.toThrow('the answer could not be prepared: middleware bad failed');
    expect(warnings.join('\n')).toMatch(reason);
  });

  it('answers without a failed hook whose group has onFailure: skip', async () => {
    const by = {
      flaky: middleware('flaky', {
        toClient: () => Promise.reject(new Error('lookup down')),
      }),
    };
    const group: ChainEntry = { fallback: [member('flaky')], onFailure: 'skip', enabled: true };
    const task = answer();
    expect(await hooksOf(chainOf([group], by)).toClient(task, context)).toEqual(answer());
  });
});

describe('MiddlewareHooks', () => {
  function setup(registered: Hooked[], chain: PreparedChain) {
    const inEffect = jest.fn(() => Promise.resolve(chain));
    const byName = new Map(registered.map((m) => [m.name, m]));
    const registry = {
      names: () => [...byName.keys()],
      get: (name: string) => byName.get(name),
    } as unknown as MiddlewareRegistry;
    const hooks = new MiddlewareHooks({ inEffect } as unknown as ChainService, registry);
    return { hooks, inEffect };
  }
  const task: TesTask = { id: 'g1', state: 'QUEUED' };

  it('costs nothing on the way to a client when no registered middleware implements toClient', async () => {
    const plain = middleware('plain', { forNode: tagging('a', '1') });
    const { hooks, inEffect } = setup([plain], chainOf([member('plain')], { plain }));
    expect(hooks.mayRun('forNode')).toBe(true);
    expect(hooks.answersClients('FULL')).toBe(false);
    expect(await hooks.toClient(task, 'FULL', caller)).toBe(task);
    expect(inEffect).not.toHaveBeenCalled();
  });

  it('never runs toClient for MINIMAL, which is only the id and the state', async () => {
    const marker = middleware('marker', { toClient: (t) => ({ ...t, name: 'marked' }) });
    const { hooks, inEffect } = setup([marker], chainOf([member('marker')], { marker }));
    expect(hooks.answersClients('MINIMAL')).toBe(false);
    expect(await hooks.toClient(task, 'MINIMAL', caller)).toBe(task);
    expect(inEffect).not.toHaveBeenCalled();
    expect(await hooks.toClient(task, 'BASIC', caller)).toEqual({ ...task, name: 'marked' });
  });

  it('reads the chain in effect for answers at most once per CLIENT_HOOKS_TTL_MS', async () => {
    const marker = middleware('marker', { toClient: (t) => ({ ...t, name: 'marked' }) });
    const { hooks, inEffect } = setup([marker], chainOf([], { marker }));
    expect(await hooks.toClient(task, 'FULL', caller)).toBe(task);
    expect(await hooks.toClient(task, 'FULL', caller)).toBe(task);
    expect(inEffect).toHaveBeenCalledTimes(1);
  });

  it('reads the chain in effect each time for forwarding and tracking', async () => {
    const plain = middleware('plain', { forNode: tagging('a', '1') });
    const { hooks, inEffect } = setup([plain], chainOf([member('plain')], { plain }));
    await hooks.current();
    await hooks.current();
    expect(inEffect).toHaveBeenCalledTimes(2);
  });
});
