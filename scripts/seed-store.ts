import { monotonicFactory } from 'ulid';
import { newTaskRecord, type TaskRecord } from '@protes/core';
import type { SqliteTaskStore } from '@protes/persistence';

/** What seeding needs of a store: its bulk loader. */
export type SeededStore = Pick<SqliteTaskStore, 'createMany'>;

/** The task every seeded record was received with. */
export const SEED_TASK = { name: 'bench', executors: [{ image: 'alpine', command: ['true'] }] };
const FINISHED = ['COMPLETE', 'EXECUTOR_ERROR', 'CANCELED'] as const;

/** Records per createMany call: one transaction each. */
export const SEED_BATCH = 10_000;

/**
 * Adds tasks to the store until it holds `total`, in transactions of SEED_BATCH records: finished
 * ones in three states, each tagged with one of ten `bench` values, named with one of a hundred
 * names, ids in creation order.
 */
export async function seedStore(store: SeededStore, from: number, total: number): Promise<void> {
  // Math.random, not the default crypto source: that one draws each of an id's 16 random
  // characters from the kernel, which costs more than storing the record. Ids only need to be
  // unique and ordered here.
  const id = monotonicFactory(Math.random);
  const start = Date.now() - total;
  for (let at = from; at < total; at += SEED_BATCH) {
    const batch: TaskRecord[] = [];
    for (let i = at; i < Math.min(total, at + SEED_BATCH); i++) {
      const task = { ...SEED_TASK, name: `bench-${i % 100}`, tags: { bench: String(i % 10) } };
      const record = newTaskRecord(id(start + i).toLowerCase(), 'anonymous', task);
      batch.push({ ...record, state: FINISHED[i % 3], node: 'sim-0', remoteId: `r${i}` });
    }
    await store.createMany(batch);
  }
}
