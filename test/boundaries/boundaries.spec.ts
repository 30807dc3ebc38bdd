import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The module boundaries `npm run lint` enforces (.dependency-cruiser.cjs), checked the way they
 * fail for a developer: a copy of the sources with violations planted in it, cruised by the same
 * command as the lint step, must fail and name each rule broken; the untouched copy must pass.
 */
const root = resolve(__dirname, '../..');
const run = promisify(execFile);
const FOLDERS = ['apps', 'libs', 'packages', 'examples', 'scripts'];

let copy: string;

async function cruise(dir: string): Promise<{ code: number; output: string }> {
  const bin = join(root, 'node_modules/.bin/depcruise');
  const args = [
    ...FOLDERS.filter((f) => existsSync(join(dir, f))),
    '--config',
    '.dependency-cruiser.cjs',
  ];
  try {
    const { stdout, stderr } = await run(bin, [...args, '--output-type', 'err'], { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, output: stdout + stderr };
  }
}

function plant(path: string, source: string): void {
  const file = join(copy, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, source);
}

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'protes-boundaries-'));
  for (const name of ['tsconfig.json', '.dependency-cruiser.cjs', ...FOLDERS]) {
    if (!existsSync(join(root, name))) continue;
    cpSync(join(root, name), join(copy, name), {
      recursive: true,
      filter: (source) => !/[/\\](node_modules|dist)([/\\]|$)/.test(source),
    });
  }
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

it('passes on the sources as they are', async () => {
  const { code, output } = await cruise(copy);
  expect(output).toContain('no dependency violations found');
  expect(code).toBe(0);
}, 60_000);

it('fails on each kind of violation, naming the rule and the file', async () => {
  plant(
    'libs/distribution/src/planted-store.ts',
    "import { SqliteTaskStore } from '@protes/persistence';\nexport const store = SqliteTaskStore;\n",
  );
  plant(
    'libs/tes/src/planted-app.ts',
    "import { GatewayModule } from '../../../apps/gateway/src/gateway.module';\nexport const m = GatewayModule;\n",
  );
  plant(
    'apps/tracker/src/planted-other-app.ts',
    "import { TasksService } from '../../gateway/src/tasks/tasks.service';\nexport const s = TasksService;\n",
  );
  plant(
    'libs/core/src/planted-a.ts',
    "import { b } from './planted-b';\nexport const a = () => b;\n",
  );
  plant(
    'libs/core/src/planted-b.ts',
    "import { a } from './planted-a';\nexport const b = () => a;\n",
  );

  const { code, output } = await cruise(copy);
  expect(code).not.toBe(0);
  expect(output).toMatch(
    /no-store-implementation-outside-persistence: libs\/distribution\/src\/planted-store\.ts/,
  );
  expect(output).toMatch(/libs-never-import-apps: libs\/tes\/src\/planted-app\.ts/);
  expect(output).toMatch(/no-app-imports-another: apps\/tracker\/src\/planted-other-app\.ts/);
  expect(output).toMatch(/no-cycles: libs\/core\/src\/planted-[ab]\.ts/);
}, 60_000);
