import type { NodeCandidate, TaskContext } from '@protes/distribution';
import { PreferTaggedNodeMiddleware } from './prefer-tagged-node.middleware';
import { RejectLargeTasksMiddleware } from './reject-large-tasks.middleware';

const node = (name: string, tags?: Record<string, string>): NodeCandidate => ({
  name,
  health: { healthy: true },
  metadata: { weight: 1, tags },
  load: 0,
});

function context(settings: Record<string, unknown>, cpuCores?: number): TaskContext {
  const task = {
    executors: [{ image: 'alpine', command: ['true'] }],
    resources: { cpu_cores: cpuCores },
  };
  return {
    taskId: 't1',
    received: task,
    task,
    caller: { subject: 'anonymous', headers: {} },
    candidates: [node('a'), node('b', { gpu: 'a100' }), node('c', { gpu: 'v100' })],
    settings,
  };
}

const names = (c: TaskContext) => c.candidates.map((n) => n.name);

describe('prefer-tagged-node', () => {
  const middleware = new PreferTaggedNodeMiddleware();

  it('puts the nodes with the tag first, the others after in their order', async () => {
    expect(names(await middleware.handle(context({ tag: 'gpu' })))).toEqual(['b', 'c', 'a']);
    expect(names(await middleware.handle(context({ tag: 'gpu', value: 'v100' })))).toEqual([
      'c',
      'a',
      'b',
    ]);
  });

  it('fails (so a fallback can take over) without a tag setting', () => {
    expect(() => middleware.handle(context({}))).toThrow(/tag must be a string/);
  });
});

describe('reject-large-tasks', () => {
  const middleware = new RejectLargeTasksMiddleware();

  it('lets a task within the ceilings through unchanged', async () => {
    const given = context({ maxCpuCores: 8 }, 8);
    expect(await middleware.handle(given)).toBe(given);
  });

  it('refuses a task above a ceiling with a rejection proTES recognises by name', () => {
    expect(() => middleware.handle(context({ maxCpuCores: 8 }, 9))).toThrow(
      expect.objectContaining({
        name: 'MiddlewareRejection',
        status: 400,
        message: 'resources.cpu_cores is 9, more than the 8 allowed',
      }),
    );
  });
});
