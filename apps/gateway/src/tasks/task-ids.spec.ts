import { decodeTime } from 'ulid';
import { newTaskId } from './task-ids';

describe('newTaskId', () => {
  it('gives lower-case ULIDs in the order they were made, none twice', () => {
    const before = Date.now();
    // More ids than one pool of random bytes serves (4096 bytes, 16 per new millisecond).
    const ids = Array.from({ length: 20_000 }, () => newTaskId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const time = decodeTime(ids[0].toUpperCase());
    expect(time).toBeGreaterThanOrEqual(before);
    expect(decodeTime(ids[ids.length - 1].toUpperCase())).toBeLessThanOrEqual(Date.now());
  });

  it('draws the random part afresh for each new millisecond', () => {
    // The first id of each of fifty milliseconds.
    const firsts: string[] = [];
    let last = '';
    while (firsts.length < 50) {
      const id = newTaskId();
      if (id.slice(0, 10) !== last.slice(0, 10)) firsts.push(id);
      last = id;
    }
    const randomParts = new Set(firsts.map((id) => id.slice(10)));
    // Fifty milliseconds, fifty different random parts (an exhausted or stuck pool repeats).
    expect(randomParts.size).toBe(50);
  });
});
