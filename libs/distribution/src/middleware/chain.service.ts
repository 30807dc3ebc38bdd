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
import {
  ChainSettingsConflictError,
  ChainSettingsStore,
  type StoredChain,
} from '@protes/persistence';
import {
  type FieldError,
  schemaValidator,
  type TesTaskRequest,
  TesTaskRequestSchema,
  toFieldErrors,
} from '@protes/tes';
import { performance } from 'node:perf_hooks';
import type {
  Caller,
  MiddlewareDecision,
  NodeCandidate,
  TaskContext,
  TaskMiddleware,
} from './middleware';
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
 * gets its 4xx and the reason; nothing is stored. `errors` name the offending fields, when known
 * (a MiddlewareRejection's `field`), for the error body's `errors`.
 */
export class TaskRejectedException extends HttpException {
  constructor(
    message: string,
    status: number,
    readonly decisions: MiddlewareDecision[],
    readonly errors: FieldError[] = [],
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

type Effective = Omit<ChainView, 'registered'>;

type StepResult =
  | { ok: true; task: TesTaskRequest; candidates: NodeCandidate[] }
  | { ok: false; reason: string; rejection?: number; field?: string };

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

/** A rejection thrown by a middleware: ours by class, a plugin's (which cannot share it) by name. */
function rejectionStatus(error: unknown): number | undefined {
  if ((error as Error | undefined)?.name !== 'MiddlewareRejection') return undefined;
  const { status } = error as { status?: unknown };
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500
    ? status
    : 400;
}

/**
 * Runs each task through the middleware chain, and keeps the chain: the configured one
 * (`middleware.chain`), until one is set through the management API and stored, which then wins
 * and is read again for every task, so a change reaches every gateway sharing the store at once.
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
  /** The last stored chain found unusable, so it is logged once rather than for every task. */
  private storedChainError?: string;

  constructor(
    @Inject(protesConfig.KEY) config: ProtesConfig,
    private readonly registry: MiddlewareRegistry,
    private readonly settings: ChainSettingsStore,
  ) {
    this.configured = deepFreeze(normalizeChain(config.middleware.chain));
  }

  /** A configured chain naming a middleware that is not registered stops the start. */
  async onModuleInit(): Promise<void> {
    const unknown = unknownNames(this.configured, this.registry.names(), 'middleware.chain');
    if (unknown.length) {
      throw new ConfigError(unknown.map((e) => `${e.field}: ${e.reason}`).join('; '));
    }
    await this.effective(); // logs at once a stored chain this process cannot run
  }

  async run({ taskId, task, caller, candidates }: ChainInput): Promise<ChainOutcome> {
    const { chain } = await this.effective();
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
        const result = await this.step(member, { taskId, received, caller, ...state });
        const ms = Math.round((performance.now() - started) * 1000) / 1000;
        if (result.ok) {
          state = { task: result.task, candidates: result.candidates };
          decide(entry, member.name, 'applied', ms);
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
    return { ...(await this.effective()), registered: this.registry.names() };
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
    const parsed = parseChain(chain, this.registry.names());
    return this.save(() => parsed);
  }

  /** Changes one entry (`2`) or group member (`2.0`): enabled, settings, onFailure. */
  patch(position: string, body: unknown): Promise<ChainView> {
    return this.save((current) => {
      const next = patchChain(current, position, body);
      if (!next) throw new NotFoundException(`the chain has no entry ${position}`);
      return next;
    });
  }

  /** Forgets the stored chain: the configured one applies again. */
  async reset(): Promise<ChainView> {
    await this.settings.clear();
    return this.describe();
  }

  /** Read-modify-write of the stored chain (starting from the chain in effect), retried if stale. */
  private async save(change: (current: ChainEntry[]) => ChainEntry[]): Promise<ChainView> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.settings.get();
      try {
        await this.settings.save(change(this.resolve(stored).chain), stored?.version ?? 0);
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
  private resolve(stored: StoredChain | undefined): Effective {
    if (!stored) return { source: 'configuration', chain: this.configured };
    try {
      const chain = deepFreeze(parseChain(stored.chain, this.registry.names()));
      this.storedChainError = undefined;
      return { source: 'store', updatedAt: stored.updatedAt, chain };
    } catch (error) {
      if (!(error instanceof ChainValidationError)) throw error;
      const reason = `the stored chain (of ${stored.updatedAt}) cannot run here, the configured one does: ${error.message}`;
      if (reason !== this.storedChainError) this.logger.error(reason);
      this.storedChainError = reason;
      return { source: 'configuration', chain: this.configured, storedChainError: reason };
    }
  }

  /** One middleware on copies of the state; a failure or rejection says why instead of throwing. */
  private async step(
    member: ChainMiddleware,
    context: Omit<TaskContext, 'settings'>,
  ): Promise<StepResult> {
    const middleware = this.registry.get(member.name) as TaskMiddleware;
    try {
      const result = await middleware.handle({
        ...context,
        task: structuredClone(context.task),
        candidates: [...context.candidates],
        settings: member.settings,
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
      return {
        ok: false,
        reason,
        rejection,
        ...(rejection !== undefined && typeof field === 'string' && field !== '' && { field }),
      };
    }
  }

  /** What a middleware returned, held to its contract; a breach counts as its failure. */
  private check(
    result: unknown,
    before: readonly NodeCandidate[],
  ): { task: TesTaskRequest; candidates: NodeCandidate[] } {
    const { task, candidates } = (result ?? {}) as Partial<TaskContext>;
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
    return { task, candidates: names.map((n) => byName.get(n) as NodeCandidate) };
  }
}
