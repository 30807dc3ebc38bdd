import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { nodesEnv, startGateway, startSimulator, type Started } from './processes';

/**
 * `npm run demo`: proTES in standalone mode (embedded SQLite store, tracker in the gateway) in
 * front of three simulated TES nodes in three cities, until Ctrl-C.
 *
 * `npm run demo -- --execute`: the nodes run each task's commands as local processes (see
 * apps/tes-sim/README.md, "Execute mode"), so a task's output is real.
 */
const NODES = [
  { name: 'heidelberg', latitude: 49.41, longitude: 8.69 },
  { name: 'barcelona', latitude: 41.39, longitude: 2.17 },
  { name: 'stockholm', latitude: 59.33, longitude: 18.07 },
];
const PORT = process.env.PROTES_SERVER__PORT ?? '8080';
const USAGE = `Usage: npm run demo [-- --execute]

  --execute   the simulated nodes run each task's commands as real local processes, as you
              (no containers; inputs and outputs are file:// URLs or inline content)
`;

function readFlags(): { execute: boolean } {
  try {
    const { values } = parseArgs({
      options: { execute: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    return { execute: values.execute === true };
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

/** What the demo prints once everything runs: tasks to try with curl. */
function instructions(api: string, execute: boolean): string {
  const follow = `Then follow it (replace ID):
  curl -s '${api}/tasks/ID?view=FULL'
  curl -s '${api}/tasks?view=BASIC'
  curl -s ${api}/service-info`;
  if (!execute) {
    return `
proTES is running: ${api}   (Ctrl-C stops everything)

The nodes simulate: nothing is executed, and each command's outcome follows fixed rules
(apps/tes-sim/README.md). \`npm run demo -- --execute\` runs the commands for real.

Submit a task:
  curl -s -X POST ${api}/tasks -H 'content-type: application/json' \\
    -d '{"name":"hello","executors":[{"image":"alpine","command":["echo","hello"]}]}'

${follow}
`;
  }
  const content = 'hello proTES\n';
  const task = {
    name: 'md5',
    inputs: [{ path: '/data/in.txt', content }],
    executors: [{ image: 'alpine', command: ['md5sum', '/data/in.txt'] }],
  };
  const digest = createHash('md5').update(content).digest('hex');
  return `
proTES is running: ${api}   (Ctrl-C stops everything)

EXECUTE MODE: the nodes run every task's commands as local processes, as user
${userInfo().username}, without containers (the image is recorded, not pulled). Each task runs in a
directory of its own that stands for the container's root (/data/in.txt is <task dir>/data/in.txt).

Submit a real md5sum of an inline input:
  curl -s -X POST ${api}/tasks -H 'content-type: application/json' \\
    -d '${JSON.stringify(task)}'

Read its stdout (replace ID): logs[0].logs[0].stdout, once the state is COMPLETE, holds
"${digest}  <task dir>/data/in.txt"
  curl -s '${api}/tasks/ID?view=FULL'

Outputs are copied to file:// URLs, e.g. add to the task
  "outputs":[{"path":"/data/in.txt","url":"file:///tmp/protes-demo/in.txt"}]

All tasks, and the federation:
  curl -s '${api}/tasks?view=BASIC'
  curl -s ${api}/service-info
`;
}

async function main(): Promise<void> {
  const { execute } = readFlags();
  const running: Started[] = [];
  const stopAll = () => Promise.all(running.map((p) => p.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));
  try {
    for (const node of NODES) {
      const sim = await startSimulator({ ...node, execute, args: ['--running-ms', '3000'] });
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
        PROTES_NODES: nodesEnv(
          NODES.map(({ name, latitude, longitude }, i) => ({
            name,
            url: running[i].url,
            location: { latitude, longitude },
          })),
        ),
      },
      true,
    );
    running.push(gateway);
    console.log(instructions(`${gateway.url}/ga4gh/tes/v1`, execute));
    console.log(`Status page: ${gateway.url}/   API docs: ${gateway.url}/docs\n`);
  } catch (error) {
    console.error(String(error));
    await stopAll();
    process.exit(1);
  }
}

void main();
