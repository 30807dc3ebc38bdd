import { isTerminal, TES_STATES, type TesState } from '@protes/tes';
import type { TaskEventKind } from '../task-history';
import type { TaskRecord } from '../task-record';
import type { LostEvent, ObservedEvent, ResubmittedEvent, TaskEventOf } from './task-events';

/*
 * The task lifecycle as data: for each event, the states it may happen in, what else must hold,
 * and the state it leads to. transition() (transition.ts) reads this table and nothing else decides
 * whether an event applies; TaskLifecycle is the only code that writes its result.
 *
 * Two rules hold for every event and are not repeated per row:
 * - a terminal state is final: no event leads out of it, and every event is refused once the task
 *   has ended but `copyCanceled`, which only notes a stray copy canceled on a node (a node slower
 *   than the forwarding timeout, or lost, may create or still hold one after the task ended);
 * - reaching a terminal state sets endedAt and clears cancelRequested (so a pending cancel always
 *   means the task is CANCELING and not over).
 *
 * What a client sees while a task is resubmitted: QUEUED. When a node loses a task (PREEMPTED,
 * SYSTEM_ERROR, forgotten) and another node may still run it, the task goes back to QUEUED with no
 * node, and then follows the new node's states: RUNNING → QUEUED → (INITIALIZING →) RUNNING. It is
 * the truth: nothing runs the task then, and the lost attempt's logs are gone from the record, so a
 * RUNNING with the old node's logs, or with none, would describe a run that no longer exists; and
 * holding on to the last state shown would still have to step back once the new node reports
 * QUEUED, or hide that node's real states. TES clients (Nextflow, Snakemake, cwl-tes, py-tes,
 * Funnel's) poll until a terminal state and act only on it, so stepping back is safe for them. The
 * history (`resubmitted`, with the node and the reason) and a system log line say why it happened.
 */

const ACTIVE = [
  'UNKNOWN',
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'CANCELING',
] as const satisfies readonly TesState[];

/** Every state, the terminal ones included: for an event that changes no state. */
const ANY = TES_STATES;

/** A task waiting for a node: new or resubmitted (QUEUED), or canceled before it got one. */
const WAITING = ['QUEUED', 'CANCELING'] as const satisfies readonly TesState[];

/** PREEMPTED is unknown to every TES client, which would wait for ever: shown as SYSTEM_ERROR. */
export const shownState = (state: TesState, exposePreempted = false): TesState =>
  state === 'PREEMPTED' && !exposePreempted ? 'SYSTEM_ERROR' : state;

/**
 * The record's attempts, the current one (node and remote id) marked lost with its reason, and
 * unsettled when the node was lost unreachable (it may still hold the task).
 */
export function markLost(
  record: TaskRecord,
  { lostAs, reason, orphaned }: Pick<LostEvent, 'lostAs' | 'reason' | 'orphaned'>,
): TaskRecord['attempts'] {
  return record.attempts.map((a) =>
    a.node === record.node && a.remoteId === record.remoteId
      ? { ...a, lostAs, error: reason, ...(orphaned && { unsettled: true }) }
      : a,
  );
}

/** The attempt on `node` whose outcome is open: in flight, or unsettled. */
export const openAttemptOn = (record: TaskRecord, node: string, open: 'inFlight' | 'unsettled') =>
  record.attempts.find((a) => a.node === node && a[open]);

/**
 * What must hold besides the state, each returning why not (the refusal) or undefined. Each guard
 * names the event fields it reads in its second parameter, and the table's types only let a row
 * require the guards its event can answer.
 */
export const GUARDS = {
  /** Only a record nothing has happened to yet can be accepted. */
  new: (record: TaskRecord, _event: unknown) =>
    record.version !== 1 || record.history?.length ? 'the task was accepted already' : undefined,

  /** Routing and forwarding are for a task that has no node. */
  unbound: (record: TaskRecord, _event: unknown) =>
    record.node !== undefined
      ? `the task is on node ${record.node} already (task ${record.remoteId})`
      : undefined,

  /** A node's report concerns the task only while the task is still that remote task. */
  'on-node': (record: TaskRecord, event: { node: string; remoteId: string }) => {
    if (record.node === undefined) return 'the task is not on a node';
    return record.node !== event.node || record.remoteId !== event.remoteId
      ? `the report is about task ${event.remoteId} on node ${event.node}, ` +
          `the task is now task ${record.remoteId} on node ${record.node}`
      : undefined;
  },

  /** As above, where "no node" is a binding too: a cancel confirmed for a task never forwarded. */
  'same-binding': (record: TaskRecord, event: { node?: string; remoteId?: string }) => {
    if (record.node === event.node && record.remoteId === event.remoteId) return undefined;
    const where = (node?: string, remoteId?: string) =>
      node === undefined ? 'on no node' : `task ${remoteId} on node ${node}`;
    return (
      `the report is about the task ${where(event.node, event.remoteId)}, ` +
      `the task is now ${where(record.node, record.remoteId)}`
    );
  },

  'cancel-requested': (record: TaskRecord, _event: unknown) =>
    record.cancelRequested ? undefined : 'no cancel was requested',

  'no-cancel': (record: TaskRecord, _event: unknown) =>
    record.cancelRequested ? 'a cancel was requested' : undefined,

  /** One attempt at a time: the one in flight is settled first (TaskLifecycle.attemptFailed). */
  'none-in-flight': (record: TaskRecord, _event: unknown) => {
    const pending = record.attempts.find((a) => a.inFlight);
    return pending ? `an attempt on node ${pending.node} is in flight` : undefined;
  },

  'in-flight-on': (record: TaskRecord, event: { node: string }) =>
    openAttemptOn(record, event.node, 'inFlight')
      ? undefined
      : `no attempt on node ${event.node} is in flight`,

  'unsettled-on': (record: TaskRecord, event: { node: string }) =>
    openAttemptOn(record, event.node, 'unsettled')
      ? undefined
      : `no attempt on node ${event.node} is unsettled`,

  /**
   * A node losing the task (PREEMPTED, SYSTEM_ERROR) while no cancel is pending is a loss, which
   * may be resubmitted: it is reported as `resubmitted` or `lost`, never as a mere observation.
   */
  'not-a-loss': (record: TaskRecord, event: { state: TesState }) =>
    !record.cancelRequested && (event.state === 'PREEMPTED' || event.state === 'SYSTEM_ERROR')
      ? `the node reports ${event.state}: a lost task is reported as resubmitted or lost`
      : undefined,

  /** Resubmission goes to a node the task has not been on. */
  'untried-node': (record: TaskRecord, event: ResubmittedEvent) =>
    event.nodes.some((name) => !record.attempts.some((a) => a.node === name))
      ? undefined
      : 'every configured node has been tried',

  /** Losses are counted with this one: the one after maxResubmissions ends the task. */
  'resubmissions-left': (record: TaskRecord, event: ResubmittedEvent) => {
    const losses = markLost(record, event).filter((a) => a.lostAs).length;
    return losses > event.maxResubmissions
      ? `this is loss ${losses}, and at most ${event.maxResubmissions} are resubmitted`
      : undefined;
  },
} as const;

export type GuardName = keyof typeof GUARDS;

/** States that depend on the record or the event; each documented where it is defined. */
export const RULES = {
  /** The state does not change. */
  same: (record: TaskRecord, _event: unknown): TesState => record.state,

  /** The task ends as the client asked if a cancel is pending, else as a failure of the system. */
  'canceled-if-requested': (record: TaskRecord, _event: unknown): TesState =>
    record.cancelRequested ? 'CANCELED' : 'SYSTEM_ERROR',

  /**
   * The node's state as clients may see it (shownState), except that a pending cancel stays
   * CANCELING until the node reports the task over.
   */
  'as-node-reports': (record: TaskRecord, event: ObservedEvent): TesState =>
    record.cancelRequested && !isTerminal(event.state)
      ? 'CANCELING'
      : shownState(event.state, event.exposePreempted),

  /**
   * The node's state for the lost task, as clients may see it; CANCELED when the client asked to
   * cancel it (the node, unreachable or unconfigured, cannot confirm: its copy stays unsettled and
   * is canceled there when it answers).
   */
  'as-node-lost': (record: TaskRecord, event: LostEvent): TesState =>
    record.cancelRequested ? 'CANCELED' : shownState(event.lostAs, event.exposePreempted),
} as const;

export type RuleName = keyof typeof RULES;

// The guards and rules whose event parameter a given event satisfies.
type EventParam<F> = F extends (record: TaskRecord, event: infer E) => unknown ? E : never;
type Fitting<Fns, E> = { [N in keyof Fns]: E extends EventParam<Fns[N]> ? N : never }[keyof Fns];

export interface TableRow<K extends TaskEventKind = TaskEventKind> {
  /** The states the event may happen in (a terminal one only for an event that keeps it). */
  from: readonly TesState[];
  /** What must also hold, checked in this order; the first that fails is the refusal. */
  requires: readonly Fitting<typeof GUARDS, TaskEventOf<K>>[];
  /** The resulting state, or the rule that gives it. */
  to: TesState | Fitting<typeof RULES, TaskEventOf<K>>;
}

// prettier-ignore
export const TRANSITIONS = {
  // event         allowed in            → state                      only if (checked in order)
  accepted:        { from: ['QUEUED'],    to: 'QUEUED',                requires: ['new'] },
  routed:          { from: WAITING,       to: 'same',                  requires: ['unbound'] },
  attempting:      { from: ['QUEUED'],    to: 'same',                  requires: ['unbound', 'none-in-flight'] },
  attemptFailed:   { from: WAITING,       to: 'same',                  requires: ['unbound', 'in-flight-on'] },
  forwarded:       { from: WAITING,       to: 'same',                  requires: ['unbound'] },
  forwardFailed:   { from: WAITING,       to: 'canceled-if-requested', requires: ['unbound'] },
  observed:        { from: ACTIVE,        to: 'as-node-reports',       requires: ['on-node', 'not-a-loss'] },
  resubmitted:     { from: ACTIVE,        to: 'QUEUED',                requires: ['on-node', 'no-cancel',
                                                                         'untried-node', 'resubmissions-left'] },
  lost:            { from: ACTIVE,        to: 'as-node-lost',          requires: ['on-node'] },
  cancelRequested: { from: ACTIVE,        to: 'CANCELING',             requires: [] },
  cancelConfirmed: { from: ['CANCELING'], to: 'CANCELED',              requires: ['cancel-requested',
                                                                         'same-binding'] },
  copyCanceled:    { from: ANY,           to: 'same',                  requires: ['unsettled-on'] },
} as const satisfies { [K in TaskEventKind]: TableRow<K> };
