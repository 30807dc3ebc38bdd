import type { TesExecutor, TesOutputFileLog, TesTask } from '@protes/tes';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { cp, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesUnder, globBase, globFiles, hasWildcard } from './sim-glob';

/**
 * Execute mode: a task's executors run as real local processes, without containers, in a task
 * directory that stands for the container's root (`/`). Container paths map under it: `/data/x`
 * is `<task dir>/data/x`. Inputs are staged there from `content` or `file://` URLs, outputs are
 * copied from there to their `file://` URLs.
 *
 * The commands see host paths: every word of the command (and every `env` value) holding an
 * absolute path that lies under one of the task's declared paths (inputs, outputs, volumes,
 * executor workdirs and stdin/stdout/stderr) has that path rewritten to its place in the task
 * directory, wherever it starts the word or follows a space, a quote, `=`, `<` or `>`, so
 * `sh -c "md5sum /data/in.txt > /data/out.txt"` works too. Other absolute paths (`/bin/sh`,
 * `/usr/bin/env`) are left alone and mean this machine's.
 */

/** Executor stdout and stderr kept in the task's log: the last 64 KiB of each. */
export const LOG_TAIL_BYTES = 64 * 1024;

/** The parts of a task that say which files it reads and writes. */
export type TaskFiles = Pick<TesTask, 'inputs' | 'outputs' | 'volumes' | 'executors'>;

/** A reason for SYSTEM_ERROR: staging or collecting files failed, or a URL is not file://. */
export class TaskSystemError extends Error {
  override name = 'TaskSystemError';
}

export class TaskWorkspace {
  /** Declared container paths, normalized, longest first. */
  private readonly roots: string[];

  constructor(
    /** The task directory: `/` in the container. */
    readonly dir: string,
    task: TaskFiles,
  ) {
    const declared = [
      ...(task.inputs ?? []).map((i) => i.path),
      ...(task.outputs ?? []).flatMap((o) =>
        hasWildcard(o.path) ? [globBase(o.path), o.path_prefix ?? ''] : [o.path],
      ),
      ...(task.volumes ?? []),
      ...(task.executors ?? []).flatMap((e) => [e.workdir, e.stdin, e.stdout, e.stderr]),
    ];
    const roots = new Set<string>();
    for (const path of declared) {
      if (!path?.startsWith('/')) continue;
      const root = posix.normalize(path).replace(/\/+$/, '');
      if (root !== '') roots.add(root);
    }
    this.roots = [...roots].sort((a, b) => b.length - a.length);
  }

  /** Where a container path is on this machine (a relative one is taken from the root). */
  map(containerPath: string): string {
    return join(this.dir, posix.normalize(`/${containerPath}`));
  }

  /** Whether an absolute container path lies under (or is) a declared path. */
  declares(containerPath: string): boolean {
    const path = posix.normalize(containerPath);
    return this.roots.some((root) => path === root || path.startsWith(`${root}/`));
  }

  /** A command word or env value with its declared container paths mapped to this machine. */
  rewrite(text: string): string {
    return text.replace(
      /(^|[\s'"=<>])(\/[^\s'"=<>;|&()]*)/g,
      (whole, before: string, path: string) =>
        this.declares(path) ? `${before}${this.map(path)}` : whole,
    );
  }
}

const fileUrlPath = (url: string, where: string): string => {
  if (!/^file:/i.test(url)) {
    throw new TaskSystemError(
      `${where}: "${url}" is not a file:// URL; in execute mode the simulator reads and writes local files only`,
    );
  }
  try {
    return fileURLToPath(url);
  } catch (error) {
    throw new TaskSystemError(`${where}: "${url}": ${(error as Error).message}`);
  }
};

/** Fails (before anything runs) on any input or output URL that is not file://. */
export function checkUrls(task: TaskFiles): void {
  (task.inputs ?? []).forEach((input, i) => {
    if (input.content === undefined || input.content === '') {
      fileUrlPath(input.url ?? '', `inputs[${i}].url`);
    }
  });
  (task.outputs ?? []).forEach((output, i) => fileUrlPath(output.url, `outputs[${i}].url`));
}

const describe = (error: unknown): string =>
  (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/**
 * Creates the task directory with its inputs, volumes, workdirs and the directories outputs and
 * stdout/stderr files go to.
 */
export async function stageInputs(task: TaskFiles, ws: TaskWorkspace): Promise<void> {
  checkUrls(task);
  await mkdir(join(ws.dir, 'tmp'), { recursive: true });
  for (const [i, input] of (task.inputs ?? []).entries()) {
    const target = ws.map(input.path);
    await mkdir(dirname(target), { recursive: true });
    if (input.content !== undefined && input.content !== '') {
      await writeFile(target, input.content, 'utf8');
      continue;
    }
    const source = fileUrlPath(input.url ?? '', `inputs[${i}].url`);
    const directory = input.type === 'DIRECTORY';
    try {
      const kind = await stat(source);
      if (directory !== kind.isDirectory()) {
        throw new TaskSystemError(
          `inputs[${i}]: ${input.url} is ${kind.isDirectory() ? 'a directory' : 'not a directory'}, but the input's type is ${input.type ?? 'FILE'}`,
        );
      }
      await cp(source, target, { recursive: directory });
    } catch (error) {
      if (error instanceof TaskSystemError) throw error;
      throw new TaskSystemError(`inputs[${i}]: cannot read ${input.url}: ${describe(error)}`);
    }
  }
  const dirs = [
    ...(task.volumes ?? []),
    ...(task.executors ?? []).flatMap((e) => [e.workdir ?? '/']),
    ...(task.executors ?? []).flatMap((e) =>
      [e.stdout, e.stderr].flatMap((p) => (p ? [posix.dirname(p)] : [])),
    ),
    ...(task.outputs ?? []).map((o) =>
      hasWildcard(o.path) ? globBase(o.path) : posix.dirname(o.path),
    ),
  ];
  for (const dir of dirs) await mkdir(ws.map(dir), { recursive: true });
}

/** The last `limit` bytes written to it. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit = LOG_TAIL_BYTES) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.limit) this.chunks = [this.buffer()];
  }

  private buffer(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.size = Math.min(all.length, this.limit);
    return all.subarray(all.length - this.size);
  }

  text(): string {
    return this.buffer().toString('utf8');
  }
}

export interface ExecutorRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const finished = (stream: WriteStream): Promise<void> =>
  new Promise((resolve) => {
    stream.end(() => resolve());
    stream.once('error', () => resolve());
  });

/**
 * Runs one executor: its command (words rewritten), with its env over a minimal one (PATH from
 * the simulator, HOME the task directory, TMPDIR its tmp/), in its workdir (mapped; the task
 * directory if it has none), stdin from its `stdin` file, stdout and stderr to its files and to
 * the log's tails. `started` receives the child, so that a cancel can kill it.
 */
export async function runExecutor(
  executor: TesExecutor,
  ws: TaskWorkspace,
  started: (child: ChildProcess) => void,
): Promise<ExecutorRun> {
  const [program, ...args] = executor.command.map((word) => ws.rewrite(word));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: ws.dir,
    TMPDIR: join(ws.dir, 'tmp'),
  };
  for (const [key, value] of Object.entries(executor.env ?? {})) env[key] = ws.rewrite(value);
  const cwd = ws.map(executor.workdir ?? '/');
  await mkdir(cwd, { recursive: true });

  const stdout = new Tail();
  const stderr = new Tail();
  let stdin: Awaited<ReturnType<typeof open>> | undefined;
  if (executor.stdin) {
    try {
      stdin = await open(ws.map(executor.stdin), 'r');
    } catch (error) {
      return { exitCode: 1, stdout: '', stderr: `${executor.stdin}: ${describe(error)}\n` };
    }
  }
  const files: WriteStream[] = [];
  const fileFor = (path: string | undefined): WriteStream | undefined => {
    if (!path) return undefined;
    const stream = createWriteStream(ws.map(path));
    // Unheard, a stream's error would end the whole simulator; here it goes to the log.
    stream.on('error', (error) =>
      stderr.push(Buffer.from(`sim: cannot write ${path}: ${describe(error)}\n`)),
    );
    files.push(stream);
    return stream;
  };
  const outFile = fileFor(executor.stdout);
  const errFile = fileFor(executor.stderr);

  try {
    return await new Promise<ExecutorRun>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(program, args, {
          cwd,
          env,
          stdio: [stdin?.fd ?? 'ignore', 'pipe', 'pipe'],
          // Its own process group, so that a cancel kills what it started too.
          detached: true,
        });
      } catch (error) {
        // e.g. an empty program name, which spawn refuses at once
        resolve({ exitCode: 127, stdout: '', stderr: `${program}: ${describe(error)}\n` });
        return;
      }
      started(child);
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        outFile?.write(chunk);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr.push(chunk);
        errFile?.write(chunk);
      });
      child.once('error', (error: NodeJS.ErrnoException) => {
        const [exitCode, reason] =
          error.code === 'ENOENT'
            ? [127, 'command not found']
            : error.code === 'EACCES'
              ? [126, 'permission denied']
              : [126, error.message];
        resolve({
          exitCode,
          stdout: stdout.text(),
          stderr: `${stderr.text()}${program}: ${reason}\n`,
        });
      });
      child.once('close', (code, signal) => {
        const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
        resolve({ exitCode, stdout: stdout.text(), stderr: stderr.text() });
      });
    });
  } finally {
    await stdin?.close();
    await Promise.all(files.map(finished));
  }
}

/** Kills an executor's process and everything it started. */
export function killExecutor(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** `url` with a relative '/'-separated path appended, as TES builds output URLs. */
const appendToUrl = (url: string, relative: string): string =>
  `${url.replace(/\/+$/, '')}/${relative.split('/').map(encodeURIComponent).join('/')}`;

async function copyOut(source: string, url: string, where: string): Promise<number> {
  const target = fileUrlPath(url, where);
  try {
    await mkdir(dirname(target), { recursive: true });
    await cp(source, target);
    return (await stat(target)).size;
  } catch (error) {
    throw new TaskSystemError(`${where}: cannot write ${url}: ${describe(error)}`);
  }
}

/**
 * Copies the outputs to their file:// URLs: a FILE to its URL; a DIRECTORY's files under its URL;
 * a pattern's matches under its URL, each at its path less `path_prefix`. One log per file (TES
 * flattens directories). A FILE or DIRECTORY that is not there fails the task: TES servers end a
 * task whose output cannot be uploaded in SYSTEM_ERROR. A pattern matching nothing is no error.
 */
export async function collectOutputs(
  task: TaskFiles,
  ws: TaskWorkspace,
): Promise<TesOutputFileLog[]> {
  const logs: TesOutputFileLog[] = [];
  for (const [i, output] of (task.outputs ?? []).entries()) {
    const where = `outputs[${i}]`;
    if (hasWildcard(output.path)) {
      const prefix = output.path_prefix ?? '';
      for (const path of await globFiles(output.path, (p) => ws.map(p))) {
        const relative = (path.startsWith(prefix) ? path.slice(prefix.length) : path).replace(
          /^\/+/,
          '',
        );
        const url = appendToUrl(output.url, relative);
        const size = await copyOut(ws.map(path), url, where);
        logs.push({ url, path, size_bytes: String(size) });
      }
      continue;
    }
    const source = ws.map(output.path);
    const kind = await stat(source).catch(() => undefined);
    const directory = output.type === 'DIRECTORY';
    if (!kind || kind.isDirectory() !== directory) {
      throw new TaskSystemError(
        `${where}: ${directory ? 'directory' : 'file'} ${output.path} ${kind ? `is ${kind.isDirectory() ? 'a directory' : 'not a directory'}` : 'was not found'} after the executors ran`,
      );
    }
    if (!directory) {
      const size = await copyOut(source, output.url, where);
      logs.push({ url: output.url, path: output.path, size_bytes: String(size) });
      continue;
    }
    const base = fileUrlPath(output.url, where);
    await mkdir(base, { recursive: true }).catch((error: unknown) => {
      throw new TaskSystemError(`${where}: cannot write ${output.url}: ${describe(error)}`);
    });
    for (const relative of await filesUnder(source)) {
      const url = appendToUrl(output.url, relative);
      const size = await copyOut(join(source, relative), url, where);
      logs.push({ url, path: posix.join(output.path, relative), size_bytes: String(size) });
    }
  }
  return logs;
}
