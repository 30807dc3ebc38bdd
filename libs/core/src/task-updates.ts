import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskRecord } from './task-record';
import { StaleVersionError, type TaskStore } from './task-store';

/**
 * Read-modify-write of one task without losing a concurrent update: `mutate` gets the current
 * record and returns the record to store (or undefined for no change), and is run again on a fresh
 * read whenever another writer got there first. `mutate` may therefore run several times and must
 * not have side effects. The id and version of what it returns are ignored.
 *
 * Returns the stored record (the current one when nothing changed), or undefined when there is no
 * task with this id. After `maxAttempts` stale writes the StaleVersionError is thrown.
 */
export async function updateTask(
  store: TaskStore,
  id: string,
  mutate: (current: TaskRecord) => TaskRecord | undefined,
  maxAttempts = 10,
): Promise<TaskRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.get(id);
    if (!current) return undefined;
    const next = mutate(current);
    if (!next) return current;
    try {
      return await store.replace({ ...next, id, version: current.version });
    } catch (err) {
      if (!(err instanceof StaleVersionError) || attempt >= maxAttempts) throw err;
    }
    // Random, growing pauses: writers that collided all retrying at once would collide again, and
    // only one of them would get through per round.
    await sleep(Math.random() * 2 ** attempt);
  }
}
