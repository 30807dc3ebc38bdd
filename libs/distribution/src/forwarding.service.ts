import { Injectable, Logger } from '@nestjs/common';
import {
  type ForwardAttempt,
  type MiddlewareDecision,
  type TaskRecord,
  TaskStore,
  updateTask,
} from '@protes/persistence';
import { type TesTaskRequest, TesNodeError } from '@protes/tes';
import {
  ChainFailedException,
  type ChainOutcome,
  ChainService,
  TaskRejectedException,
} from './middleware/chain.service';
import type { Caller } from './middleware/middleware';
import { NodeRegistry } from './node-registry';

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
 * calls through; `forward` tries the nodes in the chain's order, moving on after a connection
 * error, a timeout or an HTTP error, and writes every attempt and decision to the record. If no
 * node takes it, the task ends in SYSTEM_ERROR with the reasons in its logs.
 */
@Injectable()
export class ForwardingService {
  private readonly logger = new Logger(ForwardingService.name);

  constructor(
    private readonly store: TaskStore,
    private readonly registry: NodeRegistry,
    private readonly chain: ChainService,
  ) {}

  /**
   * Runs the chain for a task. Throws TaskRejectedException (4xx) when a middleware refuses it and
   * ChainFailedException (503) when an entry fails with no fallback: both are HTTP errors for the
   * client, and a new task is run through it before it is stored, so a refused one never is.
   */
  async route(
    taskId: string,
    task: TesTaskRequest,
    caller: Caller,
    exclude?: ReadonlySet<string>,
  ): Promise<ChainOutcome> {
    const candidates = await this.registry.candidates(exclude);
    return this.chain.run({ taskId, task, caller, candidates });
  }

  /**
   * Forwards a stored task along `route`, or (for a task the tracker resubmits or takes over) along
   * a new run of the chain over the nodes not tried yet, in which a refusal can only end the task.
   */
  async forward(record: TaskRecord, route?: ChainOutcome): Promise<TaskRecord | undefined> {
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
      return this.write(record.id, [], error.decisions, undefined, [error.message]);
    }
    const task: TesTaskRequest = {
      ...route.task,
      tags: { ...route.task.tags, [GATEWAY_ID_TAG]: record.id },
    };
    const attempts: ForwardAttempt[] = [];
    for (const { name } of route.candidates) {
      const node = this.registry.get(name);
      // Its breaker opened since the chain ran, or its one half-open trial is taken.
      if (!node || !this.registry.admit(name)) continue;
      const at = new Date().toISOString();
      try {
        const { id } = await node.client.createTask(task);
        this.registry.report(name);
        this.registry.forwarded(name);
        attempts.push({ node: name, at, remoteId: id });
        return this.write(record.id, attempts, route.decisions, task);
      } catch (error) {
        const reason = error instanceof TesNodeError ? error.message : `${name}: ${String(error)}`;
        attempts.push({ node: name, at, error: reason });
        this.registry.report(name, reason);
        this.logger.warn(`task ${record.id}: forwarding failed, ${reason}`);
      }
    }
    const reasons = attempts.length
      ? attempts.map((a) => `forwarding to ${a.error}`)
      : [noNodeReason(route, this.registry.unavailable())];
    return this.write(record.id, attempts, route.decisions, undefined, reasons);
  }

  /**
   * Records the attempts and decisions; with `forwarded`, the node that took the task (the last
   * attempt), else the end of the task with `reasons`.
   */
  private write(
    id: string,
    attempts: ForwardAttempt[],
    decisions: MiddlewareDecision[],
    forwarded?: TesTaskRequest,
    reasons: string[] = [],
  ): Promise<TaskRecord | undefined> {
    return updateTask(this.store, id, (current) => {
      const now = new Date().toISOString();
      const next: TaskRecord = {
        ...current,
        attempts: [...current.attempts, ...attempts],
        decisions: [...(current.decisions ?? []), ...decisions],
        updatedAt: now,
      };
      const accepted = attempts.at(-1);
      if (forwarded && accepted) {
        next.node = accepted.node;
        next.remoteId = accepted.remoteId;
        next.forwarded = forwarded;
        // A cancel that came in while forwarding is carried out by the tracker on the node.
        if (current.cancelRequested) next.state = 'CANCELING';
        return next;
      }
      const state = current.cancelRequested ? 'CANCELED' : 'SYSTEM_ERROR';
      return { ...next, state, endedAt: now, systemLogs: [...current.systemLogs, ...reasons] };
    });
  }
}
