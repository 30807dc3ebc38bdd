import { schemaValidator, type TesTask, type TesTaskRequest, TesTaskSchema } from '@protes/tes';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type SimulatorHandle, startSimulator } from './sim-bootstrap';
import { callJson, waitForState } from './sim-testing';

/**
 * Execute mode over HTTP: real processes, real files. Inputs come from a temporary directory and
 * outputs go to another, both as file:// URLs.
 */

const validTask = schemaValidator<TesTask>(TesTaskSchema);
const ENDED = ['COMPLETE', 'EXECUTOR_ERROR', 'SYSTEM_ERROR', 'PREEMPTED', 'CANCELED'] as const;
const md5 = (text: string) => createHash('md5').update(text).digest('hex');

let dir: string;
let workDir: string;
let sim: SimulatorHandle;
const url = (...parts: string[]) => pathToFileURL(join(dir, ...parts)).href;
const read = (...parts: string[]) => readFileSync(join(dir, ...parts), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sim-execute-'));
  workDir = join(dir, 'work');
  mkdirSync(join(dir, 'in/tree/sub'), { recursive: true });
  writeFileSync(join(dir, 'in/ref.txt'), 'reference\n');
  writeFileSync(join(dir, 'in/tree/a.txt'), 'A\n');
  writeFileSync(join(dir, 'in/tree/sub/b.txt'), 'B\n');
  sim = await startSimulator({
    name: 'exec',
    queuedMs: 0,
    initializingMs: 0,
    execute: true,
    workDir,
    logLevel: 'error',
  });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

async function submit(task: TesTaskRequest): Promise<string> {
  const { status, body } = await callJson<{ id: string }>(`${sim.tesUrl}/tasks`, 'POST', task);
  expect(status).toBe(200);
  return body.id;
}

async function run(task: TesTaskRequest): Promise<TesTask> {
  const done = await waitForState(sim.tesUrl, await submit(task), ENDED, 10_000);
  expect(validTask(done)).toBe(true);
  return done;
}

describe('execute mode', () => {
  it('stages inputs, runs the executors in order, captures their output and copies the outputs', async () => {
    const content = 'hello from an inline input\n';
    const task = await run({
      name: 'staged',
      inputs: [
        { path: '/data/in.txt', content },
        { path: '/data/ref.txt', url: url('in/ref.txt') },
        { path: '/data/tree', url: url('in/tree'), type: 'DIRECTORY' },
      ],
      outputs: [
        { path: '/data/out/md5.txt', url: url('out/md5.txt') },
        { path: '/data/out', url: url('out/all'), type: 'DIRECTORY' },
        { path: '/data/out/*.txt', path_prefix: '/data/out/', url: url('out/glob/') },
      ],
      executors: [
        { image: 'alpine', command: ['md5sum', '/data/in.txt'], stdout: '/data/out/md5.txt' },
        {
          image: 'ubuntu',
          command: [
            'sh',
            '-c',
            'cat /data/ref.txt /data/tree/a.txt /data/tree/sub/b.txt > /data/out/cat.txt; echo done; echo careful >&2',
          ],
        },
      ],
    });
    expect(task.state).toBe('COMPLETE');
    const [first, second] = task.logs![0].logs;
    expect(task.logs![0].logs).toHaveLength(2);
    // md5sum names the file where it is on this machine: under the task directory.
    expect(first.stdout).toMatch(new RegExp(`^${md5(content)}  \\S+/data/in\\.txt\\n$`));
    expect(first).toMatchObject({ exit_code: 0, stderr: '' });
    expect(second).toMatchObject({ exit_code: 0, stdout: 'done\n', stderr: 'careful\n' });
    expect(Date.parse(second.start_time!)).toBeGreaterThanOrEqual(Date.parse(first.end_time!));

    expect(read('out/md5.txt')).toBe(first.stdout);
    expect(read('out/all/cat.txt')).toBe('reference\nA\nB\n');
    expect(read('out/glob/md5.txt')).toBe(first.stdout);
    expect(read('out/glob/cat.txt')).toBe('reference\nA\nB\n');
    const size = (text: string) => String(Buffer.byteLength(text));
    expect(task.logs![0].outputs).toEqual([
      { url: url('out/md5.txt'), path: '/data/out/md5.txt', size_bytes: size(first.stdout!) },
      { url: url('out/all/cat.txt'), path: '/data/out/cat.txt', size_bytes: '14' },
      { url: url('out/all/md5.txt'), path: '/data/out/md5.txt', size_bytes: size(first.stdout!) },
      { url: url('out/glob/cat.txt'), path: '/data/out/cat.txt', size_bytes: '14' },
      { url: url('out/glob/md5.txt'), path: '/data/out/md5.txt', size_bytes: size(first.stdout!) },
    ]);
  });

  it('honours workdir, stdin, env and a stderr file', async () => {
    const task = await run({
      inputs: [{ path: '/data/in.txt', content: 'from stdin\n' }],
      outputs: [{ path: '/logs/err.txt', url: url('out/err.txt') }],
      executors: [
        {
          image: 'alpine',
          command: ['sh', '-c', 'pwd; echo "$GREETING $OUT $TOOL"; cat; ls nope'],
          workdir: '/data/work',
          stdin: '/data/in.txt',
          stderr: '/logs/err.txt',
          env: { GREETING: 'hi', OUT: '/data/work/out.txt', TOOL: '/opt/tool' },
        },
      ],
    });
    expect(task.state).toBe('EXECUTOR_ERROR');
    const [log] = task.logs![0].logs;
    const root = join(workDir, task.id);
    // Paths under the task's declared paths are mapped into the task directory; others are not.
    expect(log.stdout).toBe(
      `${root}/data/work\nhi ${root}/data/work/out.txt /opt/tool\nfrom stdin\n`,
    );
    expect(log.exit_code).not.toBe(0);
    expect(log.stderr).toMatch(/nope/);
    // The executor failed, so no output was copied; the stderr file is in the task directory.
    expect(readFileSync(join(root, 'logs/err.txt'), 'utf8')).toBe(log.stderr);
    expect(existsSync(join(dir, 'out/err.txt'))).toBe(false);
  });

  it('ends on a failing executor with its exit code, unless it may fail; sim tags do not apply', async () => {
    const failed = await run({
      executors: [
        { image: 'alpine', command: ['sh', '-c', 'echo before; exit 3'] },
        { image: 'alpine', command: ['touch', '/data/never'] },
      ],
      volumes: ['/data'],
      tags: { 'sim.outcome': 'COMPLETE' },
    });
    expect(failed.state).toBe('EXECUTOR_ERROR');
    expect(failed.logs![0].logs).toEqual([
      expect.objectContaining({ exit_code: 3, stdout: 'before\n' }),
    ]);
    expect(failed.logs![0].system_logs).toEqual(['sim: executor 0 exited with code 3']);
    expect(existsSync(join(workDir, failed.id, 'data/never'))).toBe(false);

    const ignored = await run({
      executors: [
        { image: 'alpine', command: ['no-such-program-here'], ignore_error: true },
        { image: 'alpine', command: ['true'] },
      ],
    });
    expect(ignored.state).toBe('COMPLETE');
    expect(ignored.logs![0].logs.map((l) => l.exit_code)).toEqual([127, 0]);
    expect(ignored.logs![0].logs[0].stderr).toMatch(/no-such-program-here: command not found/);
  });

  it('runs an executor whose stdout file cannot be written, saying so in its stderr', async () => {
    const task = await run({
      volumes: ['/data'],
      executors: [{ image: 'alpine', command: ['echo', 'still runs'], stdout: '/data' }],
    });
    expect(task.state).toBe('COMPLETE');
    expect(task.logs![0].logs[0]).toMatchObject({
      exit_code: 0,
      stdout: 'still runs\n',
      stderr: 'sim: cannot write /data: EISDIR\n',
    });
  });

  it.each([
    [
      'a URL that is not file://',
      { inputs: [{ path: '/data/in.txt', url: 's3://bucket/in.txt' }] },
      /inputs\[0\]\.url: "s3:\/\/bucket\/in\.txt" is not a file:\/\/ URL/,
    ],
    [
      'a missing input file',
      { inputs: [{ path: '/data/in.txt', url: 'file:///nonexistent/in.txt' }] },
      /inputs\[0\]: cannot read file:\/\/\/nonexistent\/in\.txt: ENOENT/,
    ],
    [
      'a missing output file',
      { outputs: [{ path: '/data/missing.txt', url: 'file:///tmp/never-written.txt' }] },
      /outputs\[0\]: file \/data\/missing\.txt was not found/,
    ],
  ])('ends in SYSTEM_ERROR on %s, saying why', async (_what, files, reason) => {
    const task = await run({
      executors: [{ image: 'alpine', command: ['true'] }],
      ...(files as Partial<TesTaskRequest>),
    });
    expect(task.state).toBe('SYSTEM_ERROR');
    expect(task.logs![0].system_logs?.join('\n')).toMatch(reason);
  });

  it('kills the running process on cancel', async () => {
    const id = await submit({
      executors: [
        { image: 'alpine', command: ['sh', '-c', 'echo $$ > /data/pid; exec sleep 30'] },
        { image: 'alpine', command: ['touch', '/data/never'] },
      ],
      volumes: ['/data'],
    });
    const pidFile = join(workDir, id, 'data/pid');
    const deadline = Date.now() + 5000;
    while (!(existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))) {
      if (Date.now() > deadline) throw new Error('the executor did not start');
      await new Promise((r) => setTimeout(r, 10));
    }
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();

    expect((await callJson(`${sim.tesUrl}/tasks/${id}:cancel`, 'POST')).status).toBe(200);
    const canceled = await waitForState(sim.tesUrl, id, 'CANCELED');
    const gone = Date.now() + 3000;
    while (isAlive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 10));
    expect(isAlive(pid)).toBe(false);
    // The killed executor ran, so it has its log (128 + SIGKILL); the next one never ran.
    await new Promise((r) => setTimeout(r, 50));
    const after = (await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}?view=FULL`)).body;
    expect(after.state).toBe('CANCELED');
    expect(after.logs![0].logs).toEqual([expect.objectContaining({ exit_code: 137 })]);
    expect(canceled.logs![0].end_time).toEqual(expect.any(String));
    expect(existsSync(join(workDir, id, 'data/never'))).toBe(false);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
