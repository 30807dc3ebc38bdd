import type { TesTaskRequest } from '@protes/tes';
import { MiddlewareRejection } from '../middleware';
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

  it('rewrites the task for a 1.0 node that comes first, without losing its meaning', async () => {
    const out = await middleware.handle(context([oldPatch, current], droppable));
    expect(names(out)).toEqual(['old-patch', 'current']);
    expect(out.task).toEqual({
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

  it('adds no field a task did not have', async () => {
    const out = await middleware.handle(context([old], task()));
    expect(out.task).toStrictEqual(task());
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
