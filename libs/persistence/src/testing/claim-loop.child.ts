import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteTaskStore } from '../sqlite-task-store';

/*
 * A tracker stand-in for the multi-process lease test in sqlite-task-store.spec.ts. The test forks
 * it from the build output (dist/), so that it runs as a Node process of its own, with its own
 * SQLite connection, exactly as a second tracker would:
 *
 *   node claim-loop.child.js <database file> <owner> <new tasks per round>
 *
 * It opens the store, says 'ready' over the IPC channel and waits for any message, so that the
 * test can start every child at the same moment. Then it claims in rounds until a round brings
 * nothing new, and writes each round's newly claimed ids to stdout as one JSON array per line.
 */

const LEASE_MS = 10 * 60_000;

async function main(): Promise<void> {
  const [path, owner, perRound] = process.argv.slice(2);
  const round = Number(perRound);
  if (!path || !owner || !Number.isSafeInteger(round) || round < 1) {
    throw new Error('usage: claim-loop.child.js <database file> <owner> <new tasks per round>');
  }
  const store = new SqliteTaskStore({ path, busyTimeoutMs: 30_000 });
  try {
    if (process.send) {
      const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
      process.send('ready');
      await go;
    }
    // claim returns only what it newly took.
    for (;;) {
      const fresh = (await store.claim(owner, LEASE_MS, round)).map((r) => r.id);
      if (!fresh.length) break;
      process.stdout.write(`${JSON.stringify(fresh)}\n`);
      // A tracker polls nodes between claims. The pause stands in for that work, and lets the
      // other process in: SQLite's busy handler polls for the lock, so a process that took it
      // again at once could run all its rounds while the other one sleeps.
      await sleep(2);
    }
  } finally {
    await store.close();
    // An open IPC channel would keep the process alive.
    if (process.connected) process.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
