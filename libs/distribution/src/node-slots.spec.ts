import { NodeSlots } from './node-slots';

/** A call that stays in flight until released. */
function pending(): { promise: Promise<void>; release: () => void } {
  let release = () => undefined as void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

describe('NodeSlots', () => {
  it('lets at most the limit run per node, the rest in order of arrival, other nodes unaffected', async () => {
    const slots = new NodeSlots(2);
    const started: string[] = [];
    const calls = ['a1', 'a2', 'a3', 'a4'].map((name) => {
      const call = pending();
      const done = slots.run('a', () => {
        started.push(name);
        return call.promise;
      });
      return { ...call, done };
    });
    const other = slots.run('b', () => {
      started.push('b1');
      return Promise.resolve();
    });
    await other;
    expect(started).toEqual(['a1', 'a2', 'b1']);
    calls[1].release();
    await calls[1].done;
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    calls[0].release();
    calls[2].release();
    calls[3].release();
    await Promise.all(calls.map((c) => c.done));
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
  });

  it('lets the waiting calls, and later ones, run at once once closed, the calls in flight untouched', async () => {
    const slots = new NodeSlots(1);
    const first = pending();
    const started: string[] = [];
    const inFlight = slots.run('a', () => {
      started.push('a1');
      return first.promise;
    });
    const waiting = slots.run('a', () => {
      started.push('a2');
      return Promise.resolve();
    });
    expect(started).toEqual(['a1']);
    slots.close();
    await waiting;
    await slots.run('a', () => {
      started.push('a3');
      return Promise.resolve();
    });
    expect(started).toEqual(['a1', 'a2', 'a3']);
    first.release();
    await inFlight;
  });

  it('frees the slot of a call that failed', async () => {
    const slots = new NodeSlots(1);
    await expect(slots.run('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(slots.run('a', () => Promise.resolve(7))).resolves.toBe(7);
  });
});
