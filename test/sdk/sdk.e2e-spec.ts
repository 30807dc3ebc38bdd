import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { MiddlewareDecision } from '@protes/core';
import type { ErrorResponse, TesTask } from '@protes/tes';
import { startGateway, type Started } from '../../scripts/processes';
import { CheckedApi, loggedErrors, metadataOf, startSimulators, TES_PATH } from '../e2e/helpers';

/**
 * The middleware SDK as a team outside this repository uses it: the SDK and the example plugin are
 * packed (`npm pack`, which builds each with its own tsc), installed from the tarballs alone into a
 * fresh project outside the repository, and the plugin is loaded into a running gateway (the
 * compiled one, `npm run build`) by configuration alone, in front of simulated TES nodes.
 *
 * The plugins project also holds a decoy @nestjs/common and reflect-metadata that throw when
 * loaded: the plugin must get the gateway's copies (one Nest in the process), not what sits beside
 * it, and not fail for want of Nest where it is installed.
 */

const root = resolve(__dirname, '../..');
const run = promisify(execFile);
const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '100'];
const RUN = `sdk${Date.now().toString(36)}`;

let dir: string;
let plugins: string;
const tarballs: string[] = [];
const sims = new Map<string, Started>();
let gateway: Started | undefined;
let api: CheckedApi;

/** npm, without the npm_* variables of the npm that started jest (its workspace, its prefix). */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')),
  );
  const { stdout } = await run('npm', args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** A package in the plugins project that throws when anything requires it. */
function decoy(name: string): void {
  const at = join(plugins, 'node_modules', name);
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'package.json'), JSON.stringify({ name, version: '99.0.0' }));
  writeFileSync(
    join(at, 'index.js'),
    `throw new Error('the copy of ${name} in the plugins directory was loaded');\n`,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protes-sdk-e2e-'));
  const packed = join(dir, 'tarballs');
  mkdirSync(packed);
  await npm(
    [
      'pack',
      '--workspace=@protes/middleware-sdk',
      '--workspace=protes-middleware-example',
      `--pack-destination=${packed}`,
    ],
    root,
  );
  tarballs.push(...readdirSync(packed).map((name) => join(packed, name)));

  // A project of the operator's, outside the repository: tarballs only, nothing from the registry
  // (the plugin's peers, Nest and reflect-metadata, are the gateway's).
  plugins = join(dir, 'plugins');
  mkdirSync(plugins);
  writeFileSync(
    join(plugins, 'package.json'),
    JSON.stringify({ name: 'protes-plugins', version: '1.0.0', private: true }),
  );
  await npm(
    [
      'install',
      '--offline',
      '--legacy-peer-deps',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      ...tarballs,
    ],
    plugins,
  );
  decoy('@nestjs/common');
  decoy('reflect-metadata');

  await startSimulators(['plain', 'gpu'], SIM_ARGS, sims);
  const nodes = [...sims].map(([name, sim]) => ({
    name,
    url: `${sim.url}${TES_PATH}`,
    resources: { cpuCores: 16 },
    ...(name === 'gpu' && { tags: { gpu: 'a100' } }),
  }));
  gateway = await startGateway({
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
    PROTES_SERVER__PORT: '0',
    PROTES_NODES: JSON.stringify(nodes),
    PROTES_TRACKER__MIN_POLL_MS: '50',
    PROTES_TRACKER__MAX_POLL_MS: '300',
    PROTES_LOG__LEVEL: 'warn',
    PROTES_MIDDLEWARE__MODULES: JSON.stringify([
      join(plugins, 'node_modules/protes-middleware-example'),
    ]),
    PROTES_MIDDLEWARE__CHAIN: JSON.stringify([
      { name: 'reject-large-tasks', settings: { largestNode: true } },
      { name: 'prefer-tagged-node', settings: { tag: 'gpu' } },
    ]),
  });
  api = new CheckedApi(gateway.url);
}, 60_000);

afterAll(async () => {
  const started = [...sims.values(), ...(gateway ? [gateway] : [])];
  await Promise.all(started.map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('the middleware SDK, used from outside the repository', () => {
  it('packs the SDK and the plugin as installable packages: compiled code and declarations only', async () => {
    expect(tarballs.map((t) => t.slice(t.lastIndexOf('/') + 1)).sort()).toEqual([
      'protes-middleware-example-0.1.0.tgz',
      'protes-middleware-sdk-0.1.0.tgz',
    ]);
    for (const tarball of tarballs) {
      const { stdout } = await run('tar', ['-tzf', tarball]);
      const files = stdout.trim().split('\n');
      expect(files).toEqual(
        expect.arrayContaining(['package/package.json', 'package/dist/index.js']),
      );
      expect(files).toContain('package/dist/index.d.ts');
      const stray = files.filter(
        (f) => !/^package\/(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts))$/.test(f),
      );
      expect(stray).toEqual([]);
    }
  });

  it('registers the middlewares of the plugin named in middleware.modules', async () => {
    const response = await fetch(`${gateway?.url}/protes/v1/middlewares`);
    const body = (await response.json()) as { registered: string[] };
    expect(body.registered).toEqual(
      expect.arrayContaining(['prefer-tagged-node', 'reject-large-tasks']),
    );
  });

  it('routes tasks where the plugin ranks first, and records its decision on the task', async () => {
    for (const i of [1, 2]) {
      const id = await api.create({
        name: `${RUN}-${i}`,
        executors: [{ image: 'alpine', command: ['true'] }],
      });
      const full: TesTask = await api.waitForState(id, ['RUNNING', 'COMPLETE']);
      expect(metadataOf(full).protes_node).toBe('gpu');
      const decisions = JSON.parse(metadataOf(full).protes_decisions) as MiddlewareDecision[];
      expect(decisions).toEqual([
        expect.objectContaining({ middleware: 'reject-large-tasks', outcome: 'applied' }),
        expect.objectContaining({
          middleware: 'prefer-tagged-node',
          outcome: 'applied',
          order: ['gpu', 'plain'],
        }),
      ]);
    }
  });

  it('gives the plugin what the SDK names: it refuses a task no configured node could take', async () => {
    const answer = await api.call<ErrorResponse>('POST', `${TES_PATH}/tasks`, {
      json: {
        name: `${RUN}-huge`,
        executors: [{ image: 'alpine', command: ['true'] }],
        resources: { cpu_cores: 32 },
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.msg).toBe(
      'rejected by reject-large-tasks: resources.cpu_cores is 32, more than any node offers (16)',
    );
  });

  it('logged no error', () => {
    expect(gateway && loggedErrors(gateway)).toBe('');
  });
});
