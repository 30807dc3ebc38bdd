import {
  HttpException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnModuleInit,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ConfigError, protesConfig, type ProtesConfig } from '@protes/config';
import { ChainSettingsConflictError, ChainSettingsStore, type StoredChain } from '@protes/core';
import {
  type FieldError,
  schemaValidator,
  type TesTaskRequest,
  TesTaskRequestSchema,
  toFieldErrors,
} from '@protes/tes';
import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import { type PreparedChain, type PreparedMember, prepareChain } from './chain-settings';
import type { Caller, MiddlewareDecision, NodeCandidate, TaskContext } from './middleware';
import {
  type ChainEntry,
  type ChainMiddleware,
  ChainValidationError,
  isGroup,
  labelOf,
  normalizeChain,
  parseChain,
  patchChain,
  unknownNames,
} from './middleware-chain.config';
import { MiddlewareRegistry } from './middleware-registry';
import { DirectorySettingsFiles } from './settings-files';

/** A new task, as the chain receives it. */
export interface ChainInput {
  taskId: string;
  task: TesTaskRequest;
  caller: Caller;
  /** The nodes the task may go to, before the chain narrows and ranks them. */
  candidates: NodeCandidate[];
}

/** What the chain made of a task: the task to forward, where to (best first), and why. */
export interface ChainOutcome {
  task: TesTaskRequest;
  candidates: NodeCandidate[];
  decisions: MiddlewareDecision[];
  /** The names of the candidates the chain started from. */
  offered: string[];
}

/**
 * A middleware (or the gateway's own strict backend parameter check) refused the task: the client
 * gets its status (4xx, or 503 for a refusal that may not hold later) and the reason; nothing is
 * stored. `errors` name the offending fields, when known (a MiddlewareRejection's `field`), for the
 * error body's `errors`; `retryAfterSeconds`, when the middleware gave it, is sent as Retry-After.
 */
export class TaskRejectedException extends HttpException {
  constructor(
    message: string,
    status: number,
    readonly decisions: MiddlewareDecision[],
    readonly errors: FieldError[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message, status);
  }
}

/** An entry failed with no fallback left (503: the request may succeed later). */
export class ChainFailedException extends ServiceUnavailableException {
  constructor(
    message: string,
    readonly decisions: MiddlewareDecision[],
  ) {
    super(message);
  }
}

/** One run of the chain, for observers (logs, metrics): its decisions and its refusal, if any. */
export interface ChainRun {
  taskId: string;
  decisions: readonly MiddlewareDecision[];
  refusal?: TaskRejectedException | ChainFailedException;
}

/** The chain in effect, as the management API shows it. */
export interface ChainView {
  /** `store` once the chain was set through the management API, else `configuration`. */
  source: 'configuration' | 'store';
  /** When the stored chain was last changed. */
  updatedAt?: string;
  chain: ChainEntry[];
  /** Every middleware name a chain may use. */
  registered: string[];
  /** Why a stored chain is not in effect: it names a middleware this process does not have. */
  storedChainError?: string;
}

/** The chain in effect, with its settings prepared. */
type Effective = Omit<ChainView, 'registered'> & { prepared: PreparedChain };

type StepResult =
  | { ok: true; task: TesTaskRequest; candidates: NodeCandidate[]; reason?: string }
  | {
      ok: false;
      reason: string;
      rejection?: number;
      field?: string;
      retryAfterSeconds?: number;
    };

const validTask = schemaValidator<TesTaskRequest>(TesTaskRequestSchema);
/** Stale writes of the stored chain retried before giving up (two admins at the same instant). */
const SAVE_ATTEMPTS = 5;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * A rejection thrown by a middleware: ours by class, a plugin's (which cannot share it) by name.
 * Its status is a 4xx, or 503 (refused for now: a node the client asked for is down); anything
 * else is taken as 400.
 */
function rejectionStatus(error: unknown): number | undefined {
  if ((error as Error | undefined)?.name !== 'MiddlewareRejection') return undefined;
  const { status } = error as { status?: unknown };
  return typeof status === 'number' &&
    Number.isInteger(status) &&
    ((status >= 400 && status < 500) || status === 503)
    ? status
    : 400;
}

/** A rejection's `retryAfterSeconds`, as whole seconds (at least 1), when it has one. */
function retryAfterOf(error: unknown): number | undefined {
  const { retryAfterSeconds } = (error ?? {}) as { retryAfterSeconds?: unknown };
  return typeof retryAfterSeconds === 'number' && Number.isFinite(retryAfterSeconds)
    ? Math.max(1, Math.ceil(retryAfterSeconds))
    : undefined;
}

/**
 * Runs each task through the middleware chain, and keeps the chain: the configured one
 * (`middleware.chain`), until one is set through the management API and stored, which then wins
 * and is read again for every task, so a change reaches every gateway sharing the store at once.
 *
 * Settings are checked when a chain is set, not per task: against each middleware's
 * `settingsSchema`, then by its `prepare` (which may read files under `middleware.fileDirs`),
 * for the configured chain at start (a bad one stops the start) and for a chain sent to the
 * management API before it is stored (a bad one is refused). Each chain is prepared once per
 * process: the stored one when its content is first seen, and members whose name and settings did
 * not change are taken over from the chain prepared before, so an unchanged file is not read again.
 * A stored chain this process cannot prepare (a middleware or a file it lacks) is not run.
 *
 * An entry is a middleware or a fallback group. A middleware that throws anything but a rejection
 * has failed: the group's next member is tried; when none is left, the task fails (503), or the
 * group is skipped with `onFailure: skip`. A lone middleware is a group of one that fails. Each
 * middleware works on copies, so a failed one leaves no trace; it may only remove and reorder the
 * candidates, and its rewrite must still be a valid TES task.
 */
@Injectable()
export class ChainService implements OnModuleInit {
  private readonly logger = new Logger(ChainService.name);
  private readonly configured: ChainEntry[];
  private readonly files: DirectorySettingsFiles;
  private configuredReady?: Promise<PreparedChain>;
  /** The stored chain last read, by its content: prepared, or why this process cannot run it. */
  private stored?: { key: string; result: Promise<PreparedChain | ChainValidationError> };
  /** The chains prepared last (configured, stored), whose members a new chain may take over. */
  private readonly ready: { configured?: PreparedChain; stored?: PreparedChain } = {};
  /** The last stored chain found unusable, so it is logged once rather than for every task. */
  private storedChainError?: string;
  /** Every run, when it ends; refusals too, before the exception reaches the caller. */
  readonly runs = new Subject<ChainRun>();

  constructor(
    @Inject(protesConfig.KEY) config: ProtesConfig,
    private readonly registry: MiddlewareRegistry,
    private readonly settings: ChainSettingsStore,
  ) {
    this.configured = deepFreeze(normalizeChain(config.middleware.chain));
    this.files = new DirectorySettingsFiles(config.middleware.fileDirs ?? []);
  }

  /**
   * A configured chain naming a middleware that is not registered, or with settings its middleware
   * refuses (a file it cannot read), stops the start, naming each field.
   */
  async onModuleInit(): Promise<void> {
    const unknown = unknownNames(this.configured, this.registry.names(), 'middleware.chain');
    if (unknown.length) {
      throw new ConfigError(unknown.map((e) => `${e.field}: ${e.reason}`).join('; '));
    }
    try {
      await this.configuredChain();
    } catch (error) {
      if (error instanceof ChainValidationError) throw new ConfigError(error.message);
      throw error;
    }
    await this.effective(); // logs at once a stored chain this process cannot run
  }

  /** Runs the chain over a task (see runChain) and reports the run to `runs`. */
  async run(input: ChainInput): Promise<ChainOutcome> {
    try {
      const outcome = await this.runChain(input);
      this.runs.next({ taskId: input.taskId, decisions: outcome.decisions });
      return outcome;
    } catch (error) {
      if (error instanceof TaskRejectedException || error instanceof ChainFailedException) {
        this.runs.next({ taskId: input.taskId, decisions: error.decisions, refusal: error });
      }
      throw error;
    }
  }

  private async runChain({ taskId, task, caller, candidates }: ChainInput): Promise<ChainOutcome> {
    const { chain, members } = (await this.effective()).prepared;
    const received = deepFreeze(structuredClone(task));
    let state = { task: structuredClone(task), candidates: candidates.map(deepFreeze) };
    const decisions: MiddlewareDecision[] = [];
    const decide = (
      entry: number,
      middleware: string,
      outcome: MiddlewareDecision['outcome'],
      ms = 0,
      reason?: string,
    ) =>
      decisions.push({
        entry,
        middleware,
        outcome,
        order: state.candidates.map((c) => c.name),
        ...(reason && { reason }),
        ms,
      });

    for (const [entry, spec] of chain.entries()) {
      if (!spec.enabled) {
        decide(entry, labelOf(spec), 'skipped', 0, 'disabled');
        continue;
      }
      const failures: string[] = [];
      let applied = false;
      for (const member of isGroup(spec) ? spec.fallback : [spec]) {
        if (!member.enabled) {
          decide(entry, member.name, 'skipped', 0, 'disabled');
          continue;
        }
        const started = performance.now();
        const result = await this.step(member, members.get(member), {
          taskId,
          received,
          caller,
          ...state,
        });
        const ms = Math.round((performance.now() - started) * 1000) / 1000;
        if (result.ok) {
          state = { task: result.task, candidates: result.candidates };
          decide(entry, member.name, 'applied', ms, result.reason);
          applied = true;
          break;
        }
        if (result.rejection) {
          decide(entry, member.name, 'rejected', ms, result.reason);
          throw new TaskRejectedException(
            `rejected by ${member.name}: ${result.reason}`,
            result.rejection,
            decisions,
            result.field ? [{ field: result.field, reason: result.reason }] : [],
            result.retryAfterSeconds,
          );
        }
        decide(entry, member.name, 'failed', ms, result.reason);
        failures.push(`${member.name}: ${result.reason}`);
      }
      // Applied, or every member disabled: nothing failed.
      if (applied || failures.length === 0) continue;
      if (isGroup(spec) && spec.onFailure === 'skip') {
        decide(entry, labelOf(spec), 'skipped', 0, 'every member failed');
        continue;
      }
      throw new ChainFailedException(
        `the middleware chain could not place the task (entry ${entry}, ${labelOf(spec)}): ${failures.join('; ')}`,
        decisions,
      );
    }
    return { ...state, decisions, offered: candidates.map((c) => c.name) };
  }

  async describe(): Promise<ChainView> {
    const view: Omit<Effective, 'prepared'> & Partial<Effective> = await this.effective();
    delete view.prepared;
    return { ...view, registered: this.registry.names() };
  }

  /** Replaces the whole chain (entries in their new order) with `body.chain`. */
  async replace(body: unknown): Promise<ChainView> {
    const { chain, ...other } = (typeof body === 'object' && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    const extra = Object.keys(other);
    if (chain === undefined || extra.length) {
      const errors = extra.map((key) => ({ field: key, reason: 'is not a known key' }));
      if (chain === undefined) errors.unshift({ field: 'chain', reason: 'is required' });
      throw new ChainValidationError(errors);
    }
    const prepared = await this.prepare(deepFreeze(parseChain(chain, this.registry.names())));
    return this.save(() => Promise.resolve(prepared));
  }

  /** Changes one entry (`2`) or group member (`2.0`): enabled, settings, onFailure. */
  patch(position: string, body: unknown): Promise<ChainView> {
    return this.save((current) => {
      const next = patchChain(current, position, body);
      if (!next) throw new NotFoundException(`the chain has no entry ${position}`);
      return this.prepare(deepFreeze(next));
    });
  }

  /** Forgets the stored chain: the configured one applies again. */
  async reset(): Promise<ChainView> {
    await this.settings.clear();
    return this.describe();
  }

  /**
   * Read-modify-write of the stored chain (starting from the chain in effect), retried if stale.
   * The chain is checked and prepared before it is stored, and kept prepared for the next task.
   */
  private async save(
    change: (current: ChainEntry[]) => Promise<PreparedChain>,
  ): Promise<ChainView> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.settings.get();
      try {
        const next = await change((await this.resolve(stored)).chain);
        const saved = await this.settings.save(next.chain, stored?.version ?? 0);
        this.stored = { key: JSON.stringify(saved.chain), result: Promise.resolve(next) };
        this.ready.stored = next;
        return await this.describe();
      } catch (error) {
        if (!(error instanceof ChainSettingsConflictError) || attempt >= SAVE_ATTEMPTS) throw error;
      }
    }
  }

  private async effective(): Promise<Effective> {
    return this.resolve(await this.settings.get());
  }

  /** The stored chain if there is one this process can run, else the configured one. */
  private async resolve(stored: StoredChain | undefined): Promise<Effective> {
    const configured = await this.configuredChain();
    if (!stored) return { source: 'configuration', chain: this.configured, prepared: configured };
    const result = await this.storedChain(stored);
    if (!(result instanceof ChainValidationError)) {
      this.storedChainError = undefined;
      const chain = result.chain as ChainEntry[];
      return { source: 'store', updatedAt: stored.updatedAt, chain, prepared: result };
    }
    const reason = `the stored chain (of ${stored.updatedAt}) cannot run here, the configured one does: ${result.message}`;
    if (reason !== this.storedChainError) this.logger.error(reason);
    this.storedChainError = reason;
    return {
      source: 'configuration',
      chain: this.configured,
      storedChainError: reason,
      prepared: configured,
    };
  }

  private configuredChain(): Promise<PreparedChain> {
    this.configuredReady ??= this.prepare(this.configured, 'middleware.chain').then((ready) => {
      this.ready.configured = ready;
      return ready;
    });
    return this.configuredReady;
  }

  /**
   * The stored chain, checked and prepared once per content (every gateway sharing the store sees
   * a change at its next task); a chain this process cannot run, as the reason.
   */
  private storedChain(stored: StoredChain): Promise<PreparedChain | ChainValidationError> {
    const key = JSON.stringify(stored.chain);
    if (this.stored?.key !== key) {
      const result: Promise<PreparedChain | ChainValidationError> = (async () => {
        const chain = deepFreeze(parseChain(stored.chain, this.registry.names()));
        const ready = await this.prepare(chain);
        this.ready.stored = ready;
        return ready;
      })().catch((error: unknown) => {
        if (error instanceof ChainValidationError) return error;
        if (this.stored?.result === result) this.stored = undefined; // tried again next time
        throw error;
      });
      this.stored = { key, result };
    }
    return this.stored.result;
  }

  /** Checks and prepares every member's settings (ChainValidationError naming each field). */
  private prepare(chain: readonly ChainEntry[], root = 'chain'): Promise<PreparedChain> {
    return prepareChain(chain, {
      lookup: (name) => this.registry.lookup(name),
      files: this.files,
      root,
      reuse: (key) => this.reusable(key),
      logger: this.logger,
    });
  }

  /** A member prepared from the same name and settings in the chains prepared last. */
  private reusable(key: string): PreparedMember | undefined {
    for (const chain of [this.ready.configured, this.ready.stored]) {
      for (const member of chain?.members.values() ?? []) if (member.key === key) return member;
    }
    return undefined;
  }

  /** One middleware on copies of the state; a failure or rejection says why instead of throwing. */
  private async step(
    member: ChainMiddleware,
    ready: PreparedMember | undefined,
    context: Omit<TaskContext, 'settings' | 'prepared'>,
  ): Promise<StepResult> {
    try {
      if (!ready) throw new Error(`middleware ${member.name} was not prepared`);
      const result = await ready.middleware.handle({
        ...context,
        task: structuredClone(context.task),
        candidates: [...context.candidates],
        settings: member.settings,
        prepared: ready.prepared,
      });
      return { ok: true, ...this.check(result, context.candidates) };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const rejection = rejectionStatus(error);
      if (rejection === undefined && (error as Error | undefined)?.name !== 'MiddlewareError') {
        this.logger.warn(
          `middleware ${member.name} failed unexpectedly: ${(error as Error)?.stack ?? reason}`,
        );
      }
      const { field } = (error ?? {}) as { field?: unknown };
      const retryAfterSeconds = rejection === undefined ? undefined : retryAfterOf(error);
      return {
        ok: false,
        reason,
        rejection,
        ...(rejection !== undefined && typeof field === 'string' && field !== '' && { field }),
        ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
      };
    }
  }

  /** What a middleware returned, held to its contract; a breach counts as its failure. */
  private check(
    result: unknown,
    before: readonly NodeCandidate[],
  ): { task: TesTaskRequest; candidates: NodeCandidate[]; reason?: string } {
    const { task, candidates, reason } = (result ?? {}) as Partial<TaskContext>;
    const byName = new Map(before.map((c) => [c.name, c]));
    const names = Array.isArray(candidates)
      ? candidates.map((c: NodeCandidate | undefined) => c?.name ?? '')
      : undefined;
    if (!names || names.some((n) => !byName.has(n)) || new Set(names).size !== names.length) {
      throw new Error(
        `returned candidates that are not a selection of the ones it was given: ${JSON.stringify(names)}`,
      );
    }
    if (!validTask(task)) {
      const errors = toFieldErrors(validTask.errors).map((e) => `${e.field} ${e.reason}`);
      throw new Error(`rewrote the task into one that is not valid TES: ${errors.join('; ')}`);
    }
    return {
      task,
      candidates: names.map((n) => byName.get(n) as NodeCandidate),
      ...(typeof reason === 'string' && reason !== '' && { reason }),
    };
  }

  /**
   * The chain in effect, prepared, as `run` would run it now: for what the middlewares do besides
   * `handle`, their per-node hooks (node-hooks.ts).
   */
  async inEffect(): Promise<PreparedChain> {
    return (await this.effective()).prepared;
  }
}
