import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TesTaskRequest } from '@protes/tes';
import { nodesEnv, startGateway, type Started } from '../../scripts/processes';
import { CheckedApi, loggedErrors, startSimulators } from './helpers';

/**
 * A real command through the whole federation: two simulated nodes in execute mode (they run the
 * executors' commands as local processes) behind the compiled gateway (`npm run build`), each a
 * process of its own. A task with an inline input and a file:// output goes in through the
 * gateway; its output file and the executor logs the gateway shows must be the real ones.
 */

const RUN = `exe${Date.now().toString(36)}`;
const NODE_NAMES = ['exec-a', 'exec-b'] as const;

let dir: string;
const sims = new Map<string, Started>();
let gateway: Started | undefined;
let api: CheckedApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-e2e-execute-'));
  const simArgs = ['--execute', '--work-dir', join(dir, 'work')];
  await startSimulators(
    NODE_NAMES,
    [...simArgs, '--queued-ms', '20', '--initializing-ms', '20'],
    sims,
  );
  gateway = await startGateway({
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
    PROTES_NODES: nodesEnv(NODE_NAMES.map((name) => ({ name, url: sims.get(name)?.url ?? '' }))),
    PROTES_TRACKER__MIN_POLL_MS: '50',
    PROTES_TRACKER__MAX_POLL_MS: '300',
    PROTES_LOG__LEVEL: 'warn',
  });
  api = new CheckedApi(gateway.url);
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all([...sims.values()].map((s) => s.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('execute mode end to end', () => {
  it('runs a two-executor task for real: its output file and executor logs come back', async () => {
    const content = `proTES ${RUN}: a line to checksum\n`;
    const digest = createHash('md5').update(content).digest('hex');
    const outputFile = join(dir, 'results', 'md5.txt');
    const task: TesTaskRequest = {
      name: `${RUN}-md5`,
      inputs: [{ path: '/data/in.txt', content }],
      outputs: [{ path: '/data/out/md5.txt', url: pathToFileURL(outputFile).href }],
      executors: [
        // md5sum of its stdin, written to a file that the next executor reads.
        {
          image: 'alpine',
          command: ['md5sum'],
          stdin: '/data/in.txt',
          stdout: '/data/out/md5.txt',
        },
        { image: 'alpine', command: ['cut', '-d', ' ', '-f', '1', '/data/out/md5.txt'] },
      ],
      tags: { 'e2e.run': RUN },
    };

    const id = await api.create(task);
    const full = await api.waitForState(id, ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR'], 20_000);

    expect(full.state).toBe('COMPLETE');
    expect(existsSync(outputFile)).toBe(true);
    expect(readFileSync(outputFile, 'utf8')).toBe(`${digest}  -\n`);

    const log = full.logs?.[0];
    expect(log?.logs).toEqual([
      expect.objectContaining({ exit_code: 0, stdout: `${digest}  -\n`, stderr: '' }),
      expect.objectContaining({ exit_code: 0, stdout: `${digest}\n`, stderr: '' }),
    ]);
    expect(log?.outputs).toEqual([
      {
        url: pathToFileURL(outputFile).href,
        path: '/data/out/md5.txt',
        size_bytes: String(`${digest}  -\n`.length),
      },
    ]);
    expect(NODE_NAMES).toContain(log?.metadata?.protes_node);
    expect(api.violations).toEqual([]);
  }, 30_000);

  it('logged no errors in any process', () => {
    for (const process of [gateway, ...sims.values()]) {
      if (process) expect(loggedErrors(process)).toBe('');
    }
  });
});
