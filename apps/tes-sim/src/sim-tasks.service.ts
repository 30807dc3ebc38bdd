import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import {
  createTaskValidator,
  isTerminal,
  TES_STATES,
  type TesExecutorLog,
  type TesListTasksResponse,
  type TesState,
  type TesTask,
  type TesTaskLog,
  type TesTaskRequest,
  type TesView,
  toView,
} from '@protes/tes';
import { randomUUID } from 'node:crypto';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { badRequest, TesHttpError } from './sim-errors';
import type { ListQuery, TagFilter } from '@protes/tes';
import { seededRandom } from './sim-random';
import { readSimTags, type SimOutcome } from './sim-task-plan';

/** What the node decided at submission about how the task will end. */
interface Plan {
  outcome: SimOutcome;
  /** Exit code of the last executor (the one that fails, on EXECUTOR_ERROR). */
  exitCode: number;
  runMs: number;
}

interface Entry {
  /** Creation order, from 1; pages are cut on it. */
  seq: number;
  task: TesTask;
  plan: Plan;
  timer?: NodeJS.Timeout;
}

/** The spec asks servers to accept inline input content of at least 128 KiB. */
const MAX_CONTENT_BYTES = 128 * 1024;

const now = (): string => new Date().toISOString();

/**
 * The node's tasks, in memory, each walked through QUEUED → INITIALIZING → RUNNING → its planned
 * end by timers. Nothing outlives the process, as with a node that lost its database.
 */
@Injectable()
export class SimTasksService implements OnModuleDestroy {
  private readonly validate = createTaskValidator({ maxContentBytes: MAX_CONTENT_BYTES });
  private readonly random: () => number;
  private readonly byId = new Map<string, Entry>();
  private readonly ordered: Entry[] = [];
  private stopped = false;

  constructor(@Inject(SIM_CONFIG) private readonly config: SimConfig) {
    this.random = seededRandom(config.seed);
  }

  create(body: unknown): string {
    const validated = this.validate(body);
    if (!validated.ok) throw badRequest('invalid task', validated.errors);
    const forced = readSimTags(validated.value.tags);
    if (!forced.ok) throw badRequest('invalid sim tags', forced.errors);

    // Drawn for every task, forced or not, so one forced task does not shift the others' fate.
    const failed = this.random() < this.config.failureRate;
    const outcome = forced.value.outcome ?? (failed ? this.config.failureKind : 'COMPLETE');
    const plan: Plan = {
      outcome,
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
    for (const entry of this.ordered) this.stop(entry);
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
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      step();
    }, ms);
    // A forgotten simulator must not keep a test run or a script alive; the server socket does
    // that while it is meant to.
    entry.timer.unref();
  }

  private stop(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private initialize(entry: Entry): void {
    entry.task.state = 'INITIALIZING';
    this.after(entry, this.config.initializingMs, () => this.run(entry));
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
    this.after(entry, entry.plan.runMs, () => this.finish(entry));
  }

  private finish(entry: Entry): void {
    const { task, plan } = entry;
    const log = task.logs?.[0] ?? { logs: [], outputs: [], metadata: { node: this.config.name } };
    const started = Date.parse(log.start_time ?? now());
    const ended = Date.now();
    log.end_time = new Date(ended).toISOString();
    switch (plan.outcome) {
      case 'COMPLETE':
        log.logs = executorLogs(task, started, ended, plan.exitCode, false);
        log.outputs = outputLogs(task);
        break;
      case 'EXECUTOR_ERROR':
        log.logs = executorLogs(task, started, ended, plan.exitCode, true);
        log.system_logs = [
          ...(log.system_logs ?? []),
          `sim: executor ${task.executors?.length ? task.executors.length - 1 : 0} exited with code ${plan.exitCode}`,
        ];
        break;
      case 'SYSTEM_ERROR':
        log.system_logs = [
          ...(log.system_logs ?? []),
          'sim: simulated system error: the worker running the task was lost',
        ];
        break;
      case 'PREEMPTED':
        log.system_logs = [
          ...(log.system_logs ?? []),
          'sim: simulated preemption: the instance running the task was reclaimed',
        ];
        break;
    }
    task.logs = [log];
    task.state = plan.outcome;
  }
}

function tagMatches(tags: Record<string, string> | undefined, filter: TagFilter): boolean {
  if (!tags || !Object.hasOwn(tags, filter.key)) return false;
  return filter.value === '' || tags[filter.key] === filter.value;
}

/**
 * One log per executor, the running time shared evenly. Every executor but the last exits 0; the
 * last exits with the planned code, so a failure shows on the executor that ended the task.
 */
function executorLogs(
  task: TesTask,
  started: number,
  ended: number,
  lastExitCode: number,
  failed: boolean,
): TesExecutorLog[] {
  const executors: TesTaskRequest['executors'] = task.executors ?? [];
  const slice = (ended - started) / Math.max(executors.length, 1);
  return executors.map((executor, i) => {
    const last = i === executors.length - 1;
    const exitCode = last ? lastExitCode : 0;
    return {
      start_time: new Date(started + slice * i).toISOString(),
      end_time: new Date(started + slice * (i + 1)).toISOString(),
      stdout: `${executor.command.join(' ')}\n`,
      stderr: failed && last ? `sim: simulated executor failure, exit code ${exitCode}\n` : '',
      exit_code: exitCode,
    };
  });
}

/** Outputs "uploaded" on success, with a size that is stable for a given file. */
function outputLogs(task: TesTask): TesTaskLog['outputs'] {
  return (task.outputs ?? []).map((output) => ({
    url: output.url,
    path: output.path,
    size_bytes: String(1024 * (1 + (output.path.length % 64))),
  }));
}
