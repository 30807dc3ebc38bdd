import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DnsServer,
  startDnsServer,
} from '@protes/distribution/middleware/builtin/testing/dns-server';
import { buildMmdb, cityAt } from '@protes/distribution/middleware/builtin/testing/mmdb-writer';
import type { MiddlewareDecision } from '@protes/persistence';
import type { TesTask, TesTaskRequest } from '@protes/tes';
import { startGateway, type Started } from '../../scripts/processes';
import {
  CheckedApi,
  e2eGatewayEnv,
  metadataOf,
  runTask,
  startSimulators,
  TES_PATH,
} from './helpers';

/*
 * One task naming 1,000 host names that never resolve, against the compiled gateway with the
 * distance middleware and a GeoIP database, while 30 ordinary tasks arrive at the same time. The
 * middleware's DNS server is a real one on 127.0.0.1 that reads every query and never answers, as
 * a resolver that is down or flooded does. Before lookups were bounded, such a task held Node's
 * resolver threads: the ordinary POSTs waited up to 30 s, 17 ended SYSTEM_ERROR, and every node's
 * breaker opened.
 */

const RUN = `dns${Date.now().toString(36)}`;
const STOCKHOLM = { latitude: 59.33, longitude: 18.07 };
const NODES = {
  north: STOCKHOLM,
  centre: { latitude: 46.2, longitude: 6.1 },
  south: { latitude: 41.39, longitude: 2.17 },
};
const NODE_NAMES = Object.keys(NODES) as (keyof typeof NODES)[];
const HOSTS = 1_000;
const ORDINARY = 30;

let dir: string;
let silent: DnsServer;
const sims = new Map<string, Started>();
let gateway: Started | undefined;
let api: CheckedApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-lookups-e2e-'));
  mkdirSync(join(dir, 'geo'));
  const geoipDatabase = join(dir, 'geo/city.mmdb');
  // 127.0.0.1 is in Stockholm: the ordinary tasks' inputs are there, placed without DNS.
  writeFileSync(
    geoipDatabase,
    buildMmdb([{ network: '127.0.0.1/32', data: cityAt(STOCKHOLM.latitude, STOCKHOLM.longitude) }]),
  );
  silent = await startDnsServer('silent');
  await startSimulators(NODE_NAMES, ['--queued-ms', '20', '--running-ms', '5000'], sims);
  const nodes = NODE_NAMES.map((name) => ({
    name,
    url: `${sims.get(name)?.url}${TES_PATH}`,
    location: NODES[name],
  }));
  gateway = await startGateway(
    e2eGatewayEnv(dir, nodes, {
      PROTES_MIDDLEWARE__FILE_DIRS: JSON.stringify([join(dir, 'geo')]),
      PROTES_MIDDLEWARE__CHAIN: JSON.stringify([
        {
          fallback: [
            // The lookup limits at their defaults: only the server is the test's.
            {
              name: 'distance',
              settings: { geoipDatabase, lookup: { servers: [silent.address] } },
            },
            'round-robin',
          ],
        },
      ]),
    }),
  );
  api = new CheckedApi(gateway.url);
}, 60_000);

afterAll(async () => {
  await Promise.all([...(gateway ? [gateway] : []), ...sims.values()].map((p) => p.stop()));
  if (silent) await silent.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

const withInputs = (name: string, urls: string[]): TesTaskRequest => ({
  ...runTask(RUN, name),
  inputs: urls.map((url, i) => ({ url, path: `/in/${i}` })),
});

/** POSTs a task; its id and how long the answer took. */
async function timedCreate(task: TesTaskRequest): Promise<{ id: string; ms: number }> {
  const started = performance.now();
  const id = await api.create(task);
  return { id, ms: Math.round(performance.now() - started) };
}

/** Creates ORDINARY tasks with an input in Stockholm at once; their ids and latencies. */
const ordinaryBatch = (label: string) =>
  Promise.all(
    Array.from({ length: ORDINARY }, (_, i) =>
      timedCreate(withInputs(`${label}-${i}`, ['http://127.0.0.1/data/in.bam'])),
    ),
  );

/** min/median/max of the latencies, for the log. */
function spread(batch: { ms: number }[]): string {
  const ms = batch.map((b) => b.ms).sort((a, b) => a - b);
  return `min ${ms[0]} ms, median ${ms[ms.length >> 1]} ms, max ${ms.at(-1)} ms`;
}

const decisionsOf = (t: TesTask): MiddlewareDecision[] =>
  JSON.parse(metadataOf(t).protes_decisions ?? '[]') as MiddlewareDecision[];

describe('host lookups of one task', () => {
  it('leave concurrent ordinary tasks unaffected, and the task itself is placed without them', async () => {
    const alone = await ordinaryBatch('alone');
    const hosts = Array.from({ length: HOSTS }, (_, i) => `https://h${i}.never.invalid/data`);
    const big = timedCreate(withInputs('many-hosts', hosts));
    const ordinary = await ordinaryBatch('beside');
    const many = await big;
    // Speed is the bench's to judge; this prints it for the record.
    console.log(
      `POST latencies: ${ORDINARY} ordinary alone: ${spread(alone)}; beside the task naming ` +
        `${HOSTS} hosts: ${spread(ordinary)}; that task: ${many.ms} ms; ` +
        `DNS queries sent: ${silent.queries.length}`,
    );

    for (const { id } of [...alone, ...ordinary]) {
      const task = await api.waitForState(id, ['RUNNING', 'COMPLETE'], 20_000);
      // Placed by distance, nearest to the data.
      expect(metadataOf(task).protes_node).toBe('north');
    }

    const placed = await api.waitForState(many.id, ['RUNNING', 'COMPLETE'], 20_000);
    const [distance, fallback] = decisionsOf(placed);
    expect(distance).toMatchObject({
      middleware: 'distance',
      outcome: 'failed',
      reason:
        `no input of the task could be located (decided without ${HOSTS} input hosts: ` +
        `990 not looked up (over lookup.maxHostsPerTask, 10), 10 not answered within 1000 ms)`,
    });
    expect(fallback).toMatchObject({ middleware: 'round-robin', outcome: 'applied' });
    expect(NODE_NAMES).toContain(metadataOf(placed).protes_node);

    // The silent server saw the task's ten lookups (each sent at most `tries` times), no more.
    const asked = new Set(silent.queries.map((q) => q.name));
    expect(asked.size).toBe(10);
    expect(silent.queries.length).toBeLessThanOrEqual(10 * 2);

    for (const node of await api.nodes()) expect(node.breaker).toBe('closed');
  });
});
