import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import {
  createTaskValidator,
  isTerminal,
  TES_STATES,
  type TesListTasksResponse,
  type TesState,
  type TesTask,
  type TesTaskLog,
  type TesTaskRequest,
  type TesView,
  toView,
} from '@protes/tes';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simulateCommand } from './sim-commands';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { badRequest, TesHttpError } from './sim-errors';
import {
  collectOutputs,
  killExecutor,
  LOG_TAIL_BYTES,
  runExecutor,
  stageInputs,
  TaskSystemError,
  TaskWorkspace,
} from './sim-execute';
import type { ListQuery, TagFilter } from '@protes/tes';
import { seededRandom } from './sim-random';
import { readSimTags, type SimOutcome } from './sim-task-plan';
import { tes10Refusals, tes10State } from './sim-tes-version';

/** What the node decided at submission about how the task will end. */
interface Plan {
  /** Set when a `sim.*` tag or the failure draw decides the outcome; unset, the commands do. */
  forced?: SimOutcome;
  /** With a forced outcome: the exit code of the last executor. */
  exitCode: number;
  /** The running time, shared evenly by the executors (sleeps come on top). */
  runMs: number;
}

interface Entry {
  /** Creation order, from 1; pages are cut on it. */
  seq: number;
  task: TesTask;
  plan: Plan;
  timer?: NodeJS.Timeout;
  /** Execute mode: the process of the executor running now. */
  child?: ChildProcess;
  workspace?: TaskWorkspace;
}

/** The spec asks servers to accept inline input content of at least 128 KiB. */
const MAX_CONTENT_BYTES = 128 * 1024;

/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const now = (): string => new Date().toISOString();

/** The last LOG_TAIL_BYTES of a text, as executor logs keep it. */
function tail(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= LOG_TAIL_BYTES ? text : bytes.subarray(-LOG_TAIL_BYTES).toString('utf8');
}

/**
 * The node's tasks, in memory, each walked through QUEUED → INITIALIZING → RUNNING → its end by
 * timers: executors one after another, each simulated by the rules of sim-commands.ts or, in
 * execute mode, run as a local process. Nothing outlives the process, as with a node that lost its
 * database.
 */
@Injectable()
export class SimTasksService implements OnModuleDestroy {
  private readonly validate = createTaskValidator({ maxContentBytes: MAX_CONTENT_BYTES });
  private readonly random: () => number;
  private readonly byId = new Map<string, Entry>();
  private readonly ordered: Entry[] = [];
  private stopped = false;
  /** Execute mode: the directory task directories go in, made at the first task. */
  private workRoot?: string;
  /** Whether workRoot is a temporary directory of our own, removed on close. */
  private ownWorkRoot = false;

  constructor(@Inject(SIM_CONFIG) private readonly config: SimConfig) {
    this.random = seededRandom(config.seed);
  }

  create(body: unknown): string {
    // A 1.0 node refuses what 1.1 added, before anything else looks at the task.
    const refusals = this.config.tesVersion === '1.0.0' ? tes10Refusals(body) : [];
    if (refusals.length > 0) {
      throw badRequest(
        `not a TES 1.0 task: ${refusals.map((e) => `${e.field} ${e.reason}`).join('; ')}`,
        refusals,
      );
    }
    const validated = this.validate(body);
    if (!validated.ok) throw badRequest('invalid task', validated.errors);
    this.checkBackendParameters(validated.value);
    const forced = readSimTags(validated.value.tags);
    if (!forced.ok) throw badRequest('invalid sim tags', forced.errors);

    // Drawn for every task, forced or not, so one forced task does not shift the others' fate.
    const failed = this.random() < this.config.failureRate;
    const outcome = forced.value.outcome ?? (failed ? this.config.failureKind : undefined);
    const plan: Plan = {
      // In execute mode the commands decide, whatever the tags and the draw say.
      forced: this.config.execute ? undefined : outcome,
      exitCode: forced.value.exitCode ?? (outcome === 'EXECUTOR_ERROR' ? 1 : 0),
      runMs: forced.value.runMs ?? this.config.runningMs,
    };

    const id = randomUUID();
    const task: TesTask = { ...validated.value, id, state: 'QUEUED', creation_time: now() };
    const entry: Entry = { seq: this.ordered.length + 1, task, plan };
    this.byId.set(id, entry);
    this.ordered.push(entry);
    this.after(entry, this.config.queuedMs, () => this.initialize(entry));
    return id;
  }

  get(id: string, view: TesView): TesTask {
    return toView(this.entry(id).task, view);
  }

  /** Cancels an active task; a task that has already ended is left as it is. */
  cancel(id: string): void {
    const entry = this.entry(id);
    if (isTerminal(entry.task.state)) return;
    this.stop(entry);
    if (entry.child) killExecutor(entry.child);
    const log = entry.task.logs?.[0];
    if (log) {
      log.end_time = now();
      log.system_logs = [...(log.system_logs ?? []), 'sim: canceled at the request of a client'];
    }
    entry.task.state = 'CANCELED';
  }

  /** Newest first; a page token is the position after which the next page starts. */
  list(query: ListQuery): TesListTasksResponse {
    let start = this.ordered.length - 1;
    if (query.pageToken !== undefined) start = this.tokenStart(query.pageToken);
    const tasks: TesTask[] = [];
    let last: Entry | undefined;
    let more = false;
    for (let i = start; i >= 0; i--) {
      const entry = this.ordered[i];
      if (!this.matches(entry.task, query)) continue;
      if (tasks.length === query.pageSize) {
        more = true;
        break;
      }
      tasks.push(toView(entry.task, query.view));
      last = entry;
    }
    const response: TesListTasksResponse = { tasks };
    if (more && last)
      response.next_page_token = Buffer.from(`seq:${last.seq}`).toString('base64url');
    return response;
  }

  countByState(): Record<TesState, number> {
    const counts = Object.fromEntries(TES_STATES.map((s) => [s, 0])) as Record<TesState, number>;
    for (const entry of this.ordered) counts[entry.task.state] += 1;
    return counts;
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const entry of this.ordered) {
      this.stop(entry);
      if (entry.child) killExecutor(entry.child);
    }
    if (this.workRoot && this.ownWorkRoot) {
      rmSync(this.workRoot, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /**
   * As a strict TES server: with `backend_parameters_strict`, a key the node does not support
   * refuses the task (400 naming it). Keys compare ignoring case. Without strict, unknown keys are
   * ignored.
   */
  private checkBackendParameters(task: TesTaskRequest): void {
    const resources = task.resources;
    if (!resources?.backend_parameters_strict) return;
    const supported = this.config.backendParameters ?? [];
    const known = new Set(supported.map((key) => key.toLowerCase()));
    const unsupported = Object.keys(resources.backend_parameters ?? {}).filter(
      (key) => !known.has(key.toLowerCase()),
    );
    if (unsupported.length === 0) return;
    const offer = supported.length
      ? `node ${this.config.name} supports ${supported.join(', ')}`
      : `node ${this.config.name} supports none`;
    throw badRequest(
      `unsupported backend parameter${unsupported.length > 1 ? 's' : ''} ${unsupported.join(', ')} with backend_parameters_strict (${offer})`,
      unsupported.map((key) => ({
        field: `resources.backend_parameters.${key}`,
        reason: `is not supported (${offer})`,
      })),
    );
  }

  private entry(id: string): Entry {
    const entry = this.byId.get(id);
    if (!entry) throw new TesHttpError(404, `task ${id} not found`);
    return entry;
  }

  private tokenStart(token: string): number {
    const match = /^seq:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    const seq = match ? Number(match[1]) : Number.NaN;
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.ordered.length) {
      throw badRequest('invalid page token', [
        { field: 'page_token', reason: 'was not issued by this node (or the node restarted)' },
      ]);
    }
    // The entry with sequence `seq` sits at index seq - 1; the page starts just before it.
    return seq - 2;
  }

  private matches(task: TesTask, query: ListQuery): boolean {
    if (query.state !== undefined && task.state !== query.state) return false;
    if (query.namePrefix !== undefined && !(task.name ?? '').startsWith(query.namePrefix))
      return false;
    return query.tags.every((filter) => tagMatches(task.tags, filter));
  }

  private after(entry: Entry, ms: number, step: () => void): void {
    if (this.stopped) return;
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined;
        step();
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    // A forgotten simulator must not keep a test run or a script alive; the server socket does
    // that while it is meant to.
    entry.timer.unref();
  }

  private stop(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** Whether the task has ended (a cancel, say) or the node is closing: nothing more to do. */
  private over(entry: Entry): boolean {
    return this.stopped || isTerminal(entry.task.state);
  }

  private initialize(entry: Entry): void {
    entry.task.state = 'INITIALIZING';
    this.after(entry, this.config.initializingMs, () => {
      if (this.config.execute) void this.stage(entry);
      else this.run(entry);
    });
  }

  /** Execute mode: the task directory and its inputs, then RUNNING; a failure is SYSTEM_ERROR. */
  private async stage(entry: Entry): Promise<void> {
    try {
      const workspace = new TaskWorkspace(join(this.taskRoot(), entry.task.id), entry.task);
      entry.workspace = workspace;
      await stageInputs(entry.task, workspace);
    } catch (error) {
      if (!this.over(entry)) this.systemError(entry, reasonOf(error));
      return;
    }
    if (!this.over(entry)) this.run(entry);
  }

  private taskRoot(): string {
    if (this.workRoot === undefined) {
      if (this.config.workDir !== undefined) {
        this.workRoot = resolve(this.config.workDir);
        mkdirSync(this.workRoot, { recursive: true });
      } else {
        this.workRoot = mkdtempSync(join(tmpdir(), `tes-sim-${this.config.name}-`));
        this.ownWorkRoot = true;
      }
    }
    return this.workRoot;
  }

  private run(entry: Entry): void {
    entry.task.state = 'RUNNING';
    entry.task.logs = [
      {
        logs: [],
        outputs: [],
        metadata: { node: this.config.name },
        start_time: now(),
        system_logs: [],
      },
    ];
    const { forced, runMs } = entry.plan;
    if (this.config.execute) void this.execute(entry);
    else if (forced === 'SYSTEM_ERROR' || forced === 'PREEMPTED') {
      this.after(entry, runMs, () => this.end(entry, forced, systemReason(forced)));
    } else this.simulate(entry, 0);
  }

  /**
   * Simulates executor `i`: its result by the rules (or the forced outcome: every executor but
   * the last exits 0, the last with the forced code), its time a share of the running time plus
   * its scaled sleeps. Its log is written when it ends.
   */
  private simulate(entry: Entry, i: number): void {
    const { task, plan } = entry;
    const executors = task.executors ?? [];
    const executor = executors[i];
    const startedAt = now();
    const run = simulateCommand(executor.command, executor.env);
    let { exitCode, stderr } = run;
    if (plan.forced) {
      const last = i === executors.length - 1;
      exitCode = last ? plan.exitCode : 0;
      stderr = exitCode !== 0 ? `sim: simulated executor failure, exit code ${exitCode}\n` : '';
    }
    const ms = plan.runMs / executors.length + run.sleepSeconds * this.config.timeScale * 1000;
    this.after(entry, ms, () => {
      this.logExecutor(entry, { startedAt, exitCode, stdout: run.stdout, stderr });
      if (exitCode !== 0 && (plan.forced || !executor.ignore_error))
        this.executorFailed(entry, i, exitCode);
      else if (i + 1 < executors.length) this.simulate(entry, i + 1);
      else this.end(entry, 'COMPLETE', undefined, simulatedOutputs(task));
    });
  }

  /** Execute mode: the executors as local processes, one after another, then the outputs. */
  private async execute(entry: Entry): Promise<void> {
    const { task, workspace } = entry;
    try {
      if (!workspace) throw new Error('the task directory was not made');
      for (const [i, executor] of (task.executors ?? []).entries()) {
        const startedAt = now();
        const run = await runExecutor(executor, workspace, (child) => (entry.child = child));
        entry.child = undefined;
        // Logged even when a cancel killed it: it ran.
        this.logExecutor(entry, { startedAt, ...run });
        if (this.over(entry)) return;
        if (run.exitCode !== 0 && !executor.ignore_error) {
          this.executorFailed(entry, i, run.exitCode);
          return;
        }
      }
      const outputs = await collectOutputs(task, workspace);
      if (!this.over(entry)) this.end(entry, 'COMPLETE', undefined, outputs);
    } catch (error) {
      entry.child = undefined;
      if (!this.over(entry)) this.systemError(entry, reasonOf(error));
    }
  }

  private logExecutor(
    entry: Entry,
    run: { startedAt: string; exitCode: number; stdout: string; stderr: string },
  ): void {
    entry.task.logs?.[0]?.logs.push({
      start_time: run.startedAt,
      end_time: now(),
      stdout: tail(run.stdout),
      stderr: tail(run.stderr),
      exit_code: run.exitCode,
    });
  }

  private executorFailed(entry: Entry, i: number, exitCode: number): void {
    this.end(entry, 'EXECUTOR_ERROR', `sim: executor ${i} exited with code ${exitCode}`);
  }

  private systemError(entry: Entry, reason: string): void {
    this.end(entry, 'SYSTEM_ERROR', `sim: ${reason}`);
  }

  /** Ends the task in `state`, with a line for system_logs and, on COMPLETE, its outputs. */
  private end(
    entry: Entry,
    state: SimOutcome,
    systemLog?: string,
    outputs: TesTaskLog['outputs'] = [],
  ): void {
    const { task } = entry;
    const log: TesTaskLog = task.logs?.[0] ?? {
      logs: [],
      outputs: [],
      metadata: { node: this.config.name },
      system_logs: [],
    };
    log.end_time = now();
    log.outputs = outputs;
    if (systemLog) log.system_logs = [...(log.system_logs ?? []), systemLog];
    task.logs = [log];
    task.state = this.config.tesVersion === '1.0.0' ? tes10State(state) : state;
  }
}

function systemReason(outcome: 'SYSTEM_ERROR' | 'PREEMPTED'): string {
  return outcome === 'SYSTEM_ERROR'
    ? 'sim: simulated system error: the worker running the task was lost'
    : 'sim: simulated preemption: the instance running the task was reclaimed';
}

function reasonOf(error: unknown): string {
  if (error instanceof TaskSystemError) return error.message;
  return `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}

function tagMatches(tags: Record<string, string> | undefined, filter: TagFilter): boolean {
  if (!tags || !Object.hasOwn(tags, filter.key)) return false;
  return filter.value === '' || tags[filter.key] === filter.value;
}

/** Outputs "uploaded" on success, with a size that is stable for a given file. */
function simulatedOutputs(task: TesTask): TesTaskLog['outputs'] {
  return (task.outputs ?? []).map((output) => ({
    url: output.url,
    path: output.path,
    size_bytes: String(1024 * (1 + (output.path.length % 64))),
  }));
}
