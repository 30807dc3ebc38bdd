import { LeastLoadedMiddleware } from './least-loaded.middleware';
import { context, names, node } from './testing/fixtures';

describe('LeastLoadedMiddleware', () => {
  const middleware = new LeastLoadedMiddleware();

  it('is named least-loaded', () => {
    expect(middleware.name).toBe('least-loaded');
  });

  it('orders by load relative to weight, ties in incoming order', async () => {
    const candidates = [
      node('a', { weight: 1 }, { load: 4 }), // 4
      node('b', { weight: 3 }, { load: 6 }), // 2
      node('c', { weight: 1 }, { load: 0 }), // 0
      node('d', { weight: 1 }, { load: 2 }), // 2
      node('e', { weight: 4 }, { load: 12 }), // 3
    ];
    expect(names(await middleware.handle(context(candidates)))).toEqual(['c', 'b', 'd', 'e', 'a']);
    const swapped = [candidates[3], candidates[1], candidates[0], candidates[2], candidates[4]];
    expect(names(await middleware.handle(context(swapped)))).toEqual(['c', 'd', 'b', 'e', 'a']);
  });

  it('prefers the bigger node at equal load', async () => {
    const candidates = [
      node('small', { weight: 1 }, { load: 5 }),
      node('big', { weight: 5 }, { load: 5 }),
    ];
    expect(names(await middleware.handle(context(candidates)))).toEqual(['big', 'small']);
  });

  it('puts weight 0 nodes after all others, and unhealthy ones after healthy ones', async () => {
    const candidates = [
      node('idle-sick', {}, { load: 0, healthy: false }),
      node('zero', { weight: 0 }, { load: 0 }),
      node('busy', {}, { load: 50 }),
    ];
    expect(names(await middleware.handle(context(candidates)))).toEqual([
      'busy',
      'zero',
      'idle-sick',
    ]);
  });
});
