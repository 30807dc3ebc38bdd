import { isTerminal, type TesState } from '@protes/tes';
import type { Actor, TaskEventKind, TaskHistoryEntry } from '../task-history';
import type { ForwardAttempt, TaskRecord } from '../task-record';
import type { LossReport, TaskEvent, TaskEventOf } from './task-events';
import {
  GUARDS,
  markLost,
  openAttemptOn,
  type GuardName,
  RULES,
  type RuleName,
  TRANSITIONS,
} from './transition-table';

/** What applying one event to a record gives. Nothing is written: see TaskLifecycle for that. */
export type Transition =
  /** The next record (same version: the store bumps it), with `entry` appended to its history. */
  | { outcome: 'applied'; record: TaskRecord; entry?: TaskHistoryEntry }
  /** The event is allowed but changes nothing (a repeated cancel, the same observation again). */
  | { outcome: 'unchanged'; record: TaskRecord }
  /** The table does not allow the event here; `reason` says why. */
  | { outcome: 'refused'; reason: string };

/** What an event changes besides the state, and the note its history entry carries. */
interface Effect {
  changes: Partial<TaskRecord>;
  note?: string;
}

const lossNote = (record: TaskRecord, { lostAs, reason }: LossReport): string =>
  `attempt on node ${record.node} (task ${record.remoteId}) ended ${lostAs}: ${reason}`;

/**
 * The attempts, with the open one (`open`: in flight, or unsettled) on `node` replaced by what
 * `settle` makes of it without its open flags.
 */
function settleOn(
  attempts: ForwardAttempt[],
  node: string,
  open: 'inFlight' | 'unsettled',
  settle: (attempt: ForwardAttempt) => ForwardAttempt,
): ForwardAttempt[] {
  return attempts.map((a) => {
    if (a.node !== node || !a[open]) return a;
    const rest = { ...a };
    delete rest.inFlight;
    delete rest.unsettled;
    return settle(rest);
  });
}

const EFFECTS: { [K in TaskEventKind]: (record: TaskRecord, event: TaskEventOf<K>) => Effect } = {
  accepted: (_record, { route }) => {
    if (!route) return { changes: {} };
    const { decisions, ...planned } = route;
    return {
      changes: { route: planned, decisions },
      note: `candidates: ${planned.candidates.join(', ') || 'none'}`,
    };
  },
  attempting: (record, { node, at, attempts, decisions }) => ({
    changes: {
      attempts: [...record.attempts, ...attempts, { node, at, inFlight: true }],
      decisions: [...(record.decisions ?? []), ...decisions],
    },
    note: 'sending the task',
  }),
  attemptFailed: (record, { node, error, unsettled }) => ({
    changes: {
      attempts: settleOn(record.attempts, node, 'inFlight', (a) => ({
        ...a,
        error,
        ...(unsettled && { unsettled }),
      })),
    },
    note: unsettled ? `${error} (the node may still create it: checked later)` : error,
  }),
  copyCanceled: (record, { node, remoteIds }) => {
    const note = `copies left by an earlier attempt found and canceled: ${remoteIds.join(', ')}`;
    return {
      changes: {
        attempts: settleOn(record.attempts, node, 'unsettled', (a) => ({
          ...a,
          error: a.error ? `${a.error}; ${note}` : note,
        })),
      },
      note,
    };
  },
  routed: (record, { decisions, candidates }) => ({
    changes: { decisions: [...(record.decisions ?? []), ...decisions] },
    note: `candidates: ${candidates.join(', ') || 'none'}`,
  }),
  forwarded: (record, { node, remoteId, task, attempts, decisions }) => {
    const failed = attempts.filter((a) => a.error).length;
    return {
      changes: {
        // The attempt in flight on the node placed it; without one, a copy an unsettled attempt
        // left there was adopted.
        attempts: [
          ...settleOn(
            record.attempts,
            node,
            openAttemptOn(record, node, 'inFlight') ? 'inFlight' : 'unsettled',
            ({ at }) => ({ node, at, remoteId }),
          ),
          ...attempts,
        ],
        route: undefined,
        decisions: [...(record.decisions ?? []), ...decisions],
        node,
        remoteId,
        forwarded: task,
      },
      note: `task ${remoteId}` + (failed ? ` after ${failed} failed attempt(s)` : ''),
    };
  },
  forwardFailed: (record, { attempts, decisions, reasons }) => ({
    changes: {
      route: undefined,
      attempts: [...record.attempts, ...attempts],
      decisions: [...(record.decisions ?? []), ...decisions],
      systemLogs: [...record.systemLogs, ...reasons],
    },
    note: reasons.join('; ') || undefined,
  }),
  observed: (record, { state, logs, decisions }) => ({
    changes: {
      remoteLogs: logs,
      // What middleware hooks did to the node's answer (fromNode), once per hook and attempt.
      ...(decisions?.length && { decisions: [...(record.decisions ?? []), ...decisions] }),
    },
    note: `node reports ${state}`,
  }),
  resubmitted: (record, event) => {
    const note = `${lossNote(record, event)}; resubmitting to another node`;
    return {
      changes: {
        attempts: markLost(record, event),
        node: undefined,
        remoteId: undefined,
        remoteLogs: [],
        systemLogs: [...record.systemLogs, note],
      },
      note,
    };
  },
  lost: (record, event) => {
    const note = lossNote(record, event);
    return {
      changes: {
        attempts: markLost(record, event),
        systemLogs: [...record.systemLogs, note],
      },
      note,
    };
  },
  cancelRequested: () => ({ changes: { cancelRequested: true } }),
  cancelConfirmed: (record, { reason }) => ({
    changes: { systemLogs: [...record.systemLogs, reason] },
    note: reason,
  }),
};

/** The record without what changes on every write, to tell whether an event changed anything. */
const content = (record: TaskRecord): string =>
  JSON.stringify({ ...record, updatedAt: undefined, history: undefined });

/** Why the table refuses `event` on `record`, or undefined when it allows it. */
export function refusal(record: TaskRecord, event: TaskEvent): string | undefined {
  const row = TRANSITIONS[event.kind];
  const allowed = (row.from as readonly TesState[]).includes(record.state);
  if (isTerminal(record.state) && !allowed) {
    return `the task ended ${record.state}: a terminal state is final`;
  }
  if (!allowed) {
    return `${event.kind} is not allowed in state ${record.state} (only in ${row.from.join(', ')})`;
  }
  for (const name of row.requires as readonly GuardName[]) {
    const guard = GUARDS[name] as (record: TaskRecord, event: TaskEvent) => string | undefined;
    const why = guard(record, event);
    if (why !== undefined) return why;
  }
  return undefined;
}

/**
 * Applies one event to a task record, by the transition table alone: returns the next record with
 * the event in its history, or the refusal. Pure: the record given is never modified, and `now`
 * (RFC 3339) is the only clock.
 *
 * Every applied event gets a history entry, except an observation that leaves the state as it was
 * (it only refreshes the node's logs, which a tracker may do every round while a cancel is pending).
 */
export function transition(
  record: TaskRecord,
  event: TaskEvent,
  by: Actor,
  now: string,
): Transition {
  const why = refusal(record, event);
  if (why !== undefined) return { outcome: 'refused', reason: why };

  const row = TRANSITIONS[event.kind];
  const to = Object.hasOwn(RULES, row.to)
    ? (RULES[row.to as RuleName] as (record: TaskRecord, event: TaskEvent) => TesState)(
        record,
        event,
      )
    : (row.to as TesState);
  const effect = (EFFECTS[event.kind] as (record: TaskRecord, event: TaskEvent) => Effect)(
    record,
    event,
  );

  const next: TaskRecord = { ...record, ...effect.changes, state: to, updatedAt: now };
  if (isTerminal(to) && !isTerminal(record.state)) {
    next.endedAt = now;
    next.cancelRequested = false;
  }
  // A field an event clears (the node of a resubmitted task) is absent, not present as undefined.
  for (const key of Object.keys(next) as (keyof TaskRecord)[]) {
    if (next[key] === undefined) delete next[key];
  }
  if (event.kind !== 'accepted' && content(next) === content(record)) {
    return { outcome: 'unchanged', record };
  }
  if (event.kind === 'observed' && to === record.state) return { outcome: 'applied', record: next };

  const entry: TaskHistoryEntry = {
    event: event.kind,
    ...(event.kind === 'accepted' ? {} : { from: record.state }),
    to,
    at: now,
    by: { ...by },
  };
  const node = ('node' in event ? event.node : undefined) ?? record.node;
  if (node !== undefined) entry.node = node;
  if (effect.note !== undefined) entry.note = effect.note;
  next.history = [...(record.history ?? []), entry];
  return { outcome: 'applied', record: next, entry };
}

/** A task that needs a node: not ended and on none (new, resubmitted, or never forwarded). */
export const needsForwarding = (record: TaskRecord): boolean =>
  !isTerminal(record.state) && record.node === undefined;
