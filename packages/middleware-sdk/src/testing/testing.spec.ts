import type { TaskContext, TaskMiddleware } from '../contract';
import { MiddlewareError, MiddlewareRejection, SettingsError } from '../errors';
import {
  HTTP_CLIENT,
  NODE_DIRECTORY,
  NODE_LOAD,
  type NodeDirectory,
  type NodeLoad,
  PROTES_CONFIG,
} from '../tokens';
import {
  candidate,
  expectRejection,
  expectSettingsError,
  memoryFiles,
  prepare,
  runMiddleware,
  taskContext,
  testPorts,
} from '.';

/** A middleware that does to the context whatever `change` does. */
const doing = (change: (context: TaskContext) => unknown): TaskMiddleware => ({
  name: 'under-test',
  handle: (context) => Promise.resolve(change(context) as TaskContext),
});

describe('taskContext', () => {
  it('builds what the chain hands a middleware: a frozen received task and candidates, a task to change', () => {
    const context = taskContext({
      candidates: ['x', candidate('y', { load: 3 })],
      settings: { a: 1 },
    });
    expect(context.candidates.map((c) => [c.name, c.load])).toEqual([
      ['x', 0],
      ['y', 3],
    ]);
    expect(Object.isFrozen(context.received)).toBe(true);
    expect(Object.isFrozen(context.candidates[0].metadata)).toBe(true);
    expect(Object.isFrozen(context.settings)).toBe(true);
    expect(Object.isFrozen(context.task)).toBe(false);
    expect(context.caller).toEqual({ subject: 'anonymous', headers: {} });
  });
});

describe('runMiddleware', () => {
  it('holds the middleware to the chain: only a selection of the candidates it was given', async () => {
    await expect(
      runMiddleware(doing((c) => ({ ...c, candidates: [...c.candidates, candidate('new')] }))),
    ).rejects.toThrow(/not a selection of the ones it was given: \["a","b","c","new"\]/);
    await expect(
      runMiddleware(doing((c) => ({ ...c, candidates: [c.candidates[0], c.candidates[0]] }))),
    ).rejects.toThrow(/not a selection/);
    await expect(runMiddleware(doing(() => undefined))).rejects.toThrow(/not a selection/);
  });

  it('refuses a rewrite that is no longer a task', async () => {
    await expect(
      runMiddleware(doing((c) => ({ ...c, task: { ...c.task, executors: [] } }))),
    ).rejects.toThrow(/rewrote the task into one that is not a valid TES task/);
  });

  it('does not let a middleware change what it receives frozen', async () => {
    await expect(
      runMiddleware(
        doing((c) => {
          c.candidates[0].load = 99;
          return c;
        }),
      ),
    ).rejects.toThrow(TypeError);
  });

  it('prepares the settings first and hands the result to handle', async () => {
    const middleware: TaskMiddleware<string> = {
      name: 'prepared',
      prepare: async (settings, files) =>
        (await files.read('file', settings.file as string)).toString(),
      handle: (context) =>
        Promise.resolve({
          ...context,
          candidates: context.candidates.filter((c) => c.name === context.prepared),
        }),
    };
    const files = memoryFiles({ '/etc/node': 'b' });
    const result = await runMiddleware(middleware, { settings: { file: '/etc/node' }, files });
    expect(result).toMatchObject({ prepared: 'b', order: ['b'], removed: ['a', 'c'] });
    await expectSettingsError(prepare(middleware, { file: '/elsewhere' }), ['file']);
  });
});

describe('expectRejection', () => {
  it('returns a rejection that matches, reading its status as the gateway does', async () => {
    const rejection = await expectRejection(
      () => {
        throw new MiddlewareRejection('too big', 418, 'resources');
      },
      { status: 418, message: /big/, field: 'resources' },
    );
    expect(rejection.message).toBe('too big');
    await expectRejection(Promise.reject(new MiddlewareRejection('odd', 302)), { status: 400 });
  });

  it('fails on anything else: no error, another error, another status', async () => {
    await expect(expectRejection(Promise.resolve())).rejects.toThrow(/did not/);
    await expect(expectRejection(Promise.reject(new MiddlewareError('no data')))).rejects.toThrow(
      'expected a MiddlewareRejection, got MiddlewareError: no data',
    );
    await expect(
      expectRejection(Promise.reject(new MiddlewareRejection('x', 403)), { status: 400 }),
    ).rejects.toThrow('the rejection has status 403, expected 400');
  });
});

describe('expectSettingsError', () => {
  it('checks the settings named', async () => {
    const error = new SettingsError([
      { field: 'a', reason: 'is bad' },
      { field: 'b', reason: 'is worse' },
    ]);
    expect(await expectSettingsError(Promise.reject(error), ['b', 'a'])).toHaveLength(2);
    await expect(expectSettingsError(Promise.reject(error), ['a'])).rejects.toThrow(
      'the SettingsError names ["a","b"], expected ["a"]',
    );
  });
});

describe('testPorts', () => {
  it('provides every token over the values given', async () => {
    const providers = testPorts({
      config: { service: { id: 'test' } },
      nodes: [
        { name: 'n1', load: 2 },
        { name: 'n2', available: false },
      ],
    });
    const value = (token: symbol) => providers.find((p) => p.provide === token)?.useValue;
    expect(value(PROTES_CONFIG)).toEqual({ service: { id: 'test' } });
    const directory = value(NODE_DIRECTORY) as NodeDirectory;
    expect((await directory.list()).map((n) => [n.name, n.available, n.load])).toEqual([
      ['n1', true, 2],
      ['n2', false, 0],
    ]);
    expect(await directory.get('n3')).toBeUndefined();
    expect(await (value(NODE_LOAD) as NodeLoad).of('n1')).toBe(2);
    expect(value(HTTP_CLIENT)).toBeDefined();
  });
});
