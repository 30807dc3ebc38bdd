import {
  Injectable,
  Logger,
  Module,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { type AppliedTaskEvent, TaskLifecycle } from '@protes/core';
import { currentRequestId, Metrics, TaskRequestIds } from '@protes/server';
import { isTerminal } from '@protes/tes';
import { Subscription } from 'rxjs';
import { DistributionModule } from './distribution.module';
import { type ChainRun, ChainService, TaskRejectedException } from './middleware/chain.service';

/** Middleware decision times, in seconds: from an in-process rule to a slow remote service. */
const DECISION_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** The label of a task that has no node (it ended before one took it). */
const NO_NODE = 'none';

/** What a log line says of one applied event, and at which level. */
interface EventLine {
  msg: string;
  fields: Record<string, unknown>;
  /** Routine events (a state change the node reported) are debug; the rest tell a task's story. */
  debug?: boolean;
}

function describe({ event, record }: AppliedTaskEvent): EventLine {
  switch (event.kind) {
    case 'accepted':
      return { msg: 'task created', fields: {} };
    case 'forwarded': {
      const failedOver = event.attempts.filter((a) => a.error).map((a) => a.node);
      return {
        msg: `task forwarded to ${event.node}`,
        fields: {
          node: event.node,
          remoteId: event.remoteId,
          ...(failedOver.length && { failedOver }),
        },
      };
    }
    case 'forwardFailed':
      return {
        msg: 'task not forwarded: no node took it',
        fields: { reason: event.reasons.join('; ') },
      };
    case 'resubmitted':
      return {
        msg: `task lost on ${event.node}, resubmitted`,
        fields: { node: event.node, lostAs: event.lostAs, reason: event.reason },
      };
    case 'lost':
      return {
        msg: `task lost on ${event.node}, not resubmitted`,
        fields: { node: event.node, lostAs: event.lostAs, reason: event.reason },
      };
    case 'observed':
      return {
        msg: `task ${event.state} on ${event.node}`,
        fields: { node: event.node },
        debug: !isTerminal(record.state),
      };
    case 'cancelRequested':
      return { msg: 'task cancel requested', fields: {} };
    case 'cancelConfirmed':
      return { msg: 'task canceled', fields: { node: event.node, reason: event.reason } };
    case 'attempting':
      return { msg: `task being sent to ${event.node}`, fields: { node: event.node }, debug: true };
    case 'attemptFailed':
      return {
        msg: `task not placed on ${event.node}${event.unsettled ? ' (outcome unknown)' : ''}`,
        fields: { node: event.node, reason: event.error, unsettled: event.unsettled },
      };
    case 'copyCanceled':
      return {
        msg: `stray copies of the task canceled on ${event.node}`,
        fields: { node: event.node, remoteIds: event.remoteIds },
      };
    case 'routed':
      return { msg: 'task routed', fields: { candidates: event.candidates }, debug: true };
  }
}

/**
 * One log line and the counters for every task event this process writes (the lifecycle's
 * `applied`) and every run of the middleware chain (its refusals, its decision times). Lines carry
 * the task id, the node, the reason, and the id of the request that created the task: the one
 * being served, or, for what happens later (a poll, a resubmission), the one remembered for the
 * task.
 */
@Injectable()
export class TaskObserver implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('TaskEvents');
  /** The request that created each recent task; the tracker adds those the bus brings. */
  readonly requestIds = new TaskRequestIds();
  private readonly subscriptions = new Subscription();
  private readonly created;
  private readonly refused;
  private readonly forwarded;
  private readonly failedOver;
  private readonly resubmitted;
  private readonly finished;
  private readonly decisions;

  constructor(
    private readonly lifecycle: TaskLifecycle,
    private readonly chain: ChainService,
    metrics: Metrics,
  ) {
    this.created = metrics.counter('protes_tasks_created_total', 'tasks accepted and stored');
    this.refused = metrics.counter(
      'protes_tasks_refused_total',
      'tasks a middleware refused (never stored, or ended when run again for a resubmission)',
      ['middleware'],
    );
    this.forwarded = metrics.counter('protes_tasks_forwarded_total', 'tasks a node took, by node', [
      'node',
    ]);
    this.failedOver = metrics.counter(
      'protes_tasks_failed_over_total',
      'forwarding attempts that failed on a node, so that the next candidate was tried, by node',
      ['node'],
    );
    this.resubmitted = metrics.counter(
      'protes_tasks_resubmitted_total',
      'tasks a node lost (PREEMPTED, SYSTEM_ERROR, forgotten) that went back to be forwarded, by the node that lost them',
      ['node'],
    );
    this.finished = metrics.counter(
      'protes_tasks_finished_total',
      'tasks that reached a terminal state, by state and last node',
      ['state', 'node'],
    );
    this.decisions = metrics.histogram(
      'protes_middleware_decision_seconds',
      'time each middleware of the chain took to decide, by middleware and outcome',
      ['middleware', 'outcome'],
      DECISION_BUCKETS,
    );
  }

  onModuleInit(): void {
    this.subscriptions.add(
      this.lifecycle.applied.subscribe((applied) => this.safely(() => this.onEvent(applied))),
    );
    this.subscriptions.add(
      this.chain.runs.subscribe((run) => this.safely(() => this.onChainRun(run))),
    );
  }

  /**
   * Observing must never break what it observes: rxjs rethrows an error of a subscriber outside
   * any caller, where it would end the process.
   */
  private safely(observe: () => void): void {
    try {
      observe();
    } catch (error) {
      this.logger.warn(`task event not logged or counted: ${String(error)}`);
    }
  }

  onModuleDestroy(): void {
    this.subscriptions.unsubscribe();
  }

  private onEvent(applied: AppliedTaskEvent): void {
    const { event, record, from } = applied;
    const requestId = this.requestIdOf(record.id, record.requestId);
    const { msg, fields, debug } = describe(applied);
    const line = {
      msg,
      taskId: record.id,
      event: event.kind,
      ...(from && { from }),
      state: record.state,
      ...fields,
      by: applied.by.id ?? applied.by.kind,
      ...(requestId && { requestId }),
    };
    if (debug) this.logger.debug(line);
    else this.logger.log(line);

    if (event.kind === 'accepted') this.created.inc();
    if (event.kind === 'forwarded') this.forwarded.inc({ node: event.node });
    if (event.kind === 'resubmitted') this.resubmitted.inc({ node: event.node });
    if (event.kind === 'forwarded' || event.kind === 'forwardFailed') {
      for (const attempt of event.attempts) {
        if (attempt.error) this.failedOver.inc({ node: attempt.node });
      }
    }
    if (isTerminal(record.state) && from !== undefined && !isTerminal(from)) {
      this.finished.inc({ state: record.state, node: record.node ?? NO_NODE });
      this.requestIds.forget(record.id);
    }
  }

  private onChainRun({ taskId, decisions, refusal }: ChainRun): void {
    for (const d of decisions) {
      // The gateway's own rules (entry -1) and disabled entries decide nothing.
      if (d.entry >= 0 && d.outcome !== 'skipped') {
        this.decisions.observe({ middleware: d.middleware, outcome: d.outcome }, d.ms / 1000);
      }
    }
    if (!refusal) return;
    const requestId = this.requestIdOf(taskId);
    const line = {
      taskId,
      status: refusal.getStatus(),
      reason: refusal.message,
      ...(requestId && { requestId }),
    };
    if (refusal instanceof TaskRejectedException) {
      const middleware = decisions.at(-1)?.middleware ?? 'unknown';
      this.refused.inc({ middleware });
      this.logger.log({ msg: `task refused by middleware ${middleware}`, middleware, ...line });
    } else {
      this.logger.warn({ msg: 'task not placed: the middleware chain failed', ...line });
    }
  }

  /**
   * The request being served (remembered for the task), else the last one remembered for it (the
   * bus brings a cancel's), else the one stored with the task.
   */
  private requestIdOf(taskId: string, stored?: string): string | undefined {
    const current = currentRequestId();
    if (current) this.requestIds.remember(taskId, current);
    return current ?? this.requestIds.of(taskId) ?? stored;
  }
}

/** The TaskObserver, for the apps that write task events (the gateway, the tracker). */
@Module({ imports: [DistributionModule], providers: [TaskObserver], exports: [TaskObserver] })
export class TaskObserverModule {}
