import { Injectable, Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { Actor, TaskEventKind, TaskHistoryEntry } from '../task-history';
import type { TaskRecord } from '../task-record';
import { TaskStore } from '../task-store';
import { updateTask } from '../task-updates';
import type {
  AcceptedEvent,
  AttemptFailedEvent,
  AttemptingEvent,
  CancelConfirmedEvent,
  CopyCanceledEvent,
  ForwardedEvent,
  ForwardFailedEvent,
  LossReport,
  ObservedEvent,
  RoutedEvent,
  TaskEvent,
} from './task-events';
import { transition } from './transition';

/** What TaskLifecycle.apply did. */
export type LifecycleResult =
  /** `event` was applied and written; `record` is the record as stored. */
  | { outcome: 'applied'; event: TaskEventKind; record: TaskRecord; entry?: TaskHistoryEntry }
  /** Allowed but changes nothing: nothing was written; `record` is the current one. */
  | { outcome: 'unchanged'; record: TaskRecord }
  /** The table refused every event given: nothing was written; `record` is the current one. */
  | { outcome: 'refused'; record: TaskRecord; reason: string }
  /** There is no task with this id. */
  | { outcome: 'missing' };

/** An event the lifecycle wrote, as observers (logs, metrics) see it. */
export interface AppliedTaskEvent {
  event: TaskEvent;
  /** The record as stored. */
  record: TaskRecord;
  /** The state before; absent for `accepted`. */
  from?: TaskRecord['state'];
  by: Actor;
}

/** How the tracker handles a task its node lost (from its configuration). */
export interface ResubmissionPolicy {
  /** Every configured node: a lost task is resubmitted only while one of them is untried. */
  nodes: readonly string[];
  /** How many losses are resubmitted; the next one ends the task. */
  maxResubmissions: number;
  /** Show a task that ends PREEMPTED as such rather than as SYSTEM_ERROR. */
  exposePreempted?: boolean;
}

/** Raised by accept for a record that is not new: a bug of the caller, not a client's error. */
export class TransitionRefusedError extends Error {
  constructor(
    readonly id: string,
    readonly event: TaskEventKind,
    readonly reason: string,
  ) {
    super(`task ${id}: ${event} refused: ${reason}`);
  }
}

/** The gateway, for callers that do not name their process. */
export const GATEWAY_ACTOR: Actor = { kind: 'gateway' };

/**
 * The only writer of a task's state. Services report what happened (an event); the lifecycle reads
 * the record, asks the transition table (transition.ts) and writes the result, retrying on a fresh
 * read when another writer got there first — so the table is checked against the record actually
 * written over, never against a copy read earlier.
 *
 * Each command returns the record as stored, the current record when the event changed nothing,
 * and undefined when the table refused it or there is no such task (the refusal is logged at debug
 * level; `apply` returns it). Commands never throw for a refusal: a late or duplicate report is
 * normal in a system of several gateways and trackers.
 */
@Injectable()
export class TaskLifecycle {
  private readonly logger = new Logger(TaskLifecycle.name);
  /** Every event written, once stored; nothing is emitted for refused or unchanged ones. */
  readonly applied = new Subject<AppliedTaskEvent>();

  constructor(private readonly store: TaskStore) {}

  /**
   * Stores a new task (from newTaskRecord) with its `accepted` entry, and the chain's route when
   * given, and returns it as stored. TransitionRefusedError for a record that is not new;
   * TaskExistsError from the store for an id taken.
   */
  async accept(
    record: TaskRecord,
    by: Actor = GATEWAY_ACTOR,
    route?: AcceptedEvent['route'],
  ): Promise<TaskRecord> {
    const event: AcceptedEvent = { kind: 'accepted', ...(route && { route }) };
    const result = transition(record, event, by, new Date().toISOString());
    if (result.outcome !== 'applied') {
      const reason = result.outcome === 'refused' ? result.reason : 'nothing to accept';
      throw new TransitionRefusedError(record.id, 'accepted', reason);
    }
    await this.store.create(result.record);
    this.applied.next({ event: { kind: 'accepted' }, record: result.record, by });
    return result.record;
  }

  /** The middleware chain ran for a stored task that has no node. */
  routed(id: string, route: Omit<RoutedEvent, 'kind'>, by: Actor): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'routed', ...route }, by);
  }

  /**
   * The task is about to be sent to a node; refused (undefined) while another attempt is in flight,
   * once a cancel was requested, or once the task is placed or ended: then nothing is sent.
   */
  attempting(
    id: string,
    attempt: Omit<AttemptingEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'attempting', ...attempt }, by);
  }

  /** The attempt in flight on a node did not place the task (unsettled: its outcome is unknown). */
  attemptFailed(
    id: string,
    failure: Omit<AttemptFailedEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'attemptFailed', ...failure }, by);
  }

  /** The copies an unsettled attempt left on a node were found and canceled there. */
  copyCanceled(
    id: string,
    found: Omit<CopyCanceledEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'copyCanceled', ...found }, by);
  }

  /** A node took the task: it is bound to the node, or CANCELING if a cancel came in meanwhile. */
  forwarded(
    id: string,
    outcome: Omit<ForwardedEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'forwarded', ...outcome }, by);
  }

  /** No node took the task: it ends SYSTEM_ERROR (CANCELED if a cancel came in meanwhile). */
  forwardFailed(
    id: string,
    outcome: Omit<ForwardFailedEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'forwardFailed', ...outcome }, by);
  }

  /**
   * What the node says of the task. A loss (PREEMPTED, SYSTEM_ERROR without a pending cancel) is
   * refused here: report it with `lost`.
   */
  observed(
    id: string,
    observation: Omit<ObservedEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'observed', ...observation }, by);
  }

  /**
   * The node lost the task. It is resubmitted if the table allows it (no cancel pending, an untried
   * node left, resubmissions left): then the record returned needs forwarding (needsForwarding)
   * and the caller forwards it; else the task ends in the node's state, shown by the policy.
   */
  lost(
    id: string,
    loss: LossReport,
    policy: ResubmissionPolicy,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    const { nodes, maxResubmissions, exposePreempted } = policy;
    return this.command(
      id,
      [
        { kind: 'resubmitted', ...loss, nodes, maxResubmissions },
        { kind: 'lost', ...loss, exposePreempted },
      ],
      by,
    );
  }

  /** A client asks to cancel: CANCELING with the request recorded; a repeat changes nothing. */
  requestCancel(id: string, by: Actor = GATEWAY_ACTOR): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'cancelRequested' }, by);
  }

  /**
   * The requested cancel is done: the node no longer has the task (give its node and remote id),
   * or it was never forwarded (give neither).
   */
  confirmCancel(
    id: string,
    confirmation: Omit<CancelConfirmedEvent, 'kind'>,
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    return this.command(id, { kind: 'cancelConfirmed', ...confirmation }, by);
  }

  /**
   * Applies the first of `events` that the table allows on the current record, and writes it; the
   * choice is made again on each retry. With all refused, the result carries the last refusal.
   */
  async apply(
    id: string,
    events: TaskEvent | readonly TaskEvent[],
    by: Actor,
  ): Promise<LifecycleResult> {
    const candidates: readonly TaskEvent[] = Array.isArray(events) ? events : [events];
    // Set by the last run of the closure, which is the one whose outcome was written (or not).
    const last: { result?: LifecycleResult; event?: TaskEvent; from?: TaskRecord['state'] } = {};
    const stored = await updateTask(this.store, id, (current) => {
      const now = new Date().toISOString();
      let reason = 'no event given';
      for (const event of candidates) {
        const result = transition(current, event, by, now);
        if (result.outcome === 'refused') {
          reason = result.reason;
          continue;
        }
        if (result.outcome === 'unchanged') {
          last.result = { outcome: 'unchanged', record: current };
          return undefined;
        }
        last.result = { ...result, event: event.kind };
        last.event = event;
        last.from = current.state;
        return result.record;
      }
      last.result = { outcome: 'refused', record: current, reason };
      return undefined;
    });
    if (!stored || !last.result) return { outcome: 'missing' };
    if (last.result.outcome !== 'applied' || !last.event) return last.result;
    this.applied.next({ event: last.event, record: stored, from: last.from, by });
    return { ...last.result, record: stored };
  }

  private async command(
    id: string,
    events: TaskEvent | readonly TaskEvent[],
    by: Actor,
  ): Promise<TaskRecord | undefined> {
    const result = await this.apply(id, events, by);
    switch (result.outcome) {
      case 'applied':
      case 'unchanged':
        return result.record;
      case 'refused': {
        const kinds = (Array.isArray(events) ? events : [events]).map((e: TaskEvent) => e.kind);
        this.logger.debug(`task ${id}: ${kinds.join(' or ')} refused: ${result.reason}`);
        return undefined;
      }
      case 'missing':
        return undefined;
    }
  }
}
