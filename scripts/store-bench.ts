import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskQuery } from '@protes/core';
import { SqliteTaskStore } from '@protes/persistence';
import { seedStore } from './seed-store';

/*
 * `npm run bench:store`: the SQLite task store alone, in this process, no HTTP. What `npm run
 * bench` seeds its large stores through (createMany, in tasks/s) and what a list page costs the
 * store (µs per page of 256), so that a change to the store can be measured without the gateway.
 *
 *   npm run bench:store -- [--sizes 100000,1000000] [--list-size 100000] [--pages 2000]
 *
 * Each seed size goes to a fresh file (`--sizes ''` seeds none); list pages are read from a store
 * of --list-size tasks. CPU times beside wall times: on a busy shared machine they vary less.
 */

interface Options {
  sizes: number[];
  listSize: number;
  pages: number;
}

function parseOptions(argv: string[]): Options {
  const flag = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const count = (name: string, fallback: string): number[] =>
    (flag(name) ?? fallback)
      .split(',')
      .filter(Boolean)
      .map((text) => {
        const n = Number(text);
        if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name}: ${text} is no count`);
        return n;
      });
  return {
    sizes: count('sizes', '100000,1000000'),
    listSize: count('list-size', '100000')[0],
    pages: count('pages', '2000')[0],
  };
}

/** Per second of wall time, and per second of this process's CPU time (less noisy when shared). */
interface Rate {
  wall: number;
  cpu: number;
}

/** Time and CPU time spent in `fn`, added to `spent`. */
async function timed<T>(spent: { ns: bigint; cpuUs: number }, fn: () => Promise<T>): Promise<T> {
  const began = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  try {
    return await fn();
  } finally {
    const { user, system } = process.cpuUsage(cpuBefore);
    spent.ns += process.hrtime.bigint() - began;
    spent.cpuUs += user + system;
  }
}

const rate = (count: number, { ns, cpuUs }: { ns: bigint; cpuUs: number }): Rate => ({
  wall: count / (Number(ns) / 1e9),
  cpu: count / (cpuUs / 1e6),
});

/**
 * Seeds a fresh store at `path` with `size` tasks, as `npm run bench` does; answers the rate of
 * the whole seed (making the records included) and of createMany alone.
 */
async function seedRates(path: string, size: number): Promise<{ seed: Rate; store: Rate }> {
  const store = new SqliteTaskStore({ path });
  const total = { ns: 0n, cpuUs: 0 };
  const inStore = { ns: 0n, cpuUs: 0 };
  await timed(total, () =>
    seedStore({ createMany: (batch) => timed(inStore, () => store.createMany(batch)) }, 0, size),
  );
  await store.close();
  return { seed: rate(size, total), store: rate(size, inStore) };
}

const perSecond = ({ wall, cpu }: Rate): string =>
  `${wall.toFixed(0)} tasks/s (${cpu.toFixed(0)} per CPU-second)`;

/** The list queries `npm run bench` sends, MINIMAL and BASIC alike, page_size 256. */
const QUERIES: Record<string, TaskQuery> = {
  unfiltered: { pageSize: 256 },
  'by state': { pageSize: 256, state: 'COMPLETE' },
  'by tag': { pageSize: 256, tags: [{ key: 'bench', value: '3' }] },
};

/**
 * µs of wall and CPU time per call of `read`: `pages` calls in ten rounds, after one round to warm
 * up, and the fastest round's mean, since what a busy shared machine adds is never negative.
 */
async function microsPerPage(
  pages: number,
  read: () => Promise<unknown>,
): Promise<{ wall: number; cpu: number }> {
  const round = Math.max(1, Math.ceil(pages / 10));
  let best = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r <= 10; r++) {
    const spent = { ns: 0n, cpuUs: 0 };
    await timed(spent, async () => {
      for (let i = 0; i < round; i++) await read();
    });
    const wall = Number(spent.ns) / 1e3 / round;
    if (r > 0 && wall < best.wall) best = { wall, cpu: spent.cpuUs / round };
  }
  return best;
}

const micros = ({ wall, cpu }: { wall: number; cpu: number }): string =>
  `${wall.toFixed(0)} µs (${cpu.toFixed(0)} µs CPU)`;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'protes-store-bench-'));
  try {
    console.log(
      `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`,
    );
    for (const size of options.sizes) {
      const rates = await seedRates(join(dir, `seed-${size}.db`), size);
      console.log(
        `seed ${size} tasks: ${perSecond(rates.seed)}; createMany alone ${perSecond(rates.store)}`,
      );
      rmSync(join(dir, `seed-${size}.db`), { force: true });
    }

    const path = join(dir, 'list.db');
    const seeding = new SqliteTaskStore({ path });
    await seedStore(seeding, 0, options.listSize);
    await seeding.close();
    // A fresh connection, as the gateway has after a seed: its statement cache starts empty.
    const store = new SqliteTaskStore({ path });
    for (const [name, query] of Object.entries(QUERIES)) {
      const minimal = await microsPerPage(options.pages, () => store.listStatesJson(query));
      const basic = await microsPerPage(options.pages, () => store.list(query));
      console.log(
        `${options.listSize} tasks, page of 256 ${name}: listStatesJson ${micros(minimal)}, list ${micros(basic)}`,
      );
    }
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
