import { Injectable, Logger } from '@nestjs/common';
import {
  type Actor,
  type ForwardAttempt,
  GATEWAY_ACTOR,
  type MiddlewareDecision,
  TaskLifecycle,
  type TaskRecord,
} from '@protes/core';
import { type TesResources, type TesTaskRequest, TesNodeError } from '@protes/tes';
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

/** Tag put on every forwarded task, so an operator can find a remote task's gateway id. */
export const GATEWAY_ID_TAG = 'protes_id';

/** Why a chain's outcome has no node, from its decisions and the registry. */
function noNodeReason(route: ChainOutcome, unavailable: string[]): string {
  const emptied = route.decisions.find((d) => d.outcome === 'applied' && d.order.length === 0);
  if (route.offered.length && emptied) {
    return `no TES node is left after middleware ${emptied.middleware}`;
  }
  const open = unavailable.length ? ` (circuit open: ${unavailable.join(', ')})` : '';
  return `no TES node is available to run this task${open}`;
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

  constructor(
    private readonly lifecycle: TaskLifecycle,
    private readonly registry: NodeRegistry,
    private readonly chain: ChainService,
    middlewares: MiddlewareRegistry,
  ) {
    this.hooks = new MiddlewareHooks(chain, middlewares);
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
   * Forwards a stored task along `route`, or (for a task the tracker resubmits or takes over) along
   * a new run of the chain over the nodes not tried yet, in which a refusal can only end the task.
   * What happened is reported to the task lifecycle, which alone writes the record; `by` is who
   * forwards (the gateway, or a tracker by its lease owner id).
   */
  async forward(
    record: TaskRecord,
    route?: ChainOutcome,
    by: Actor = GATEWAY_ACTOR,
  ): Promise<TaskRecord | undefined> {
    const tried = new Set(record.attempts.map((a) => a.node));
    try {
      route ??= await this.route(
        record.id,
        record.received,
        { subject: record.owner, headers: {} },
        tried,
      );
    } catch (error) {
      if (!(error instanceof TaskRejectedException || error instanceof ChainFailedException)) {
        throw error;
      }
      const outcome = { attempts: [], decisions: error.decisions, reasons: [error.message] };
      return this.lifecycle.forwardFailed(record.id, outcome, by);
    }
    const hooks = await this.hooks.current();
    const received = Object.freeze(structuredClone(record.received));
    const context = { taskId: record.id, received, owner: record.owner };
    const attempts: ForwardAttempt[] = [];
    const decisions = [...route.decisions];
    for (const { name } of route.candidates) {
      const node = this.registry.get(name);
      if (!node) continue;
      // Each node gets its own version (`received` stays as the client sent it; `forwarded` is
      // what the node took): first as the middlewares' hooks make it for this node...
      const prepared = await hooks.forNode(route.task, node, context);
      if (prepared.refused) {
        decisions.push(...prepared.decisions);
        attempts.push({
          node: name,
          at: new Date().toISOString(),
          error: `${name}: not sent, ${prepared.refused}`,
        });
        this.logger.warn(`task ${record.id}: not sent to ${name}: ${prepared.refused}`);
        continue;
      }
      // Its breaker opened since the chain ran, or its one half-open trial is taken: not tried,
      // so what the hooks did for it is no decision.
      if (!this.registry.admit(name)) continue;
      decisions.push(...prepared.decisions);
      const at = new Date().toISOString();
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
        tags: { ...trimmed.tags, [GATEWAY_ID_TAG]: record.id },
      };
      let remoteId: string;
      try {
        ({ id: remoteId } = await node.client.createTask(sent));
      } catch (error) {
        const reason = error instanceof TesNodeError ? error.message : `${name}: ${String(error)}`;
        attempts.push({ node: name, at, error: reason });
        this.registry.report(name, reason);
        this.logger.warn(`task ${record.id}: forwarding failed, ${reason}`);
        continue;
      }
      this.registry.report(name);
      this.registry.forwarded(name);
      attempts.push({ node: name, at, remoteId });
      const outcome = { node: name, remoteId, task: sent, attempts, decisions };
      const stored = await this.lifecycle.forwarded(record.id, outcome, by);
      if (!stored) await this.withdraw(record.id, node, remoteId);
      return stored;
    }
    const reasons = attempts.length
      ? attempts.map((a) => `forwarding to ${a.error}`)
      : [noNodeReason(route, this.registry.unavailable())];
    return this.lifecycle.forwardFailed(record.id, { attempts, decisions, reasons }, by);
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
