import type { TesState, TesTaskLog, TesTaskRequest } from '@protes/tes';
import type { TaskEventKind } from '../task-history';
import type { ForwardAttempt, MiddlewareDecision } from '../task-record';

/*
 * What can happen to a task, as the services that see it report it. Each event says what was seen
 * or asked, never what the record should become: that is the transition table's to decide.
 */

/** The gateway stored a new task (TaskLifecycle.accept). */
export interface AcceptedEvent {
  kind: 'accepted';
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

/** A node took the task. */
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

/** The gateway can no longer follow the task on its node (the node left the configuration). */
export interface AbandonedEvent {
  kind: 'abandoned';
  node: string;
  remoteId: string;
  reason: string;
}

export type TaskEvent =
  | AcceptedEvent
  | RoutedEvent
  | ForwardedEvent
  | ForwardFailedEvent
  | ObservedEvent
  | LostEvent
  | ResubmittedEvent
  | CancelRequestedEvent
  | CancelConfirmedEvent
  | AbandonedEvent;

/** The event of one kind. */
export type TaskEventOf<K extends TaskEventKind> = Extract<TaskEvent, { kind: K }>;

// Every kind the history may name has a payload, and every payload is a kind.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const kindsMatch: Same<TaskEvent['kind'], TaskEventKind> = true;
void kindsMatch;
