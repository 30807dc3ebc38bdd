import type { TesState, TesTaskLog, TesTaskRequest } from '@protes/tes';
import type { TaskEventKind } from '../task-history';
import type { ForwardAttempt, MiddlewareDecision, TaskRoute } from '../task-record';

/*
 * What can happen to a task, as the services that see it report it. Each event says what was seen
 * or asked, never what the record should become: that is the transition table's to decide.
 */

/**
 * The gateway stored a new task (TaskLifecycle.accept), with the route the chain chose for it and
 * the chain's decisions: the stored task is the outbox entry a forwarder takes up afterwards.
 */
export interface AcceptedEvent {
  kind: 'accepted';
  route?: TaskRoute & { decisions: MiddlewareDecision[] };
}

/**
 * The middleware chain ran over the stored task and ranked the candidates, recorded on its own.
 * Forwarding that routes and forwards in one step need not send it: `forwarded` and
 * `forwardFailed` carry the decisions of the run that led to them.
 */
export interface RoutedEvent {
  kind: 'routed';
  decisions: MiddlewareDecision[];
  /** The candidate nodes, best first. */
  candidates: string[];
}

/**
 * The forwarder is about to send the task to `node`: recorded before the request leaves, so that
 * an answer lost to a crash is known to be possible. Carries what this forwarding did before
 * (nodes not sent the task, decisions) so that it is written in the same step.
 */
export interface AttemptingEvent {
  kind: 'attempting';
  node: string;
  at: string;
  attempts: ForwardAttempt[];
  decisions: MiddlewareDecision[];
}

/**
 * The attempt in flight on `node` did not place the task. `unsettled` when its outcome is unknown
 * (no answer in time, the connection dropped, its sender died) and the node was not found to hold
 * a copy: the node may still create one, which the tracker looks for and cancels.
 */
export interface AttemptFailedEvent {
  kind: 'attemptFailed';
  node: string;
  error: string;
  unsettled: boolean;
}

/**
 * Copies of the task that an unsettled attempt left on `node` were found (and the running ones
 * canceled there): the attempt is settled.
 */
export interface CopyCanceledEvent {
  kind: 'copyCanceled';
  node: string;
  /** The node's ids of the copies found. */
  remoteIds: string[];
}

/** A node took the task (the attempt in flight on it, if any, or a copy found there). */
export interface ForwardedEvent {
  kind: 'forwarded';
  node: string;
  /** The node's id for the task. */
  remoteId: string;
  /** The task exactly as the node received it. */
  task: TesTaskRequest;
  /** This forwarding's attempts in order: those that failed, then the node's that took it. */
  attempts: ForwardAttempt[];
  /** Decisions made for this forwarding (the chain's, the gateway's own). */
  decisions: MiddlewareDecision[];
}

/** No node took the task, or the chain refused it when it ran again for a stored task. */
export interface ForwardFailedEvent {
  kind: 'forwardFailed';
  attempts: ForwardAttempt[];
  decisions: MiddlewareDecision[];
  /** Why, for the client: one line each, added to the task's system logs. */
  reasons: string[];
}

/** A node's view of its task, as the tracker read it. */
export interface ObservedEvent {
  kind: 'observed';
  /** Which node and remote task this is about: a report about an earlier attempt is refused. */
  node: string;
  remoteId: string;
  /** The state the node reports. */
  state: TesState;
  /** The node's task logs, which replace the ones kept. */
  logs: TesTaskLog[];
  /** Show PREEMPTED to clients as it is; by default it is shown as SYSTEM_ERROR (a tracker option). */
  exposePreempted?: boolean;
  /** Decisions of middleware hooks that changed or failed to read the node's answer (fromNode). */
  decisions?: MiddlewareDecision[];
}

/** The states in which a node loses a task that another node may still run. */
export const LOST_STATES = ['PREEMPTED', 'SYSTEM_ERROR'] as const;
export type LostState = (typeof LOST_STATES)[number];

export const isLostState = (state: TesState): state is LostState =>
  (LOST_STATES as readonly TesState[]).includes(state);

/** What the tracker reports of a task its node lost. */
export interface LossReport {
  node: string;
  remoteId: string;
  /** The node's state for it; SYSTEM_ERROR also for a task the node no longer knows. */
  lostAs: LostState;
  reason: string;
  /**
   * The node was unreachable rather than answering: it may still run the task when it returns, so
   * the attempt is left unsettled (the tracker cancels that copy when it can).
   */
  orphaned?: boolean;
}

/** A lost task ends: no resubmission is possible or allowed. */
export interface LostEvent extends LossReport {
  kind: 'lost';
  exposePreempted?: boolean;
}

/** A lost task goes back to the queue, to be forwarded to a node it has not been on. */
export interface ResubmittedEvent extends LossReport {
  kind: 'resubmitted';
  /** Every configured node: the task is resubmitted only if one of them was not tried yet. */
  nodes: readonly string[];
  /** How many losses may be resubmitted (tracker config): the one after that ends the task. */
  maxResubmissions: number;
}

/** A client asked to cancel. */
export interface CancelRequestedEvent {
  kind: 'cancelRequested';
}

/**
 * The cancel is done: the node no longer has the task, or it never reached one. Names the binding
 * the tracker saw (none for a task never forwarded), so that a task forwarded meanwhile is not
 * marked canceled while it runs.
 */
export interface CancelConfirmedEvent {
  kind: 'cancelConfirmed';
  node?: string;
  remoteId?: string;
  reason: string;
}

export type TaskEvent =
  | AcceptedEvent
  | RoutedEvent
  | AttemptingEvent
  | AttemptFailedEvent
  | ForwardedEvent
  | ForwardFailedEvent
  | ObservedEvent
  | LostEvent
  | ResubmittedEvent
  | CancelRequestedEvent
  | CancelConfirmedEvent
  | CopyCanceledEvent;

/** The event of one kind. */
export type TaskEventOf<K extends TaskEventKind> = Extract<TaskEvent, { kind: K }>;

// Every kind the history may name has a payload, and every payload is a kind.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const kindsMatch: Same<TaskEvent['kind'], TaskEventKind> = true;
void kindsMatch;
