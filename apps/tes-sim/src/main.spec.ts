import { transformFileSync } from '@swc/core';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The CLI as the demo runs it: a real process, its one stdout line, its exit on SIGTERM, and its
 * refusal of a bad flag. ts-node takes seconds to start, so the sources are compiled here with SWC
 * (the compiler jest already uses) into a temporary directory and run with plain node.
 */

const root = resolve(__dirname, '../../..');
// The aliases, as jest.config.ts reads them: declared once, in tsconfig.json.
const { config: tsconfig } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile) as {
  config?: { compilerOptions?: { paths?: Record<string, string[]> } };
};
const paths = tsconfig?.compilerOptions?.paths ?? {};
let outDir: string;

function compile(sourceDir: string): void {
  for (const entry of readdirSync(join(root, sourceDir), { withFileTypes: true })) {
    const path = join(sourceDir, entry.name);
    if (entry.isDirectory()) compile(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      const { code } = transformFileSync(join(root, path), {
        swcrc: false,
        filename: join(root, path),
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2023',
          keepClassNames: true,
          baseUrl: root,
          paths,
        },
        module: { type: 'commonjs' },
      });
      const target = join(outDir, path.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, code);
    }
  }
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [join(outDir, 'apps/tes-sim/src/main.js'), ...args], {
    cwd: root,
    env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), 'tes-sim-cli-'));
  compile('apps/tes-sim/src');
  // Only the libs the simulator imports: others may be mid-edit.
  compile('libs/tes/src');
  compile('libs/server/src');
});
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

it('prints exactly one listening line, serves, and exits on SIGTERM', async () => {
  const cli = run(['--name', 'cli-node', '--port', '0']);
  try {
    await waitFor(() => cli.stdout().includes('\n'), 15_000);
    const match = /^tes-sim cli-node listening on (http:\/\/127\.0\.0\.1:(\d+))\n$/.exec(
      cli.stdout(),
    );
    expect(match).not.toBeNull();
    const response = await fetch(`${match![1]}/ga4gh/tes/v1/service-info`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { name: string }).name).toBe('cli-node');
    cli.child.kill('SIGTERM');
    // Nest closes the app, then re-raises the signal.
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(cli.stdout().split('\n').filter(Boolean)).toHaveLength(1);
    expect(cli.stderr()).toBe('');
  } finally {
    cli.child.kill('SIGKILL');
  }
});

it('exits 2 naming a bad flag', async () => {
  const cli = run(['--failure-kind', 'OOPS']);
  expect((await cli.exited).code).toBe(2);
  expect(cli.stderr()).toMatch(
    /--failure-kind must be one of EXECUTOR_ERROR, SYSTEM_ERROR, PREEMPTED/,
  );
  expect(cli.stdout()).toBe('');
});
