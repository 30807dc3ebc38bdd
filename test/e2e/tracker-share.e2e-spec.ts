import type { TaskRecord } from '@protes/core';
import type { TesTask } from '@protes/tes';
import type { SqliteTaskStore } from '@protes/persistence';
import type { Started } from '../../scripts/processes';
import { DistributedCluster, skippedWithoutBroker } from './distributed-fixture';
import {
  AMQP_URL,
  type CheckedApi,
  copiesOnNodes,
  leaseOwnerOf,
  runTask,
  scrape,
  simCall,
  TES_PATH,
  total,
  waitFor,
} from './helpers';

/**
 * How tracker processes share the work of distributed mode, with real processes: one gateway, two
 * trackers and three simulated nodes over RabbitMQ and one SQLite file. Under steady load each
 * claim takes at most `tracker.claimBatch` free tasks, so the two trackers end up holding about as
 * many tasks each; a tracker that stops hands its tasks over to the other one; and a state change
 * on a node reaches the store within two polls of that node.
 *
 * The tasks run for ten minutes, so that none ends while the shares are read. Needs the build
 * (`npm run build`) and a RabbitMQ at TEST_AMQP_URL; without it the suite is skipped and says so.
 */
const RUN = `share${Date.now().toString(36)}`;
/**
 * Nodes that answer in 300 ms (`--latency-ms`), as a remote node does: a round that claimed waits
 * for its polls, and meanwhile the other tracker claims.
 */
const SIM_ARGS = [
  ...['--queued-ms', '50', '--initializing-ms', '50', '--running-ms', '600000'],
  ...['--latency-ms', '300'],
];
/**
 * Few waves, an odd number: if a claim took every free task, each wave would go whole to one
 * tracker, and 3 waves against 2 (90 vs 60) is more than 25% apart. Checked with CLAIM_BATCH set to
 * 100000: each wave went whole to the tracker that resumed first, and the share test failed (90 vs
 * 60); with 5, the waves split 15/15 (once 10/20) and the trackers held 80 and 70.
 */
const WAVES = 5;
const WAVE_SIZE = 30;
/** Well below a wave, so that taking a wave takes both trackers several rounds. */
const CLAIM_BATCH = 5;
const LEASE_MS = 6000;
/** How long the task whose end is followed runs: long enough for its node's polls to back off. */
const RUN_MS = 4000;

const cluster = new DistributedCluster({
  run: RUN,
  simArgs: SIM_ARGS,
  env: {
    // Short leases, so that a killed tracker's tasks are taken over within seconds; far longer
    // than a wave's pause, so that none expires meanwhile.
    PROTES_TRACKER__LEASE_MS: String(LEASE_MS),
    PROTES_TRACKER__CLAIM_BATCH: String(CLAIM_BATCH),
  },
});
/** The trackers running now, oldest first; stopped ones are taken out. */
const { sims, trackers } = cluster;
let api: CheckedApi;
let store: SqliteTaskStore;

/** Submits `count` tasks at once; returns their ids. */
const wave = (count: number, tags: Record<string, string> = {}): Promise<string[]> =>
  Promise.all(Array.from({ length: count }, () => api.create(runTask(RUN, `${RUN}-task`, tags))));

/**
 * A wave that arrives while every tracker is busy (paused, here: SIGSTOP), so that it waits in the
 * store as a pile of free tasks until they resume (SIGCONT, in the given order) and claim.
 */
async function pileUp(order: readonly Started[]): Promise<string[]> {
  for (const t of order) t.child.kill('SIGSTOP');
  try {
    return await wave(WAVE_SIZE);
  } finally {
    for (const t of order) t.child.kill('SIGCONT');
  }
}

/** A task's lease owner, unless the lease has expired (then the task is free to claim). */
const holderOf = (r: TaskRecord, now: number): string | undefined =>
  r.lease && Date.parse(r.lease.expiresAt) > now ? r.lease.owner : undefined;

/** The unfinished tasks of the store, once each of `ids` is on a node and held by a tracker. */
function placedAndHeld(ids: readonly string[]): Promise<TaskRecord[]> {
  let waiting = ids.length;
  return waitFor(
    `${ids.length} tasks to be placed on a node and held by a tracker`,
    async () => {
      const now = Date.now();
      const records = await store.listUnfinished();
      const wanted = new Set(ids);
      const done = records.filter((r) => wanted.has(r.id) && r.remoteId && holderOf(r, now));
      waiting = ids.length - done.length;
      return waiting === 0 && records;
    },
    { timeoutMs: 60_000, intervalMs: 200, describe: () => `${waiting} not yet` },
  );
}

/** How many unfinished tasks each tracker holds (undefined: free ones), as of `now`. */
function shares(records: readonly TaskRecord[], now = Date.now()): Map<string | undefined, number> {
  const counts = new Map<string | undefined, number>();
  for (const r of records) {
    const holder = holderOf(r, now);
    counts.set(holder, (counts.get(holder) ?? 0) + 1);
  }
  return counts;
}

if (AMQP_URL) {
  beforeAll(async () => {
    api = await cluster.start(2);
    // The test reads the file the processes share, as a third process would.
    store = cluster.openStore();
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await cluster.stop();
  }, 60_000);

  describe('trackers sharing the work (RabbitMQ, 1 gateway, 2 trackers, 3 nodes)', () => {
    const submitted: string[] = [];
    /** The tasks that ran to their end (the others run for longer than the suite). */
    const ended = new Set<string>();

    it(`holds within 25% of each other after ${WAVES} waves of ${WAVE_SIZE} tasks`, async () => {
      let records: TaskRecord[] = [];
      for (let i = 0; i < WAVES; i++) {
        // Each tracker resumes first every other wave, and the next wave comes once this one is
        // held, so that each is one pile that both could take.
        submitted.push(...(await pileUp(i % 2 ? [...trackers].reverse() : trackers)));
        records = await placedAndHeld(submitted);
      }

      const owners = trackers.map(leaseOwnerOf);
      const counts = shares(records);
      const [a, b] = owners.map((owner) => counts.get(owner) ?? 0);
      console.log(`tasks held after ${WAVES} waves: ${a} and ${b}`);
      // Every task is held by one of the two trackers (a lease has one owner)...
      expect([...counts.keys()].sort()).toEqual([...owners].sort());
      expect(a + b).toBe(submitted.length);
      // ...and neither holds much more than the other.
      expect(Math.abs(a - b)).toBeLessThanOrEqual(0.25 * Math.max(a, b));
    }, 120_000);

    it('brings a state change on a node to the store within two polls of that node', async () => {
      const [id] = await wave(1, { 'sim.run_ms': String(RUN_MS) });
      submitted.push(id);
      await placedAndHeld([id]);
      const record = await store.get(id);
      const holder = trackers.find((t) => leaseOwnerOf(t) === record?.lease?.owner);
      const node = record?.node ?? '';
      if (!holder || !record?.remoteId)
        throw new Error(`task ${id} not held: ${JSON.stringify(record)}`);

      // Until the store has the change: the holder's count of polls of the node, each sample
      // with the moment it was read; the moment the node ended the task is on its log.
      const samples: { at: number; polls: number }[] = [];
      await waitFor(
        'the store to show the task COMPLETE',
        async () => {
          const polls = total(await scrape(holder.url), 'protes_tracker_polls_total', { node });
          samples.push({ at: Date.now(), polls });
          return (await store.get(id))?.state === 'COMPLETE';
        },
        { timeoutMs: RUN_MS + 30_000, intervalMs: 10 },
      );
      const storedAt = Date.now();
      ended.add(id);
      const onNode = await simCall<TesTask>(
        `${sims.get(node)?.url}${TES_PATH}/tasks/${record.remoteId}?view=BASIC`,
      );
      expect(onNode.body.state).toBe('COMPLETE');
      const endedAt = Date.parse(onNode.body.logs?.[0]?.end_time ?? '');
      // Polls counted from before the end (a count read, whole, before it) to after the store
      // had it: an upper bound of the polls the change took.
      const before = samples.filter((s) => s.at < endedAt).at(-1);
      const after = samples.at(-1);
      if (!before || !after) throw new Error('no poll count read before the task ended');
      console.log(
        `state change on ${node} reached the store after ${after.polls - before.polls} polls, ` +
          `seen ${storedAt - endedAt} ms after it happened`,
      );
      expect(after.polls - before.polls).toBeGreaterThanOrEqual(1);
      expect(after.polls - before.polls).toBeLessThanOrEqual(2);
    }, 60_000);

    // distributed.e2e-spec.ts kills a tracker amid a broker restart and checks that every task
    // still ends in its state; here the handover itself: who holds which task before and after.
    it.each(['SIGTERM', 'SIGKILL'] as const)(
      'hands the tasks of a tracker stopped by %s over to the other one',
      async (signal) => {
        // Two trackers again (the previous variant stopped one), both with tasks.
        if (trackers.length < 2) await cluster.addTracker();
        const [victim, survivor] = trackers;
        const [victimOwner, survivorOwner] = [victim, survivor].map(leaseOwnerOf);
        submitted.push(...(await wave(WAVE_SIZE)));
        // Stopped amid its work: while it forwards a task of the wave (held, not yet on a node).
        const victims = await waitFor(
          'the tracker to stop to be forwarding a task',
          async () => {
            const now = Date.now();
            const held = (await store.listUnfinished()).filter(
              (r) => holderOf(r, now) === victimOwner,
            );
            return held.some((r) => !r.remoteId) && held.map((r) => r.id);
          },
          { timeoutMs: 30_000, intervalMs: 10 },
        );

        await victim.stop(signal);
        trackers.shift();
        if (signal === 'SIGTERM') {
          // A tracker that stops in order frees its leases on the way out: no waiting for them
          // to expire.
          const after = await store.listUnfinished();
          expect(after.filter((r) => r.lease?.owner === victimOwner).map((r) => r.id)).toEqual([]);
        }

        let counts = new Map<string | undefined, number>();
        await waitFor(
          'the survivor to hold every task, each on a node',
          async () => {
            const unfinished = await store.listUnfinished();
            counts = shares(unfinished);
            const all = counts.get(survivorOwner) === unfinished.length;
            return all && unfinished.every((r) => r.remoteId);
          },
          { timeoutMs: 90_000, intervalMs: 200, describe: () => JSON.stringify([...counts]) },
        );
        const now = Date.now();
        for (const id of victims) {
          const taken = await store.get(id);
          expect([id, taken && holderOf(taken, now)]).toEqual([id, survivorOwner]);
        }
      },
      150_000,
    );

    it('followed each task once: a cancel reaches its one copy, on one node', async () => {
      const answers = await Promise.all(
        submitted.filter((id) => !ended.has(id)).map((id) => api.cancel(id)),
      );
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      let active = submitted.length;
      await waitFor(
        'every task to be canceled',
        async () => {
          const tasks = await api.listAll({ tag_key: 'e2e.run', tag_value: RUN, view: 'MINIMAL' });
          active = tasks.filter((t) => !ended.has(t.id) && t.state !== 'CANCELED').length;
          return active === 0;
        },
        { timeoutMs: 90_000, intervalMs: 500, describe: () => `${active} not canceled` },
      );
      const copies = await copiesOnNodes(sims);
      expect([...copies.keys()].sort()).toEqual([...submitted].sort());
      const wrong = [...copies].filter(
        ([id, on]) =>
          on.length !== 1 || on[0].task.state !== (ended.has(id) ? 'COMPLETE' : 'CANCELED'),
      );
      expect(wrong).toEqual([]);
      expect(api.violations).toEqual([]);
    }, 120_000);
  });
} else {
  skippedWithoutBroker('trackers sharing the work');
}
