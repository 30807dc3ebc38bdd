import { schemaValidator, type TesTask, type TesTaskRequest, TesTaskSchema } from '@protes/tes';
import { MiddlewareError, MiddlewareRejection } from '../middleware';
import { implementsHook } from '../node-hooks';
import { TesCompatMiddleware } from './tes-compat.middleware';
import { context, names, node, task } from './testing/fixtures';

describe('TesCompatMiddleware', () => {
  const middleware = new TesCompatMiddleware();
  const old = node('old', { tesVersion: '1.0.0' });
  const oldPatch = node('old-patch', { tesVersion: '1.0.1' });
  const current = node('current', { tesVersion: '1.1.0' });
  const unknown = node('unknown');

  /** A task using every 1.1 addition in a way a 1.0 node can do without. */
  const droppable: TesTaskRequest = task({
    inputs: [
      { path: '/in/a', url: 's3://b/a', streamable: true },
      { path: '/in/b', content: 'x', type: 'DIRECTORY' },
    ],
    outputs: [{ path: '/out/x', url: 's3://b/x', path_prefix: '/out' }],
    executors: [{ image: 'alpine', command: ['true'], ignore_error: false }],
    resources: {
      cpu_cores: 2,
      backend_parameters: { vm_size: 'l' },
      backend_parameters_strict: false,
    },
  });

  it('is named tes-compat', () => {
    expect(middleware.name).toBe('tes-compat');
  });

  it.each([
    [
      'a wildcard output',
      task({ outputs: [{ path: '/out/*.vcf', url: 's3://b/', path_prefix: '/out' }] }),
      'outputs[0].path',
    ],
    [
      'a bracket wildcard',
      task({
        outputs: [
          { path: '/o/x', url: 's3://b/x' },
          { path: '/o/[ab].txt', url: 's3://b/' },
        ],
      }),
      'outputs[1].path',
    ],
    [
      'ignore_error',
      task({
        executors: [
          { image: 'a', command: ['x'] },
          { image: 'a', command: ['y'], ignore_error: true },
        ],
      }),
      'executors[1].ignore_error',
    ],
    [
      'strict backend parameters',
      task({ resources: { backend_parameters: { gpu: '1' }, backend_parameters_strict: true } }),
      'resources.backend_parameters',
    ],
  ])(
    'routes %s away from TES 1.0 nodes, and refuses it when only those are left',
    async (_, t, field) => {
      const out = await middleware.handle(context([old, current, oldPatch, unknown], t));
      expect(names(out)).toEqual(['current', 'unknown']);
      expect(out.task).toBe(t);
      const error = await middleware.handle(context([old, oldPatch], t)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MiddlewareRejection);
      expect(error).toMatchObject({ status: 400, field });
    },
  );

  it('keeps 1.0 nodes for a task whose 1.1 fields can be dropped', async () => {
    const out = await middleware.handle(context([current, old], droppable));
    expect(names(out)).toEqual(['current', 'old']);
    expect(out.task).toBe(droppable);
  });

  it('leaves the task as it is, whichever node comes first: each node gets its own at forwarding', async () => {
    const out = await middleware.handle(context([oldPatch, current], droppable));
    expect(names(out)).toEqual(['old-patch', 'current']);
    expect(out.task).toBe(droppable);
  });

  it('implements the forNode and fromNode hooks, and no toClient', () => {
    expect(implementsHook(middleware, 'forNode')).toBe(true);
    expect(implementsHook(middleware, 'fromNode')).toBe(true);
    expect(implementsHook(middleware, 'toClient')).toBe(false);
  });

  describe('forNode', () => {
    it('rewrites the task for a 1.0 node, without losing its meaning', () => {
      expect(middleware.forNode(droppable, oldPatch)).toEqual({
        inputs: [
          { path: '/in/a', url: 's3://b/a', type: 'FILE' },
          { path: '/in/b', content: 'x', type: 'DIRECTORY' },
        ],
        outputs: [{ path: '/out/x', url: 's3://b/x', type: 'FILE' }],
        executors: [{ image: 'alpine', command: ['true'] }],
        resources: { cpu_cores: 2 },
      });
      expect(droppable.inputs?.[0]).toHaveProperty('streamable', true);
    });

    it('gives a 1.1 node, or one whose version is not known yet, the task as it is', () => {
      expect(middleware.forNode(droppable, current)).toBe(droppable);
      expect(middleware.forNode(droppable, unknown)).toBe(droppable);
    });

    it('adds no field a task did not have', () => {
      expect(middleware.forNode(task(), old)).toStrictEqual(task());
    });

    it('fails for a 1.0 node a task that needs 1.1 (the chain changed since it ran)', () => {
      const t = task({ executors: [{ image: 'a', command: ['x'], ignore_error: true }] });
      expect(() => middleware.forNode(t, old)).toThrow(MiddlewareError);
      expect(() => middleware.forNode(t, old)).toThrow(
        'executors[0].ignore_error needs TES 1.1, and node old speaks TES 1.0.0',
      );
      expect(middleware.forNode(t, current)).toBe(t);
    });
  });

  describe('fromNode', () => {
    const valid = schemaValidator<TesTask>(TesTaskSchema);
    /** A 1.0 answer as a protobuf-based server writes it: defaults left out, numbers. */
    const sparse = {
      id: 'r1',
      inputs: [{ path: '/in/a', url: 's3://b/a', type: 'FILE' }],
      executors: [{ image: 'alpine', command: ['true'] }],
      logs: [
        {
          logs: [{ start_time: '2024-01-01T00:00:00Z' }, { exit_code: 3 }],
          metadata: { host: 'w1', slurm_id: 123456 },
          outputs: [{ url: 's3://b/x', path: '/out/x', size_bytes: 1024 }],
        },
        {},
      ],
    } as unknown as TesTask;

    it('reads a 1.0 answer as TES 1.1: defaults filled in, numbers as strings', () => {
      const read = middleware.fromNode(sparse, old);
      expect(read).toEqual({
        id: 'r1',
        state: 'UNKNOWN',
        inputs: [{ path: '/in/a', url: 's3://b/a', type: 'FILE' }],
        executors: [{ image: 'alpine', command: ['true'] }],
        logs: [
          {
            logs: [{ start_time: '2024-01-01T00:00:00Z', exit_code: 0 }, { exit_code: 3 }],
            metadata: { host: 'w1', slurm_id: '123456' },
            outputs: [{ url: 's3://b/x', path: '/out/x', size_bytes: '1024' }],
          },
          { logs: [], outputs: [] },
        ],
      });
      expect(valid(read)).toBe(true);
      expect(valid(sparse)).toBe(false);
    });

    it('leaves a complete 1.0 answer as it is', () => {
      const complete: TesTask = {
        id: 'r2',
        state: 'COMPLETE',
        executors: [{ image: 'alpine', command: ['true'] }],
        logs: [{ logs: [{ exit_code: 0 }], outputs: [], system_logs: ['done'] }],
      };
      expect(middleware.fromNode(complete, old)).toEqual(complete);
    });

    it("leaves a 1.1 node's answer alone", () => {
      expect(middleware.fromNode(sparse, current)).toBe(sparse);
    });
  });

  it('leaves an empty candidate list for the chain to handle', async () => {
    const t = task({ executors: [{ image: 'a', command: ['x'], ignore_error: true }] });
    expect(names(await middleware.handle(context([], t)))).toEqual([]);
  });

  it.each([
    ['1.0.0', true],
    ['v1.0', true],
    ['0.3.0', true],
    ['1.1.0', false],
    ['1.2.0-rc1', false],
    ['2.0', false],
    ['unparsable', false],
  ])('takes version %s as TES 1.0: %s', async (tesVersion, isOld) => {
    const t = task({ executors: [{ image: 'a', command: ['x'], ignore_error: true }] });
    const out = await middleware.handle(context([node('n', { tesVersion }), current], t));
    expect(names(out)).toEqual(isOld ? ['current'] : ['n', 'current']);
  });
});
