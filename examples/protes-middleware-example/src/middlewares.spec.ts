import { Test } from '@nestjs/testing';
import {
  candidate,
  expectRejection,
  runMiddleware,
  taskRequest,
  testPorts,
} from '@protes/middleware-sdk/testing';
import { PreferTaggedNodeMiddleware } from './prefer-tagged-node.middleware';
import { RejectLargeTasksMiddleware } from './reject-large-tasks.middleware';

const candidates = [
  candidate('a'),
  candidate('b', { metadata: { tags: { gpu: 'a100' } } }),
  candidate('c', { metadata: { tags: { gpu: 'v100' } } }),
];

const asking = (cpuCores: number) => taskRequest({ resources: { cpu_cores: cpuCores } });

describe('prefer-tagged-node', () => {
  const middleware = new PreferTaggedNodeMiddleware();

  it('puts the nodes with the tag first, the others after in their order', async () => {
    expect(
      (await runMiddleware(middleware, { candidates, settings: { tag: 'gpu' } })).order,
    ).toEqual(['b', 'c', 'a']);
    const { order, removed } = await runMiddleware(middleware, {
      candidates,
      settings: { tag: 'gpu', value: 'v100' },
    });
    expect(order).toEqual(['c', 'a', 'b']);
    expect(removed).toEqual([]);
  });

  it('keeps the order when no node has the tag', async () => {
    const { order } = await runMiddleware(middleware, { candidates, settings: { tag: 'ssd' } });
    expect(order).toEqual(['a', 'b', 'c']);
  });
});

describe('reject-large-tasks', () => {
  const nodes = [
    { name: 'big', metadata: { weight: 1, resources: { cpuCores: 64 } }, available: false },
    { name: 'small', metadata: { weight: 1, resources: { cpuCores: 8 } } },
  ];

  /** Made by Nest, as the gateway does, with the SDK's ports over fixed nodes. */
  async function make(): Promise<RejectLargeTasksMiddleware> {
    const module = await Test.createTestingModule({
      providers: [RejectLargeTasksMiddleware, ...testPorts({ nodes })],
    }).compile();
    return module.get(RejectLargeTasksMiddleware);
  }

  it('lets a task within the ceilings through unchanged', async () => {
    const { context, order } = await runMiddleware(await make(), {
      task: asking(8),
      settings: { maxCpuCores: 8 },
    });
    expect(context.task).toEqual(asking(8));
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('refuses a task above a ceiling with a rejection proTES recognises', async () => {
    const middleware = await make();
    await expectRejection(
      runMiddleware(middleware, { task: asking(9), settings: { maxCpuCores: 8 } }),
      {
        status: 400,
        message: 'resources.cpu_cores is 9, more than the 8 allowed',
        field: 'resources.cpu_cores',
      },
    );
  });

  it('with largestNode, refuses what no configured node offers, counting nodes that are down', async () => {
    const middleware = await make();
    const settings = { largestNode: true };
    await runMiddleware(middleware, { task: asking(64), settings });
    await expectRejection(runMiddleware(middleware, { task: asking(65), settings }), {
      message: 'resources.cpu_cores is 65, more than any node offers (64)',
    });
  });
});
