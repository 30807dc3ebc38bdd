import { mkdirSync } from 'node:fs';
import { nodesEnv, startGateway, startSimulator, type Started } from './processes';

/**
 * `npm run demo`: proTES in standalone mode (embedded SQLite store, tracker in the gateway) in
 * front of three simulated TES nodes in three cities, until Ctrl-C.
 */
const NODES = [
  { name: 'heidelberg', latitude: 49.41, longitude: 8.69 },
  { name: 'barcelona', latitude: 41.39, longitude: 2.17 },
  { name: 'stockholm', latitude: 59.33, longitude: 18.07 },
];
const PORT = process.env.PROTES_SERVER__PORT ?? '8080';

async function main(): Promise<void> {
  const running: Started[] = [];
  const stopAll = () => Promise.all(running.map((p) => p.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));
  try {
    for (const node of NODES) {
      const sim = await startSimulator({ ...node, args: ['--running-ms', '3000'] });
      running.push(sim);
      console.log(`TES node ${node.name.padEnd(10)} ${sim.url}/ga4gh/tes/v1`);
    }
    mkdirSync('var', { recursive: true });
    const gateway = await startGateway(
      {
        PROTES_SERVER__PORT: PORT,
        PROTES_STORE__SQLITE_PATH: process.env.PROTES_STORE__SQLITE_PATH ?? 'var/demo.db',
        PROTES_LOG__JSON: 'false',
        PROTES_LOG__LEVEL: 'warn',
        PROTES_NODES: nodesEnv(NODES.map((n, i) => ({ name: n.name, url: running[i].url }))),
      },
      true,
    );
    running.push(gateway);
    const api = `${gateway.url}/ga4gh/tes/v1`;
    console.log(`
proTES is running: ${api}   (Ctrl-C stops everything)

Submit a task:
  curl -s -X POST ${api}/tasks -H 'content-type: application/json' \\
    -d '{"name":"hello","executors":[{"image":"alpine","command":["echo","hello"]}]}'

Then follow it (replace ID):
  curl -s '${api}/tasks/ID?view=FULL'
  curl -s '${api}/tasks?view=BASIC'
  curl -s ${api}/service-info
`);
  } catch (error) {
    console.error(String(error));
    await stopAll();
    process.exit(1);
  }
}

void main();
