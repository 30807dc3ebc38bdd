import { Injectable, InternalServerErrorException, Logger } from '@nestjs/common';
import {
  schemaValidator,
  type TesTask,
  type TesTaskRequest,
  TesTaskRequestSchema,
  TesTaskSchema,
  type TesView,
  toFieldErrors,
} from '@protes/tes';
import type { TSchema } from '@sinclair/typebox';
import type { ErrorObject } from 'ajv';
import { performance } from 'node:perf_hooks';
import type { PreparedChain } from './chain-settings';
import { ChainService } from './chain.service';
import type {
  ClientCaller,
  ForNodeContext,
  FromNodeContext,
  HookNode,
  HookSettings,
  NodeHooks,
  ToClientContext,
} from '@protes/middleware-sdk';
import type { MiddlewareDecision, TaskMiddleware } from './middleware';
import { isGroup } from './middleware-chain.config';
import { MiddlewareRegistry } from './middleware-registry';

/*
 * What a middleware may do besides `handle`: act per target node when the task is forwarded, and
 * on the way back. The three hooks are optional methods, found by shape on the middleware instance
 * (a plugin built elsewhere cannot share our classes), and run over the chain in effect when they
 * run, in chain order.
 *
 * - forNode: the task as one node gets it, at each forwarding (failover and resubmission too).
 * - fromNode: what a node answers of its task, before the tracker reports it (state and logs are
 *   what the record keeps).
 * - toClient: the task as the gateway answers a client (GET /tasks/{id}, GET /tasks; BASIC and
 *   FULL views, MINIMAL being only the id and state, which a hook may not change).
 */

export type HookName = keyof NodeHooks;
const HOOK_NAMES: readonly HookName[] = ['forNode', 'fromNode', 'toClient'];

/** Whether `middleware` implements `hook`. */
export const implementsHook = (middleware: unknown, hook: HookName): boolean =>
  typeof (middleware as Partial<Record<HookName, unknown>> | null | undefined)?.[hook] ===
  'function';

/** One middleware of the chain that implements a hook. */
interface HookMember {
  entry: number;
  name: string;
  middleware: Required<NodeHooks>;
  settings: Readonly<Record<string, unknown>>;
  prepared: unknown;
}

/**
 * One entry of the chain, for one hook: its enabled members that implement it. The members of a
 * fallback group are alternatives here too: the first whose hook succeeds counts.
 */
interface HookStep {
  entry: number;
  /** A fallback group with `onFailure: skip`: when every member's hook failed, go on without. */
  skipOnFailure: boolean;
  members: HookMember[];
}

/** What one hook did. */
interface HookAttempt {
  entry: number;
  middleware: string;
  ok: boolean;
  /** The top-level fields it changed (ok only). */
  changed: string[];
  reason?: string;
  ms: number;
}

interface HookRun<T> {
  value: T;
  attempts: HookAttempt[];
  /** Set when an entry that may not be skipped failed: why, member by member. */
  failure?: { middleware: string; reason: string };
}

const validRequest = schemaValidator<TesTaskRequest>(TesTaskRequestSchema);
const validTask = schemaValidator<TesTask>(TesTaskSchema);

/** A copy of a JSON Schema in which every object with declared properties takes no others. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = closed(value);
  if ('properties' in copy && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy;
}

/** TES 1.1's task and nothing else: what a client may be answered. */
const validAnswer = schemaValidator<TesTask>(closed(TesTaskSchema) as TSchema);

const errorsOf = (errors: ErrorObject[] | null | undefined): string =>
  toFieldErrors(errors)
    .map((e) => `${e.field} ${e.reason}`)
    .join('; ');

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

const millis = (started: number): number => Math.round((performance.now() - started) * 1000) / 1000;

/** The top-level fields whose content differs. */
function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]),
  );
}

/** How a hook's decisions begin: by hook, node and (fromNode) the node's task. */
function reasonPrefix(hook: 'forNode' | 'fromNode', node: string, remoteId?: string): string {
  return remoteId === undefined
    ? `${hook} for node ${node}`
    : `${hook} for node ${node}, task ${remoteId}`;
}

/** The decisions of the hooks that failed or changed something. */
function decisionsOf(attempts: HookAttempt[], node: string, prefix: string): MiddlewareDecision[] {
  return attempts
    .filter((a) => !a.ok || a.changed.length)
    .map((a) => ({
      entry: a.entry,
      middleware: a.middleware,
      outcome: a.ok ? 'applied' : 'failed',
      order: [node],
      reason: a.ok ? `${prefix}: changed ${a.changed.join(', ')}` : `${prefix}: ${a.reason}`,
      ms: a.ms,
    }));
}

/** The entries of a chain that implement `hook`, in chain order. */
function stepsOf(chain: PreparedChain, hook: HookName): HookStep[] {
  const steps: HookStep[] = [];
  for (const [entry, spec] of chain.chain.entries()) {
    if (!spec.enabled) continue;
    const members: HookMember[] = [];
    for (const member of isGroup(spec) ? spec.fallback : [spec]) {
      const ready = member.enabled ? chain.members.get(member) : undefined;
      if (!ready || !implementsHook(ready.middleware, hook)) continue;
      members.push({
        entry,
        name: member.name,
        middleware: ready.middleware as TaskMiddleware & Required<NodeHooks>,
        settings: member.settings,
        prepared: ready.prepared,
      });
    }
    if (members.length) {
      steps.push({ entry, skipOnFailure: isGroup(spec) && spec.onFailure === 'skip', members });
    }
  }
  return steps;
}

/**
 * Runs `steps` over `input` in order. Each hook gets a copy, so one that fails leaves no trace;
 * `check` holds its result to the hook's contract (throwing why not).
 */
async function runSteps<T extends object>(
  steps: readonly HookStep[],
  input: T,
  call: (member: HookMember, value: T) => unknown,
  check: (result: unknown, before: T) => T,
  skipAll = false,
): Promise<HookRun<T>> {
  let value = input;
  const attempts: HookAttempt[] = [];
  for (const step of steps) {
    const reasons: string[] = [];
    let applied = false;
    for (const member of step.members) {
      const started = performance.now();
      try {
        const result = check(await call(member, structuredClone(value)), value);
        const ms = millis(started);
        const changed = changedFields(value, result);
        attempts.push({ entry: step.entry, middleware: member.name, ok: true, changed, ms });
        value = result;
        applied = true;
        break;
      } catch (error) {
        const reason = messageOf(error);
        attempts.push({
          entry: step.entry,
          middleware: member.name,
          ok: false,
          changed: [],
          reason,
          ms: millis(started),
        });
        reasons.push(`${member.name}: ${reason}`);
      }
    }
    if (!applied && !step.skipOnFailure && !skipAll) {
      const middleware = step.members.map((m) => m.name).join(', ');
      return { value, attempts, failure: { middleware, reason: reasons.join('; ') } };
    }
  }
  return { value, attempts };
}

/** What the forNode hooks made of a task for one node. */
export interface ForNodeResult {
  /** The task for the node; with `refused`, the task as far as the hooks got. */
  task: TesTaskRequest;
  /** One per hook that changed the task or failed. */
  decisions: MiddlewareDecision[];
  /** Set when a hook failed and its entry may not be skipped: the node must not get the task. */
  refused?: string;
}

/** What the fromNode hooks made of a node's answer. */
export interface FromNodeResult {
  task: TesTask;
  /**
   * One per hook that changed the answer or failed, except those already among `recorded`: a
   * hook's effect on one node's task is recorded once, not at every poll.
   */
  decisions: MiddlewareDecision[];
}

/** The hooks of one prepared chain, found once per chain (see hooksOf). */
export class ChainHooks {
  private readonly steps: Readonly<Record<HookName, readonly HookStep[]>>;

  constructor(chain: PreparedChain) {
    this.steps = {
      forNode: stepsOf(chain, 'forNode'),
      fromNode: stepsOf(chain, 'fromNode'),
      toClient: stepsOf(chain, 'toClient'),
    };
  }

  /** Whether some middleware of this chain implements `hook`. */
  has(hook: HookName): boolean {
    return this.steps[hook].length > 0;
  }

  /**
   * The task as `node` gets it. A hook that fails, or returns no valid TES task, is recorded as
   * failed; unless its entry is a group with `onFailure: skip` (then the hooks go on without it),
   * the node is refused the task, as a failing middleware fails the chain.
   */
  async forNode(
    task: TesTaskRequest,
    node: HookNode,
    context: Omit<ForNodeContext, keyof HookSettings>,
  ): Promise<ForNodeResult> {
    if (!this.has('forNode')) return { task, decisions: [] };
    const run = await runSteps(
      this.steps.forNode,
      task,
      (m, value) =>
        m.middleware.forNode(value, node, {
          ...context,
          settings: m.settings,
          prepared: m.prepared,
        }),
      (result) => {
        if (!validRequest(result)) {
          throw new Error(
            `returned a task that is not valid TES: ${errorsOf(validRequest.errors)}`,
          );
        }
        return result;
      },
    );
    const decisions = decisionsOf(run.attempts, node.name, reasonPrefix('forNode', node.name));
    if (!run.failure) return { task: run.value, decisions };
    const refused = `middleware ${run.failure.middleware} could not prepare the task for this node: ${run.failure.reason}`;
    return { task: run.value, decisions, refused };
  }

  /**
   * A node's answer as the tracker reports it. A hook that fails, or returns no valid TES 1.1
   * task with the same id, is left out (what the node said cannot be refused): the answer goes on
   * as the hooks before it left it.
   */
  async fromNode(
    remote: TesTask,
    node: HookNode,
    context: Omit<FromNodeContext, keyof HookSettings>,
    recorded: readonly MiddlewareDecision[] = [],
  ): Promise<FromNodeResult> {
    if (!this.has('fromNode')) return { task: remote, decisions: [] };
    const run = await runSteps(
      this.steps.fromNode,
      remote,
      (m, value) =>
        m.middleware.fromNode(value, node, {
          ...context,
          settings: m.settings,
          prepared: m.prepared,
        }),
      (result, before) => {
        if (!validTask(result)) {
          throw new Error(`returned a task that is not valid TES: ${errorsOf(validTask.errors)}`);
        }
        if (result.id !== before.id) throw new Error(`changed the task id to ${result.id}`);
        return result;
      },
      true,
    );
    const prefix = reasonPrefix('fromNode', node.name, context.remoteId);
    const done = new Set(
      recorded
        .filter((d) => d.reason?.startsWith(`${prefix}:`))
        .map((d) => `${d.entry}\n${d.middleware}`),
    );
    const decisions = decisionsOf(run.attempts, node.name, prefix).filter(
      (d) => !done.has(`${d.entry}\n${d.middleware}`),
    );
    return { task: run.value, decisions };
  }

  /**
   * The task as the client gets it. A hook that fails, returns more than TES 1.1 defines, or
   * changes the id or the state has failed: unless its entry is a group with `onFailure: skip`,
   * the answer is refused (a 500), rather than given without what the middleware meant to do to
   * it (it may have been redacting). Nothing is recorded: answers are reads.
   */
  async toClient(
    task: TesTask,
    context: Omit<ToClientContext, keyof HookSettings>,
    logger?: Pick<Logger, 'warn'>,
  ): Promise<TesTask> {
    if (!this.has('toClient')) return task;
    const run = await runSteps(
      this.steps.toClient,
      task,
      (m, value) =>
        m.middleware.toClient(value, { ...context, settings: m.settings, prepared: m.prepared }),
      (result, before) => {
        if (!validAnswer(result)) {
          throw new Error(
            `returned an answer TES 1.1 does not define: ${errorsOf(validAnswer.errors)}`,
          );
        }
        if (result.id !== before.id || result.state !== before.state) {
          throw new Error('changed the id or the state of the task');
        }
        return result;
      },
    );
    for (const failed of run.attempts.filter((a) => !a.ok)) {
      logger?.warn(
        `middleware ${failed.middleware}: toClient failed for task ${task.id}: ${failed.reason}`,
      );
    }
    if (run.failure) {
      throw new InternalServerErrorException(
        `the answer could not be prepared: middleware ${run.failure.middleware} failed`,
      );
    }
    return run.value;
  }
}

const byChain = new WeakMap<PreparedChain, ChainHooks>();

/** The hooks of a prepared chain, found once per chain (a chain changed is a new object). */
export function hooksOf(chain: PreparedChain): ChainHooks {
  let hooks = byChain.get(chain);
  if (!hooks) {
    hooks = new ChainHooks(chain);
    byChain.set(chain, hooks);
  }
  return hooks;
}

/** How long toClient reuses the chain in effect before reading it again. */
export const CLIENT_HOOKS_TTL_MS = 1000;

/**
 * The hooks of the chain in effect, for forwarding, the tracker and the API.
 *
 * GET /tasks/{id} is the hottest path, so toClient costs nothing unless some registered middleware
 * implements it (known once the registry is complete, and fixed from then on); only then is the
 * chain in effect looked at, reusing what was read for up to CLIENT_HOOKS_TTL_MS (a chain changed
 * through the management API reaches answers within that time). forNode and fromNode read the
 * chain in effect each time, as a task's run of the chain does.
 */
@Injectable()
export class MiddlewareHooks {
  private readonly logger = new Logger(MiddlewareHooks.name);
  private registered?: ReadonlySet<HookName>;
  private client?: { at: number; hooks: Promise<ChainHooks> };

  constructor(
    private readonly chain: ChainService,
    private readonly registry: MiddlewareRegistry,
  ) {}

  /** The hooks of the chain in effect now. */
  async current(): Promise<ChainHooks> {
    return hooksOf(await this.chain.inEffect());
  }

  /** Whether some registered middleware implements `hook` (whatever the chain in effect). */
  mayRun(hook: HookName): boolean {
    this.registered ??= new Set(
      HOOK_NAMES.filter((h) =>
        this.registry.names().some((name) => implementsHook(this.registry.get(name), h)),
      ),
    );
    return this.registered.has(hook);
  }

  /** Whether toClient hooks may change answers in `view` (a cheap test, for the hot path). */
  answersClients(view: TesView): boolean {
    return view !== 'MINIMAL' && this.mayRun('toClient');
  }

  /** The task as the client gets it in `view` (before toView shapes it); see ChainHooks.toClient. */
  async toClient(task: TesTask, view: TesView, caller: ClientCaller): Promise<TesTask> {
    if (view === 'MINIMAL' || !this.answersClients(view)) return task;
    const hooks = await this.clientHooks();
    return hooks.toClient(task, { view, caller }, this.logger);
  }

  private clientHooks(): Promise<ChainHooks> {
    const now = Date.now();
    if (!this.client || now - this.client.at > CLIENT_HOOKS_TTL_MS) {
      const hooks = this.current();
      this.client = { at: now, hooks };
      // A failed read is not kept: the next answer reads again.
      void hooks.catch(() => {
        if (this.client?.hooks === hooks) this.client = undefined;
      });
    }
    return this.client.hooks;
  }
}
