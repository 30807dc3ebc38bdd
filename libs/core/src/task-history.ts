import type { TesState } from '@protes/tes';

/**
 * The kinds of event the task lifecycle knows (see lifecycle/task-events.ts for their payloads and
 * lifecycle/transition-table.ts for where each may happen). Kept here, beside the record, because
 * every history entry names one.
 */
export const TASK_EVENT_KINDS = [
  'accepted',
  'routed',
  'attempting',
  'attemptFailed',
  'forwarded',
  'forwardFailed',
  'observed',
  'lost',
  'resubmitted',
  'cancelRequested',
  'cancelConfirmed',
  'copyCanceled',
] as const;
export type TaskEventKind = (typeof TASK_EVENT_KINDS)[number];

/** Who applied an event: a gateway process (API, forwarding) or a tracker (by its lease owner id). */
export interface Actor {
  kind: 'gateway' | 'tracker';
  /** The process, when known: for a tracker, the owner id it takes leases under. */
  id?: string;
}

/**
 * One applied event, as the record keeps it. The payload itself is not kept (a forwarded task or
 * a node's logs would double the record); what it changed is in the record's other fields.
 */
export interface TaskHistoryEntry {
  event: TaskEventKind;
  /** The state before; absent for `accepted`, which has none. */
  from?: TesState;
  to: TesState;
  /** RFC 3339. */
  at: string;
  by: Actor;
  /** The node the event concerns, if any. */
  node?: string;
  /** A short human note: a reason, the remote id, the candidates. */
  note?: string;
}
