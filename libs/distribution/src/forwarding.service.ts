import { Inject, Injectable, Logger } from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import {
  type AcceptedEvent,
  type Actor,
  type AttemptingEvent,
  type ForwardAttempt,
  GATEWAY_ACTOR,
  type MiddlewareDecision,
  needsForwarding,
  TaskLifecycle,
  type TaskRecord,
} from '@protes/core';
import {
  isTerminal,
  MAX_PAGE_SIZE,
  type TesResources,
  type TesTask,
  type TesTaskRequest,
  TesNodeError,
} from '@protes/tes';
import { performance } from 'node:perf_hooks';
import {
  BACKEND_PARAMETERS,
  backendParametersFor,
  strictBackendParameters,
  strictBackendParametersNoneSupports,
  takesStrictBackendParameters,
} from './backend-parameters';
import {
  ChainFailedException,
  type ChainOutcome,
  ChainService,
  TaskRejectedException,
} from './middleware/chain.service';
import type { Caller, NodeCandidate } from './middleware/middleware';
import { MiddlewareRegistry } from './middleware/middleware-registry';
import { MiddlewareHooks } from './middleware/node-hooks';
import { NodeRegistry, type TesNode } from './node-registry';
import { NodeSlots } from './node-slots';

/** Tag put on every forwarded task, so an operator can find a remote task's gateway id. */
export const GATEWAY_ID_TAG = 'protes_id';

/** Why a route has no node, from the chain's decisions and the registry. */
function noNodeReason(
  offered: string[],
  decisions: MiddlewareDecision[],
  unavailable: string[],
): string {
  const emptied = decisions.find((d) => d.outcome === 'applied' && d.order.length === 0);
  if (offered.length && emptied) {
    return `no TES node is left after middleware ${emptied.middleware}`;
  }
  const open = unavailable.length ? ` (circuit open: ${unavailable.join(', ')})` : '';
  return `no TES node is available to run this task${open}`;
}

/** The route a new task is stored with (TaskLifecycle.accept), from the chain's outcome. */
export function plannedRoute(outcome: ChainOutcome): NonNullable<AcceptedEvent['route']> {
  const { task, offered, decisions } = outcome;
  return { candidates: outcome.candidates.map((c) => c.name), offered, task, decisions };
}

/** A node's refusal of the task itself (4xx other than 404), which says nothing against the node. */
const isAboutTheTask = (error: unknown): boolean =>
  error instanceof TesNodeError && error.kind === 'rejected';

/**
 * A failed create after which the node may have the task all the same: no answer in time, or a
 * connection that broke after it was made. A refused connection or an HTTP answer is certain.
 */
const outcomeUnknown = (error: unknown): boolean =>
  !(error instanceof TesNodeError) ||
  error.kind === 'timeout' ||
  (error.kind === 'unreachable' && error.code !== 'ECONNREFUSED');

/** The task a node holds, as a request: what was sent to it, for a copy that is adopted. */
function requestOf(task: TesTask): TesTaskRequest {
  const request: Partial<TesTask> = { ...task };
  for (const key of ['id', 'state', 'logs', 'creation_time'] as const) delete request[key];
  return { ...request, executors: request.executors ?? [] };
}

/**
 * Hands a task to a TES node. `route` runs the middleware chain over the nodes whose breaker lets
 * calls through (and, for strict backend parameters, that support them all); `forward` tries the
 * nodes in the chain's order, each with its own version of the task, moving on after a connection
 * error, a timeout or an HTTP error, and writes every attempt and decision to the record. If no
 * node takes it, the task ends in SYSTEM_ERROR with the reasons in its logs.
 *
 * Each node's version is the chain's task passed through the middlewares' `forNode` hooks for that
 * node (node-hooks.ts), then without the non-strict backend parameters the node does not support,
 * then tagged with the gateway id. A hook that changed the task or failed is a decision of the
 * forwarding; a node a hook could not prepare the task for is not sent it (a failed attempt).
 *
 * The gateway's own backend parameter rules appear among the decisions as middleware
 * `backend-parameters` with entry -1 (no entry of the configured chain): before the chain, the
 * strict narrowing (or refusal); at forwarding, one decision per node a key was dropped for.
 */
@Injectable()
export class ForwardingService {
  private readonly logger = new Logger(ForwardingService.name);
  /**
   * The middlewares' per-node hooks over the chain in effect; the tracker (fromNode) and the API
   * (toClient) use them through this service, which every process that talks to nodes has.
   */
  readonly hooks: MiddlewareHooks;
  private readonly slots: NodeSlots;
  /** How long a copy an attempt with an unknown outcome may have left is waited for. */
  private readonly nodeLostAfterMs: number;
  /** Set by stop(): nothing more is sent, what is not sent stays in the outbox (the store). */
  private stopping = false;

  constructor(
    private readonly lifecycle: TaskLifecycle,
    private readonly registry: NodeRegistry,
    private readonly chain: ChainService,
    middlewares: MiddlewareRegistry,
    @Inject(protesConfig.KEY) config: ProtesConfig,
  ) {
    this.hooks = new MiddlewareHooks(chain, middlewares);
    this.slots = new NodeSlots(config.forwarding.concurrencyPerNode);
    this.nodeLostAfterMs = config.tracker.nodeLostAfterMs;
  }

  /**
   * Runs the chain for a task. Throws TaskRejectedException (4xx) when a middleware refuses it, or
   * (400) when it has a strict backend parameter no configured node supports, and
   * ChainFailedException (503) when an entry fails with no fallback: all are HTTP errors for the
   * client, and a new task is run through it before it is stored, so a refused one never is.
   */
  async route(
    taskId: string,
    task: TesTaskRequest,
    caller: Caller,
    exclude?: ReadonlySet<string>,
  ): Promise<ChainOutcome> {
    let candidates = await this.registry.candidates(exclude);
    const strict = this.strictStep(task.resources, candidates);
    if (strict) candidates = strict.candidates;
    try {
      const outcome = await this.chain.run({ taskId, task, caller, candidates });
      return strict ? { ...outcome, decisions: [strict.decision, ...outcome.decisions] } : outcome;
    } catch (error) {
      if (
        strict &&
        (error instanceof TaskRejectedException || error instanceof ChainFailedException)
      ) {
        error.decisions.unshift(strict.decision);
      }
      throw error;
    }
  }

  /**
   * Strict backend parameters, whatever the chain: a key no configured node supports refuses the
   * task (400, naming each such key), otherwise the candidates are narrowed to the nodes supporting
   * every key (none may be available right now: the task then has no node, as any other). Nothing
   * to do (undefined) without strict keys. See backend-parameters.ts.
   */
  private strictStep(
    resources: TesResources | undefined,
    candidates: NodeCandidate[],
  ): { candidates: NodeCandidate[]; decision: MiddlewareDecision } | undefined {
    const keys = strictBackendParameters(resources);
    if (!keys.length) return undefined;
    const started = performance.now();
    const decision = (outcome: MiddlewareDecision['outcome'], order: string[], reason: string) => ({
      // Not an entry of the configured chain: a rule the gateway applies before it.
      entry: -1,
      middleware: BACKEND_PARAMETERS,
      outcome,
      order,
      reason,
      ms: Math.round((performance.now() - started) * 1000) / 1000,
    });
    const supportedBy = this.registry
      .all()
      .map((node) => node.metadata.resources?.backendParameters);
    const missing = strictBackendParametersNoneSupports(resources, supportedBy);
    if (missing.length) {
      const errors = missing.map((key) => ({
        field: `resources.backend_parameters.${key}`,
        reason:
          'is supported by no TES node of this gateway, and backend_parameters_strict is true',
      }));
      const reason = errors.map((e) => `${e.field} ${e.reason}`).join('; ');
      throw new TaskRejectedException(
        `rejected by ${BACKEND_PARAMETERS}: ${reason}`,
        400,
        [decision('rejected', [], reason)],
        errors,
      );
    }
    const kept = candidates.filter((c) =>
      takesStrictBackendParameters(resources, c.metadata.resources?.backendParameters),
    );
    const order = kept.map((c) => c.name);
    return {
      candidates: kept,
      decision: decision('applied', order, `strict: nodes supporting ${keys.join(', ')}`),
    };
  }

  /**
   * Forwards a stored task: along the route stored with it (a new task), or along a new run of the
   * chain over the nodes not tried yet (a resubmitted task), in which a refusal can only end the
   * task. Each attempt is recorded in flight before it is sent, and an attempt found in flight (its
   * sender died) is settled first by asking its node. What happened is reported to the task
   * lifecycle, which alone writes the record; `by` is who forwards (a tracker, by its lease owner
   * id). Sends to a node wait for one of its `forwarding.concurrencyPerNode` slots.
   */
  async forward(record: TaskRecord, by: Actor = GATEWAY_ACTOR): Promise<TaskRecord | undefined> {
    if (this.stopping) return undefined;
    let current: TaskRecord | undefined = record;
    const pending = record.attempts.find((a) => a.inFlight);
    if (pending) {
      const reason = `${pending.node}: the answer was never recorded (its sender stopped)`;
      current = await this.settleUnknown(record.id, pending.node, reason, by);
      if (!current || !needsForwarding(current)) return current;
    }
    // A copy a node made since an earlier attempt's outcome was lost is the task placed: adopted.
    for (const name of new Set(current.attempts.filter((a) => a.unsettled).map((a) => a.node))) {
      const found = await this.adopt(current.id, name, by);
      if ('adopted' in found) return found.adopted;
    }
    const planned = await this.plan(current, by);
    if (!('candidates' in planned)) return planned.ended;
    // No node left but one may still create the task from an attempt whose outcome is unknown:
    // the task waits for that copy (asked for each round) rather than ending or being sent twice.
    if (!planned.candidates.length && this.awaitedCopy(current)) return current;
    const hooks = await this.hooks.current();
    const received = Object.freeze(structuredClone(current.received));
    const context = { taskId: current.id, received, owner: current.owner };
    // What this forwarding did that is not written yet: it goes with the next write.
    let unsent: ForwardAttempt[] = [];
    let decisions = [...planned.decisions];
    const reasons: string[] = [];
    for (const name of planned.candidates) {
      const node = this.registry.get(name);
      // Its breaker opened since the chain ran, or its one half-open trial is taken: not tried,
      // so what the hooks would do for it is no decision.
      if (!node || !this.registry.admits(name)) continue;
      // Each node gets its own version (`received` stays as the client sent it; `forwarded` is
      // what the node took): first as the middlewares' hooks make it for this node...
      const prepared = await hooks.forNode(planned.task, node, context);
      decisions.push(...prepared.decisions);
      if (prepared.refused) {
        const error = `${name}: not sent, ${prepared.refused}`;
        unsent.push({ node: name, at: new Date().toISOString(), error });
        reasons.push(`forwarding to ${error}`);
        this.logger.warn(`task ${current.id}: not sent to ${name}: ${prepared.refused}`);
        continue;
      }
      // ...then without the non-strict backend parameters it does not support, and tagged.
      const { task: trimmed, dropped } = backendParametersFor(
        prepared.task,
        node.metadata.resources?.backendParameters,
      );
      if (dropped.length) {
        decisions.push({
          entry: -1,
          middleware: BACKEND_PARAMETERS,
          outcome: 'applied',
          order: [name],
          reason: `dropped ${dropped.join(', ')} for node ${name}: not among the backend parameters it supports`,
          ms: 0,
        });
      }
      const sent: TesTaskRequest = {
        ...trimmed,
        tags: { ...trimmed.tags, [GATEWAY_ID_TAG]: current.id },
      };
      const earlier = { attempts: unsent, decisions };
      const outcome = await this.slots.run(name, () =>
        this.attempt(current.id, node, sent, earlier, by),
      );
      if (outcome.kind !== 'failed') return outcome.record;
      [unsent, decisions] = [[], []];
      reasons.push(`forwarding to ${outcome.error}`);
    }
    if (!reasons.length) {
      const chainDecisions = current.route ? (current.decisions ?? []) : planned.decisions;
      reasons.push(noNodeReason(planned.offered, chainDecisions, this.registry.unavailable()));
    }
    return this.lifecycle.forwardFailed(current.id, { attempts: unsent, decisions, reasons }, by);
  }

  /**
   * For a process that stops: no send starts from now on (forward returns undefined, and so do the
   * forwards waiting for a node's slot); the sends under way finish and are recorded. What was not
   * sent stays in the outbox, for the next start or another tracker.
   */
  stop(): void {
    this.stopping = true;
    this.slots.close();
  }

  /**
   * The nodes to try, best first, the chain's task and the decisions not recorded yet: the route
   * stored with a new task (its decisions are recorded), else a new run of the chain over the nodes
   * not tried yet. A chain that now refuses the task ends it (`ended`).
   */
  private async plan(
    record: TaskRecord,
    by: Actor,
  ): Promise<NonNullable<AcceptedEvent['route']> | { ended: TaskRecord | undefined }> {
    // A node whose unknown outcome is older than tracker.nodeLostAfterMs is tried again: a copy it
    // made that late is canceled as any other stray copy.
    const tried = new Set(
      record.attempts.filter((a) => !a.unsettled || this.awaited(a)).map((a) => a.node),
    );
    const { route } = record;
    const untried = (name: string) => !tried.has(name) && this.registry.get(name) !== undefined;
    // The stored route, unless every node of it is tried or gone from the configuration (which
    // changed since) and no copy is awaited: then the chain runs again, as for a resubmitted task.
    const waiting = !route?.candidates.some(untried) && this.awaitedCopy(record);
    if (route && (!route.candidates.length || route.candidates.some(untried) || waiting)) {
      return { ...route, candidates: route.candidates.filter(untried), decisions: [] };
    }
    try {
      const caller = { subject: record.owner, headers: {} };
      return plannedRoute(await this.route(record.id, record.received, caller, tried));
    } catch (error) {
      if (!(error instanceof TaskRejectedException || error instanceof ChainFailedException)) {
        throw error;
      }
      const outcome = { attempts: [], decisions: error.decisions, reasons: [error.message] };
      return { ended: await this.lifecycle.forwardFailed(record.id, outcome, by) };
    }
  }

  /**
   * One send to one node: recorded in flight first, then sent, then its outcome recorded. `placed`
   * when the node took the task (or was found holding it), with the record as stored (undefined
   * when the lifecycle refused the binding: the node's copy is then canceled); `stopped` when the
   * lifecycle refused the attempt itself (the task was canceled, placed or ended meanwhile) and
   * nothing was sent, or the process stops (nothing was sent either); `failed` otherwise.
   */
  private async attempt(
    id: string,
    node: TesNode,
    sent: TesTaskRequest,
    earlier: Pick<AttemptingEvent, 'attempts' | 'decisions'>,
    by: Actor,
  ): Promise<
    | { kind: 'placed' | 'stopped'; record: TaskRecord | undefined }
    | { kind: 'failed'; error: string }
  > {
    const name = node.name;
    if (this.stopping) return { kind: 'stopped', record: undefined };
    const at = new Date().toISOString();
    const started = await this.lifecycle.attempting(id, { node: name, at, ...earlier }, by);
    if (!started) return { kind: 'stopped', record: undefined };
    if (!this.registry.admit(name)) {
      const error = `${name}: not sent, its circuit opened meanwhile`;
      await this.lifecycle.attemptFailed(id, { node: name, error, unsettled: false }, by);
      return { kind: 'failed', error };
    }
    let remoteId: string;
    try {
      ({ id: remoteId } = await node.client.createTask(sent));
    } catch (error) {
      const reason = error instanceof TesNodeError ? error.message : `${name}: ${String(error)}`;
      // A 4xx is the node's verdict on this task (too large, invalid for it): the node answered,
      // so it counts for the node, not against it.
      this.registry.report(name, isAboutTheTask(error) ? undefined : reason);
      this.logger.warn(`task ${id}: forwarding failed, ${reason}`);
      if (outcomeUnknown(error)) {
        const settled = await this.settleUnknown(id, name, reason, by);
        if (settled?.node) return { kind: 'placed', record: settled };
      } else {
        await this.lifecycle.attemptFailed(id, { node: name, error: reason, unsettled: false }, by);
      }
      return { kind: 'failed', error: reason };
    }
    this.registry.report(name);
    this.registry.forwarded(name);
    const outcome = { node: name, remoteId, task: sent, attempts: [], decisions: [] };
    const stored = await this.lifecycle.forwarded(id, outcome, by);
    if (!stored) await this.withdraw(id, node, remoteId);
    return { kind: 'placed', record: stored };
  }

  /**
   * An attempt in flight on the node has no known outcome (no answer in time, the connection
   * dropped, its sender died): the node is asked for the task's copies. A running one is adopted;
   * with none, or no answer, the attempt fails unsettled: the copy is asked for again before the
   * task is forwarded anew, and canceled if it shows up once the task is placed elsewhere.
   */
  private async settleUnknown(
    id: string,
    name: string,
    reason: string,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    const found = await this.adopt(id, name, by);
    if ('adopted' in found) return found.adopted;
    const { copies } = found;
    const unsettled = !copies?.length;
    const error = copies ? `${reason}; the node holds no copy (yet)` : reason;
    return this.lifecycle.attemptFailed(id, { node: name, error, unsettled }, by);
  }

  /**
   * Asks the node for copies of the task, and adopts one (any other running one is canceled):
   * `adopted` with the record as stored, else the copies found (undefined: the node did not answer).
   */
  private async adopt(
    id: string,
    name: string,
    by: Actor,
  ): Promise<{ adopted: TaskRecord | undefined } | { copies: TesTask[] | undefined }> {
    const node = this.registry.get(name);
    const copies = node && (await this.copiesOn(node, id).catch(() => undefined));
    // A running copy first; else one that ended by itself: the task ran there (once), and the
    // tracker reads how it ended. A canceled copy is no run of the task.
    const [running, ...extra] = (copies ?? []).filter((copy) => !isTerminal(copy.state));
    const adopted = running ?? copies?.find((copy) => copy.state !== 'CANCELED');
    if (!node || !adopted) return { copies };
    for (const copy of extra) await this.withdraw(id, node, copy.id);
    const task = requestOf(adopted);
    const outcome = { node: name, remoteId: adopted.id, task, attempts: [], decisions: [] };
    const stored = await this.lifecycle.forwarded(id, outcome, by);
    if (stored) this.logger.warn(`task ${id}: adopted task ${adopted.id} found on ${name}`);
    else await this.withdraw(id, node, adopted.id);
    return { adopted: stored };
  }

  /** An unsettled attempt still young enough for its copy to be waited for. */
  private awaited(attempt: ForwardAttempt): boolean {
    return Date.now() - Date.parse(attempt.at) < this.nodeLostAfterMs;
  }

  /** Whether a copy from an attempt with an unknown outcome may still show up on a configured node. */
  private awaitedCopy(record: TaskRecord): boolean {
    return record.attempts.some(
      (a) => a.unsettled && this.awaited(a) && this.registry.get(a.node) !== undefined,
    );
  }

  /**
   * Cancels the copies of the task that its unsettled attempts may have left on their nodes (an
   * answer that came too late, a node lost while unreachable), other than the one the task is
   * bound to while it runs, and settles each attempt whose node answered with copies. A node that
   * does not answer, or has no copy yet, is asked again next time. Also for a task that ended:
   * a slow node may create its copy after that.
   */
  async cancelStrayCopies(record: TaskRecord, by: Actor): Promise<void> {
    const nodes = new Set(record.attempts.filter((a) => a.unsettled).map((a) => a.node));
    for (const name of nodes) {
      const node = this.registry.get(name);
      // A node whose breaker is open is not waited for: it is asked again once it answers.
      if (!node || !this.registry.admits(name)) continue;
      let copies: TesTask[];
      try {
        copies = await this.copiesOn(node, record.id);
      } catch {
        continue;
      }
      // Once the task ended, a copy still running is no run of it, even the one it was bound to
      // (on a node lost while unreachable).
      const ended = isTerminal(record.state);
      const stray = copies.filter(
        (c) => name !== record.node || c.id !== record.remoteId || (ended && !isTerminal(c.state)),
      );
      if (!stray.length) continue;
      for (const copy of stray) {
        if (!isTerminal(copy.state)) await this.withdraw(record.id, node, copy.id);
      }
      const remoteIds = stray.map((c) => c.id);
      await this.lifecycle.copyCanceled(record.id, { node: name, remoteIds }, by);
    }
  }

  /** The node's copies of a gateway task, found by the tag every forwarded task carries. */
  private async copiesOn(node: TesNode, id: string): Promise<TesTask[]> {
    const page = await node.client.listTasks({
      view: 'BASIC',
      pageSize: MAX_PAGE_SIZE,
      tagKey: GATEWAY_ID_TAG,
      tagValue: id,
    });
    // Checked here too: a node may ignore tag_value (or list filters altogether).
    return page.tasks.filter((task) => task.tags?.[GATEWAY_ID_TAG] === id);
  }

  /**
   * The lifecycle refused a node's acceptance (the task ended, or another process placed it
   * meanwhile): the copy on this node would run untracked, so it is canceled there.
   */
  private async withdraw(id: string, node: TesNode, remoteId: string): Promise<void> {
    this.logger.warn(
      `task ${id}: placed elsewhere or ended meanwhile, canceling ${remoteId} on ${node.name}`,
    );
    try {
      await node.client.cancelTask(remoteId);
    } catch (error) {
      this.logger.warn(
        `task ${id}: could not cancel ${remoteId} on ${node.name}: ${String(error)}`,
      );
    }
  }
}
