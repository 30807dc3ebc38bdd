import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodesEnv, startGateway, startNode, startSimulator, type Started } from './processes';

/**
 * `npm run bench`: requests per second on the gateway's hottest paths (what Nextflow and py-tes
 * poll: GET /tasks/{id} MINIMAL and FULL, GET /tasks page) and on task creation, each as a ratio to
 * a baseline measured in the same run: a bare Node HTTP server, in its own process, answering the
 * same JSON to the same client loop. The machine is noisy; the ratios are what compare across runs.
 */
const CONCURRENCY = 32;
const DURATION_MS = 3000;

async function measure(name: string, request: () => Promise<Response>): Promise<number> {
  let done = 0;
  let failed = 0;
  const end = Date.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const response = await request();
        await response.arrayBuffer();
        if (response.ok) done++;
        else failed++;
      }
    }),
  );
  const perSecond = done / (DURATION_MS / 1000);
  if (failed) console.error(`${name}: ${failed} failed requests`);
  return perSecond;
}

/**
 * A bare node:http server in a process of its own (as the gateway is), answering `body` to every
 * request: what the same client loop gets from the machine with no framework, store or logic.
 */
function startBaseline(body: string): Promise<Started> {
  const script = `
    const body = process.argv[1];
    const server = require('node:http').createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    server.listen(0, '127.0.0.1', () =>
      console.log('baseline listening on http://127.0.0.1:' + server.address().port));`;
  return startNode('-e', [script, body], { ready: /baseline listening on (http:\/\/\S+)/ });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'protes-bench-'));
  const running: Started[] = [];
  try {
    const sim = await startSimulator({ name: 'bench', args: ['--running-ms', '100'] });
    running.push(sim);
    const gateway = await startGateway({
      PROTES_CONFIG: '',
      PROTES_SERVER__PORT: '0',
      PROTES_STORE__SQLITE_PATH: join(dir, 'bench.db'),
      PROTES_NODES: nodesEnv([{ name: 'bench', url: sim.url }]),
      PROTES_LOG__LEVEL: 'error',
    });
    running.push(gateway);
    const api = `${gateway.url}/ga4gh/tes/v1`;
    const task = { name: 'bench', executors: [{ image: 'alpine', command: ['true'] }] };
    const create = () =>
      fetch(`${api}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(task),
      });
    const { id } = (await (await create()).json()) as { id: string };
    await new Promise((r) => setTimeout(r, 1000));
    const full = await (await fetch(`${api}/tasks/${id}?view=FULL`)).text();
    const baseline = await startBaseline(full);
    running.push(baseline);
    {
      // The first run also warms up the client loop; only the second counts.
      await measure('warm-up', () => fetch(baseline.url));
      const base = await measure('baseline', () => fetch(baseline.url));
      const rows: [string, number][] = [
        ['GET /tasks/{id} (MINIMAL)', await measure('minimal', () => fetch(`${api}/tasks/${id}`))],
        [
          'GET /tasks/{id}?view=FULL',
          await measure('full', () => fetch(`${api}/tasks/${id}?view=FULL`)),
        ],
        [
          'GET /tasks?page_size=50',
          await measure('list', () => fetch(`${api}/tasks?page_size=50`)),
        ],
        ['POST /tasks (store + forward)', await measure('create', create)],
      ];
      console.log(`baseline (bare node:http, same client): ${base.toFixed(0)} req/s`);
      console.log(`concurrency ${CONCURRENCY}, ${DURATION_MS} ms each\n`);
      for (const [name, perSecond] of rows) {
        console.log(
          `${name.padEnd(32)} ${perSecond.toFixed(0).padStart(7)} req/s   ${(perSecond / base).toFixed(3)} × baseline`,
        );
      }
    }
  } finally {
    await Promise.all(running.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
