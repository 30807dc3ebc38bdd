import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { monotonicFactory } from 'ulid';
import { newTaskRecord, type TaskRecord } from '@protes/core';
import { SqliteTaskStore } from '@protes/persistence';
import { nodesEnv, startGateway, startSimulator, type Started } from './processes';

/*
 * Idle CPU of a standalone gateway (tracker in-process) following N RUNNING tasks on simulator
 * nodes where nothing changes: the idle figure of target 4 of issue 10 (the bench's tracking part)
 * alone, at any N, for profiling. Not part of `npm run bench` or `npm test`.
 *
 *   node dist/scripts/idle-probe.js [--tasks 10000] [--nodes 10] [--settle 25] [--window 30]
 *                                   [--perf] [--node-args "--cpu-prof --cpu-prof-dir=DIR"]
 *                                   [--takeover]
 *
 * It prints the gateway's pid, then "measuring" when the window starts: with --perf (the gateway
 * runs with --perf-basic-prof, so that perf names JS frames), `perf record -g -p <pid>` started
 * then samples the idle window.
 *
 * With --takeover, the gateway is then killed (SIGKILL, so its leases stay), a second one started
 * on the same store with the default tracker.claimBatch, and the probe reports how long after the
 * dead tracker's lease expired the new one held every task (docs/tracking.md).
 */

const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const tasks = Number(flag('tasks') ?? 10_000);
const nodes = Number(flag('nodes') ?? 10);
const settleS = Number(flag('settle') ?? 25);
const windowS = Number(flag('window') ?? 30);
const perf = process.argv.includes('--perf');
const nodeArgs = (flag('node-args') ?? '').split(' ').filter(Boolean);
const takeover = process.argv.includes('--takeover');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const TASK = { name: 'probe', executors: [{ image: 'alpine', command: ['true'] }] };

/** Creates `count` tasks on the simulator, `inFlight` at a time, and their records. */
async function seedNode(sim: Started, node: string, count: number): Promise<TaskRecord[]> {
  const id = monotonicFactory();
  const records: TaskRecord[] = [];
  const ids = Array.from({ length: count }, () => id().toLowerCase());
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const response = await fetch(`${sim.url}/ga4gh/tes/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...TASK, tags: { protes_id: ids[i] } }),
      });
      const { id: remoteId } = (await response.json()) as { id: string };
      records[i] = {
        ...newTaskRecord(ids[i], 'anonymous', TASK),
        state: 'RUNNING',
        node,
        remoteId,
      };
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return records;
}

/**
 * Seconds from the expiry of the dead tracker's lease until another tracker holds all its tasks,
 * read from the store file as a third process would.
 */
async function takenOverAfterS(path: string): Promise<string> {
  const db = new Database(path, { readonly: true, timeout: 5000 });
  try {
    const dead = db
      .prepare<[], { owner: string; expires: number }>('SELECT owner, expires FROM lease_owners')
      .get();
    if (!dead) throw new Error('no tracker held the tasks');
    // Taken over tasks go from the dead owner to a live one directly.
    const left = db
      .prepare<[string], number>('SELECT EXISTS (SELECT 1 FROM tasks WHERE lease_owner = ?)')
      .pluck();
    while (left.get(dead.owner)) await sleep(250);
    return ((Date.now() - dead.expires) / 1000).toFixed(1);
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idle-probe-'));
  const running: Started[] = [];
  try {
    const sims: Started[] = [];
    for (let i = 0; i < nodes; i++) {
      const sim = await startSimulator({ name: `sim-${i}`, args: ['--running-ms', '86400000'] });
      sims.push(sim);
      running.push(sim);
    }
    const path = join(dir, 'tracked.db');
    const store = new SqliteTaskStore({ path });
    const perNode = Math.ceil(tasks / nodes);
    const began = Date.now();
    const all = await Promise.all(sims.map((sim, n) => seedNode(sim, `sim-${n}`, perNode)));
    for (const records of all) await store.createMany(records);
    await store.close();
    console.log(`seeded ${perNode * nodes} tasks in ${((Date.now() - began) / 1000).toFixed(0)} s`);

    const env = {
      PROTES_CONFIG: '',
      PROTES_SERVER__PORT: '0',
      PROTES_STORE__SQLITE_PATH: path,
      PROTES_NODES: nodesEnv(sims.map((s, i) => ({ name: `sim-${i}`, url: s.url }))),
      PROTES_LOG__LEVEL: 'error',
    };
    const gateway = await startGateway(
      { ...env, PROTES_TRACKER__CLAIM_BATCH: String(tasks) },
      false,
      [...(perf ? ['--perf-basic-prof'] : []), ...nodeArgs],
    );
    running.push(gateway);
    const pid = gateway.child.pid ?? 0;
    console.log(`gateway pid ${pid}; settling ${settleS} s`);
    await sleep(settleS * 1000);
    await Promise.all(sims.map((s) => fetch(`${s.url}/sim/reset-stats`, { method: 'POST' })));
    const before = cpuSeconds(pid);
    console.log(`measuring ${windowS} s`);
    await sleep(windowS * 1000);
    const cpu = (cpuSeconds(pid) - before) / windowS;
    const rssMb =
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
    const stats = await Promise.all(
      sims.map(async (s) => {
        const body = (await (await fetch(`${s.url}/sim/stats`)).json()) as {
          requests: Record<string, number>;
        };
        return body.requests;
      }),
    );
    const lists = stats.reduce((sum, s) => sum + (s['GET /tasks'] ?? 0), 0) / nodes;
    const gets = stats.reduce((sum, s) => sum + (s['GET /tasks/:id'] ?? 0), 0) / nodes;
    console.log(
      `tasks ${perNode * nodes}: idle CPU ${(cpu * 100).toFixed(1)}% of a core; per node: ${lists} list calls, ${gets} gets; RSS ${rssMb.toFixed(0)} MB`,
    );
    if (takeover) {
      await gateway.stop('SIGKILL');
      running.push(await startGateway(env));
      console.log(`takeover: ${await takenOverAfterS(path)} s after expiry`);
    }
  } finally {
    for (const p of running.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
