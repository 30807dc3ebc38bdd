import { isTerminal, TES_STATES, type TesState, type TesTaskLog } from '@protes/tes';
import { type Actor, TASK_EVENT_KINDS, type TaskEventKind } from '../task-history';
import { newTaskRecord, type TaskRecord } from '../task-record';
import { isLostState, type TaskEvent, type TaskEventOf } from './task-events';
import { needsForwarding, transition } from './transition';
import { RULES, TRANSITIONS } from './transition-table';

/*
 * The table driven exhaustively: every situation a task can be in (each TES state, and for the
 * states where it matters: on a node or not, cancel pending or not) against every event, each cell
 * written out by hand below rather than derived from the table under test.
 */

const NOW = '2030-01-02T03:04:05.000Z';
const EARLIER = '2030-01-01T00:00:00.000Z';
const BY: Actor = { kind: 'tracker', id: 'tracker-1' };
const TASK = { name: 't', executors: [{ image: 'alpine', command: ['true'] }] };
const LOGS: TesTaskLog[] = [{ logs: [{ exit_code: 0 }], outputs: [], system_logs: ['done'] }];

/** Freezes the record and everything in it, so that any change made to it throws. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) frozen(inner);
    Object.freeze(value);
  }
  return value;
}

/** A record accepted earlier (history and version as if stored), in `state`. */
function record(state: TesState, fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    ...newTaskRecord('t1', 'alice', TASK, EARLIER),
    state,
    version: 4,
    history: [{ event: 'accepted', to: 'QUEUED', at: EARLIER, by: { kind: 'gateway' } }],
    ...fields,
  };
}

/** Bound to node a as remote task r1, the only attempt so far. */
const onNode = (state: TesState, fields: Partial<TaskRecord> = {}): TaskRecord =>
  record(state, {
    node: 'a',
    remoteId: 'r1',
    forwarded: TASK,
    attempts: [{ node: 'a', at: EARLIER, remoteId: 'r1' }],
    ...fields,
  });

const ended = (state: TesState): TaskRecord => onNode(state, { endedAt: EARLIER });

const SITUATIONS = {
  'QUEUED, new': () => newTaskRecord('t1', 'alice', TASK, EARLIER),
  'QUEUED, stored': () => record('QUEUED'),
  'QUEUED, sending to a': () =>
    record('QUEUED', { attempts: [{ node: 'a', at: EARLIER, inFlight: true }] }),
  'QUEUED, on node': () => onNode('QUEUED'),
  'INITIALIZING, on node': () => onNode('INITIALIZING'),
  'RUNNING, on node': () => onNode('RUNNING'),
  'RUNNING, on node, a copy possible on c': () =>
    onNode('RUNNING', {
      attempts: [
        { node: 'c', at: EARLIER, error: 'c: no answer within 2000 ms', unsettled: true },
        { node: 'a', at: EARLIER, remoteId: 'r1' },
      ],
    }),
  'PAUSED, on node': () => onNode('PAUSED'),
  'UNKNOWN, on node': () => onNode('UNKNOWN'),
  'CANCELING, stored, cancel pending': () => record('CANCELING', { cancelRequested: true }),
  'CANCELING, on node, cancel pending': () => onNode('CANCELING', { cancelRequested: true }),
  'CANCELING, on node, by the node': () => onNode('CANCELING'),
  COMPLETE: () => ended('COMPLETE'),
  EXECUTOR_ERROR: () => ended('EXECUTOR_ERROR'),
  SYSTEM_ERROR: () => ended('SYSTEM_ERROR'),
  CANCELED: () => ended('CANCELED'),
  PREEMPTED: () => ended('PREEMPTED'),
  'SYSTEM_ERROR, a copy possible on c': () =>
    onNode('SYSTEM_ERROR', {
      endedAt: EARLIER,
      attempts: [
        { node: 'a', at: EARLIER, remoteId: 'r1', lostAs: 'SYSTEM_ERROR' },
        { node: 'c', at: EARLIER, error: 'c: no answer within 2000 ms', unsettled: true },
      ],
    }),
} satisfies Record<string, () => TaskRecord>;
type Situation = keyof typeof SITUATIONS;

/**
 * One event of each kind as a service would send it for this record: reports from the tracker are
 * about the record's own node and remote task (node a, r1, for a record that has none: a report
 * come too late), so that the cells below test the states; stale reports are tested further down.
 */
function eventFor(kind: TaskEventKind, subject: TaskRecord): TaskEvent {
  const about = { node: subject.node ?? 'a', remoteId: subject.remoteId ?? 'r1' };
  const loss = { ...about, lostAs: 'PREEMPTED' as const, reason: 'node reclaimed' };
  const events: { [K in TaskEventKind]: TaskEventOf<K> } = {
    accepted: { kind: 'accepted' },
    attempting: { kind: 'attempting', node: 'b', at: NOW, attempts: [], decisions: [] },
    attemptFailed: {
      kind: 'attemptFailed',
      node: 'a',
      error: 'a: no answer within 2000 ms',
      unsettled: true,
    },
    copyCanceled: { kind: 'copyCanceled', node: 'c', remoteIds: ['x9'] },
    routed: {
      kind: 'routed',
      decisions: [{ entry: 0, middleware: 'random', outcome: 'applied', order: ['b'], ms: 1 }],
      candidates: ['b'],
    },
    forwarded: {
      kind: 'forwarded',
      node: 'b',
      remoteId: 'r2',
      task: TASK,
      attempts: [{ node: 'b', at: NOW, remoteId: 'r2' }],
      decisions: [],
    },
    forwardFailed: {
      kind: 'forwardFailed',
      attempts: [{ node: 'b', at: NOW, error: 'b: HTTP 503' }],
      decisions: [],
      reasons: ['forwarding to b: HTTP 503'],
    },
    observed: { kind: 'observed', ...about, state: 'COMPLETE', logs: LOGS },
    resubmitted: { kind: 'resubmitted', ...loss, nodes: ['a', 'b'], maxResubmissions: 2 },
    lost: { kind: 'lost', ...loss },
    cancelRequested: { kind: 'cancelRequested' },
    cancelConfirmed: {
      kind: 'cancelConfirmed',
      node: subject.node,
      remoteId: subject.remoteId,
      reason: 'canceled',
    },
  };
  return events[kind];
}

/** Why a cell is refused, by the start of the reason the table must give. */
const REFUSALS = {
  final: /^the task ended [A-Z_]+: a terminal state is final$/,
  state: /^\w+ is not allowed in state [A-Z_]+ \(only in [A-Z_, ]+\)$/,
  accepted: /^the task was accepted already$/,
  'has node': /^the task is on node a already \(task r1\)$/,
  'no node': /^the task is not on a node$/,
  'cancel pending': /^a cancel was requested$/,
  'no cancel': /^no cancel was requested$/,
  'in flight': /^an attempt on node a is in flight$/,
  'none in flight': /^no attempt on node a is in flight$/,
  'none unsettled': /^no attempt on node c is unsettled$/,
} as const;
type Refusal = keyof typeof REFUSALS;
/** A TES state: the event is applied and leads there; '=': allowed, but changes nothing. */
type Cell = TesState | '=' | Refusal;

const COLUMNS = [
  'accepted',
  'routed',
  'attempting',
  'attemptFailed',
  'forwarded',
  'forwardFailed',
  'observed',
  'resubmitted',
  'lost',
  'cancelRequested',
  'cancelConfirmed',
  'copyCanceled',
] as const satisfies readonly TaskEventKind[];

// The observed report says COMPLETE; lost and resubmitted report a PREEMPTED node (shown as
// SYSTEM_ERROR); two nodes, a and b, are configured and two resubmissions are allowed.
// prettier-ignore
const EXPECTED: Record<Situation, { [K in (typeof COLUMNS)[number]]: Cell }> = {
  'QUEUED, new': {
    accepted: 'QUEUED', routed: 'QUEUED', attempting: 'QUEUED', attemptFailed: 'none in flight',
    forwarded: 'QUEUED', forwardFailed: 'SYSTEM_ERROR',
    observed: 'no node', resubmitted: 'no node', lost: 'no node',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'QUEUED, stored': {
    accepted: 'accepted', routed: 'QUEUED', attempting: 'QUEUED', attemptFailed: 'none in flight',
    forwarded: 'QUEUED', forwardFailed: 'SYSTEM_ERROR',
    observed: 'no node', resubmitted: 'no node', lost: 'no node',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'QUEUED, sending to a': {
    accepted: 'accepted', routed: 'QUEUED', attempting: 'in flight', attemptFailed: 'QUEUED',
    forwarded: 'QUEUED', forwardFailed: 'SYSTEM_ERROR',
    observed: 'no node', resubmitted: 'no node', lost: 'no node',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'QUEUED, on node': {
    accepted: 'accepted', routed: 'has node', attempting: 'has node', attemptFailed: 'has node',
    forwarded: 'has node', forwardFailed: 'has node',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'INITIALIZING, on node': {
    accepted: 'state', routed: 'state', attempting: 'state', attemptFailed: 'state',
    forwarded: 'state', forwardFailed: 'state',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'RUNNING, on node': {
    accepted: 'state', routed: 'state', attempting: 'state', attemptFailed: 'state',
    forwarded: 'state', forwardFailed: 'state',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'RUNNING, on node, a copy possible on c': {
    accepted: 'state', routed: 'state', attempting: 'state', attemptFailed: 'state',
    forwarded: 'state', forwardFailed: 'state',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'RUNNING',
  },
  'PAUSED, on node': {
    accepted: 'state', routed: 'state', attempting: 'state', attemptFailed: 'state',
    forwarded: 'state', forwardFailed: 'state',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'UNKNOWN, on node': {
    accepted: 'state', routed: 'state', attempting: 'state', attemptFailed: 'state',
    forwarded: 'state', forwardFailed: 'state',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'state', copyCanceled: 'none unsettled',
  },
  'CANCELING, stored, cancel pending': {
    accepted: 'state', routed: 'CANCELING', attempting: 'state', attemptFailed: 'none in flight',
    forwarded: 'CANCELING', forwardFailed: 'CANCELED',
    observed: 'no node', resubmitted: 'no node', lost: 'no node',
    cancelRequested: '=', cancelConfirmed: 'CANCELED', copyCanceled: 'none unsettled',
  },
  'CANCELING, on node, cancel pending': {
    accepted: 'state', routed: 'has node', attempting: 'state', attemptFailed: 'has node',
    forwarded: 'has node', forwardFailed: 'has node',
    observed: 'COMPLETE', resubmitted: 'cancel pending', lost: 'CANCELED',
    cancelRequested: '=', cancelConfirmed: 'CANCELED', copyCanceled: 'none unsettled',
  },
  'CANCELING, on node, by the node': {
    accepted: 'state', routed: 'has node', attempting: 'state', attemptFailed: 'has node',
    forwarded: 'has node', forwardFailed: 'has node',
    observed: 'COMPLETE', resubmitted: 'QUEUED', lost: 'SYSTEM_ERROR',
    cancelRequested: 'CANCELING', cancelConfirmed: 'no cancel', copyCanceled: 'none unsettled',
  },
  COMPLETE: {
    accepted: 'final', routed: 'final', attempting: 'final', attemptFailed: 'final',
    forwarded: 'final', forwardFailed: 'final',
    observed: 'final', resubmitted: 'final', lost: 'final',
    cancelRequested: 'final', cancelConfirmed: 'final', copyCanceled: 'none unsettled',
  },
  EXECUTOR_ERROR: {
    accepted: 'final', routed: 'final', attempting: 'final', attemptFailed: 'final',
    forwarded: 'final', forwardFailed: 'final',
    observed: 'final', resubmitted: 'final', lost: 'final',
    cancelRequested: 'final', cancelConfirmed: 'final', copyCanceled: 'none unsettled',
  },
  SYSTEM_ERROR: {
    accepted: 'final', routed: 'final', attempting: 'final', attemptFailed: 'final',
    forwarded: 'final', forwardFailed: 'final',
    observed: 'final', resubmitted: 'final', lost: 'final',
    cancelRequested: 'final', cancelConfirmed: 'final', copyCanceled: 'none unsettled',
  },
  CANCELED: {
    accepted: 'final', routed: 'final', attempting: 'final', attemptFailed: 'final',
    forwarded: 'final', forwardFailed: 'final',
    observed: 'final', resubmitted: 'final', lost: 'final',
    cancelRequested: 'final', cancelConfirmed: 'final', copyCanceled: 'none unsettled',
  },
  PREEMPTED: {
    accepted: 'final', routed: 'final', attempting: 'final', attemptFailed: 'final',
    forwarded: 'final', forwardFailed: 'final',
    observed: 'final', resubmitted: 'final', lost: 'final',
    cancelRequested: 'final', cancelConfirmed: 'final', copyCanceled: 'none unsettled',
  },
  // A copy a late answer left after the task ended is canceled and noted; the task keeps its end.
  'SYSTEM_ERROR, a copy possible on c': {
    accepted: 'final', routed: 'final', attempting: 'final', attemptFailed: 'final',
    forwarded: 'final', forwardFailed: 'final',
    observed: 'final', resubmitted: 'final', lost: 'final',
    cancelRequested: 'final', cancelConfirmed: 'final', copyCanceled: 'SYSTEM_ERROR',
  },
};

const isRefusal = (cell: Cell): cell is Refusal => Object.hasOwn(REFUSALS, cell);

describe('the transition table, every situation × every event', () => {
  it('covers every TES state and every event kind', () => {
    const states = new Set(Object.values(SITUATIONS).map((make) => make().state));
    expect([...states].sort()).toEqual([...TES_STATES].sort());
    expect([...COLUMNS].sort()).toEqual([...TASK_EVENT_KINDS].sort());
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...TASK_EVENT_KINDS].sort());
  });

  const cells = (Object.keys(EXPECTED) as Situation[]).flatMap((situation) =>
    COLUMNS.map((kind) => ({ situation, kind, cell: EXPECTED[situation][kind] })),
  );

  it.each(cells.filter(({ cell }) => isRefusal(cell)))(
    '$situation × $kind: refused ($cell)',
    ({ situation, kind, cell }) => {
      const before = frozen(SITUATIONS[situation]());
      const result = transition(before, eventFor(kind, before), BY, NOW);
      expect(result).toEqual({
        outcome: 'refused',
        reason: expect.stringMatching(REFUSALS[cell as Refusal]),
      });
    },
  );

  it.each(cells.filter(({ cell }) => cell === '='))(
    '$situation × $kind: allowed, changes nothing',
    ({ situation, kind }) => {
      const before = frozen(SITUATIONS[situation]());
      const result = transition(before, eventFor(kind, before), BY, NOW);
      expect(result).toEqual({ outcome: 'unchanged', record: before });
      if (result.outcome === 'unchanged') expect(result.record).toBe(before);
    },
  );

  it.each(cells.filter(({ cell }) => !isRefusal(cell) && cell !== '='))(
    '$situation × $kind → $cell',
    ({ situation, kind, cell }) => {
      const before = frozen(SITUATIONS[situation]());
      const event = eventFor(kind, before);
      const result = transition(before, event, BY, NOW);
      if (result.outcome !== 'applied') throw new Error(`not applied: ${JSON.stringify(result)}`);
      const after = result.record;
      const to = cell as TesState;
      expect(after.state).toBe(to);
      // What no event changes.
      expect(after).toMatchObject({
        id: before.id,
        owner: before.owner,
        version: before.version,
        received: before.received,
        createdAt: before.createdAt,
        updatedAt: NOW,
      });
      // The entry, appended to the history as it was.
      const entry = {
        event: kind,
        ...(kind === 'accepted' ? {} : { from: before.state }),
        to,
        at: NOW,
        by: BY,
      };
      expect(result.entry).toMatchObject(entry);
      expect(after.history).toEqual([...(before.history ?? []), result.entry]);
      if (kind === 'accepted') expect(result.entry).not.toHaveProperty('from');
      // Ending sets endedAt and clears a pending cancel; nothing else ends a task, and an event
      // allowed once it ended keeps when it ended.
      if (isTerminal(to)) {
        expect(after.endedAt).toBe(isTerminal(before.state) ? before.endedAt : NOW);
        expect(after.cancelRequested).toBe(false);
      } else {
        expect(after.endedAt).toBeUndefined();
      }
    },
  );
});

describe('the table as data', () => {
  it('lets no event lead out of a terminal state: only one that keeps the state happens there', () => {
    for (const [kind, row] of Object.entries(TRANSITIONS)) {
      if (row.from.some((state) => isTerminal(state)))
        expect([kind, row.to]).toEqual([kind, 'same']);
    }
  });

  it('gives each event a TES state or a rule', () => {
    for (const row of Object.values(TRANSITIONS)) {
      expect(
        (TES_STATES as readonly string[]).includes(row.to) || Object.hasOwn(RULES, row.to),
      ).toBe(true);
    }
  });
});

const apply = (before: TaskRecord, event: TaskEvent) => {
  const result = transition(frozen(before), event, BY, NOW);
  if (result.outcome !== 'applied') throw new Error(`not applied: ${JSON.stringify(result)}`);
  return result;
};
const refusal = (before: TaskRecord, event: TaskEvent): string => {
  const result = transition(frozen(before), event, BY, NOW);
  if (result.outcome !== 'refused') throw new Error(`not refused: ${JSON.stringify(result)}`);
  return result.reason;
};

describe('forwarding', () => {
  it('binds the task to the node that took it and keeps every attempt and decision', () => {
    const before = record('QUEUED', {
      attempts: [{ node: 'c', at: EARLIER, error: 'c: timeout' }],
      decisions: [{ entry: 0, middleware: 'm', outcome: 'applied', order: ['a'], ms: 1 }],
    });
    const decision = { entry: -1, middleware: 'x', outcome: 'applied' as const, order: [], ms: 0 };
    const sent = { ...TASK, tags: { protes_id: 't1' } };
    const { record: after, entry } = apply(before, {
      kind: 'forwarded',
      node: 'b',
      remoteId: 'r2',
      task: sent,
      attempts: [
        { node: 'a', at: NOW, error: 'a: HTTP 500' },
        { node: 'b', at: NOW, remoteId: 'r2' },
      ],
      decisions: [decision],
    });
    expect(after).toMatchObject({ state: 'QUEUED', node: 'b', remoteId: 'r2', forwarded: sent });
    expect(after.attempts.map((a) => a.node)).toEqual(['c', 'a', 'b']);
    expect(after.decisions).toEqual([...(before.decisions ?? []), decision]);
    expect(entry).toMatchObject({ node: 'b', note: 'task r2 after 1 failed attempt(s)' });
  });

  it('keeps a cancel that came in while forwarding: the tracker cancels on the node', () => {
    const before = record('CANCELING', { cancelRequested: true });
    const { record: after } = apply(before, eventFor('forwarded', before));
    expect(after).toMatchObject({ state: 'CANCELING', cancelRequested: true, node: 'b' });
  });

  it('ends the task SYSTEM_ERROR with the reasons in its logs when no node took it', () => {
    const before = record('QUEUED', { systemLogs: ['earlier'] });
    const { record: after, entry } = apply(before, eventFor('forwardFailed', before));
    expect(after).toMatchObject({ state: 'SYSTEM_ERROR', endedAt: NOW });
    expect(after.systemLogs).toEqual(['earlier', 'forwarding to b: HTTP 503']);
    expect(after.attempts).toEqual([{ node: 'b', at: NOW, error: 'b: HTTP 503' }]);
    expect(entry?.note).toBe('forwarding to b: HTTP 503');
  });

  it('ends it CANCELED instead when a cancel came in meanwhile, and clears the request', () => {
    const before = record('CANCELING', { cancelRequested: true });
    const { record: after } = apply(before, eventFor('forwardFailed', before));
    expect(after).toMatchObject({ state: 'CANCELED', cancelRequested: false, endedAt: NOW });
  });

  it('records a run of the chain on its own, without changing the state', () => {
    const before = record('QUEUED');
    const { record: after, entry } = apply(before, eventFor('routed', before));
    expect(after.state).toBe('QUEUED');
    expect(after.decisions).toHaveLength(1);
    expect(entry?.note).toBe('candidates: b');
  });

  it('records an attempt as in flight before it is sent, one at a time', () => {
    const before = record('QUEUED');
    const skipped = { node: 'c', at: NOW, error: 'c: not sent, hook failed' };
    const { record: after, entry } = apply(before, {
      kind: 'attempting',
      node: 'a',
      at: NOW,
      attempts: [skipped],
      decisions: [],
    });
    expect(after.attempts).toEqual([skipped, { node: 'a', at: NOW, inFlight: true }]);
    expect(entry).toMatchObject({ event: 'attempting', node: 'a', to: 'QUEUED' });
    const second: TaskEvent = {
      kind: 'attempting',
      node: 'b',
      at: NOW,
      attempts: [],
      decisions: [],
    };
    expect(refusal(after, second)).toBe('an attempt on node a is in flight');
    expect(refusal(record('CANCELING', { cancelRequested: true }), second)).toMatch(
      /not allowed in state CANCELING/,
    );
  });

  it('binds the task to the attempt in flight when the node took it, dropping the route', () => {
    const before = record('QUEUED', {
      route: { candidates: ['a'], offered: ['a'], task: TASK },
      attempts: [{ node: 'a', at: EARLIER, inFlight: true }],
    });
    const { record: after } = apply(before, {
      kind: 'forwarded',
      node: 'a',
      remoteId: 'r1',
      task: TASK,
      attempts: [],
      decisions: [],
    });
    expect(after.attempts).toEqual([{ node: 'a', at: EARLIER, remoteId: 'r1' }]);
    expect(after).toMatchObject({ node: 'a', remoteId: 'r1' });
    expect(after).not.toHaveProperty('route');
  });

  it('marks an attempt whose answer never came unsettled, and one refused as failed', () => {
    const before = record('QUEUED', { attempts: [{ node: 'a', at: EARLIER, inFlight: true }] });
    const failed = (unsettled: boolean) =>
      apply(before, { kind: 'attemptFailed', node: 'a', error: 'a: timeout', unsettled }).record
        .attempts;
    expect(failed(true)).toEqual([
      { node: 'a', at: EARLIER, error: 'a: timeout', unsettled: true },
    ]);
    expect(failed(false)).toEqual([{ node: 'a', at: EARLIER, error: 'a: timeout' }]);
  });

  it('adopts a copy an unsettled attempt left, as the attempt that placed the task', () => {
    const before = record('QUEUED', {
      attempts: [{ node: 'a', at: EARLIER, error: 'a: timeout', unsettled: true }],
    });
    const { record: after } = apply(before, {
      kind: 'forwarded',
      node: 'a',
      remoteId: 'late',
      task: TASK,
      attempts: [],
      decisions: [],
    });
    expect(after.attempts).toEqual([{ node: 'a', at: EARLIER, remoteId: 'late' }]);
  });

  it('binds to the attempt in flight, not to an unsettled one on the same node', () => {
    const unsettled = { node: 'a', at: EARLIER, error: 'a: sender died', unsettled: true };
    const before = record('QUEUED', {
      attempts: [unsettled, { node: 'a', at: NOW, inFlight: true }],
    });
    const { record: after } = apply(before, {
      kind: 'forwarded',
      node: 'a',
      remoteId: 'r2',
      task: TASK,
      attempts: [],
      decisions: [],
    });
    expect(after.attempts).toEqual([unsettled, { node: 'a', at: NOW, remoteId: 'r2' }]);
  });

  it('settles an unsettled attempt once its copies are canceled', () => {
    const before = onNode('RUNNING', {
      attempts: [
        { node: 'c', at: EARLIER, error: 'c: timeout', unsettled: true },
        { node: 'a', at: EARLIER, remoteId: 'r1' },
      ],
    });
    const { record: after, entry } = apply(before, {
      kind: 'copyCanceled',
      node: 'c',
      remoteIds: ['x9'],
    });
    expect(after.attempts[0]).toEqual({
      node: 'c',
      at: EARLIER,
      error: 'c: timeout; copies left by an earlier attempt found and canceled: x9',
    });
    expect(entry).toMatchObject({ event: 'copyCanceled', node: 'c', to: 'RUNNING' });
  });

  it('stores the chain’s route with a new task', () => {
    const decision = {
      entry: 0,
      middleware: 'm',
      outcome: 'applied' as const,
      order: ['b'],
      ms: 1,
    };
    const route = { candidates: ['b', 'a'], offered: ['a', 'b'], task: TASK };
    const fresh = newTaskRecord('t1', 'alice', TASK, EARLIER);
    const { record: after, entry } = apply(fresh, {
      kind: 'accepted',
      route: { ...route, decisions: [decision] },
    });
    expect(after).toMatchObject({ state: 'QUEUED', route, decisions: [decision] });
    expect(entry?.note).toBe('candidates: b, a');
  });

  it('does not forward a task twice: a second node taking it is refused', () => {
    const before = onNode('QUEUED');
    expect(refusal(before, eventFor('forwarded', before))).toMatch(/on node a already/);
    expect(refusal(before, eventFor('forwardFailed', before))).toMatch(/on node a already/);
  });
});

describe('observations', () => {
  const observe = (
    state: TesState,
    fields: Partial<TaskEventOf<'observed'>> = {},
  ): TaskEventOf<'observed'> => ({
    kind: 'observed',
    node: 'a',
    remoteId: 'r1',
    state,
    logs: LOGS,
    ...fields,
  });

  it('takes the node’s state and logs', () => {
    const { record: after, entry } = apply(onNode('QUEUED'), observe('RUNNING'));
    expect(after).toMatchObject({ state: 'RUNNING', remoteLogs: LOGS });
    expect(entry).toMatchObject({ from: 'QUEUED', to: 'RUNNING', node: 'a' });
    expect(entry?.note).toBe('node reports RUNNING');
  });

  it('refuses a report about an earlier remote task, or another node’s', () => {
    expect(refusal(onNode('RUNNING'), observe('COMPLETE', { remoteId: 'r0' }))).toBe(
      'the report is about task r0 on node a, the task is now task r1 on node a',
    );
    expect(refusal(onNode('RUNNING'), observe('COMPLETE', { node: 'b' }))).toMatch(
      /about task r1 on node b/,
    );
  });

  it.each(['PREEMPTED', 'SYSTEM_ERROR'] as const)(
    'refuses %s while no cancel is pending: that is a loss, reported as such',
    (state) => {
      expect(refusal(onNode('RUNNING'), observe(state))).toMatch(
        `the node reports ${state}: a lost task is reported as resubmitted or lost`,
      );
    },
  );

  it('shows PREEMPTED as SYSTEM_ERROR, unless exposed, when a cancel was pending', () => {
    const canceling = onNode('CANCELING', { cancelRequested: true });
    expect(apply(canceling, observe('PREEMPTED')).record.state).toBe('SYSTEM_ERROR');
    expect(apply(canceling, observe('PREEMPTED', { exposePreempted: true })).record.state).toBe(
      'PREEMPTED',
    );
  });

  it('keeps CANCELING while the node has not confirmed a requested cancel', () => {
    const canceling = onNode('CANCELING', { cancelRequested: true });
    const result = transition(frozen(canceling), observe('RUNNING'), BY, NOW);
    // Same state, new logs: written, but not a transition.
    expect(result).toEqual({
      outcome: 'applied',
      record: { ...canceling, remoteLogs: LOGS, updatedAt: NOW },
    });
    const confirmed = apply(canceling, observe('CANCELED')).record;
    expect(confirmed).toMatchObject({ state: 'CANCELED', cancelRequested: false, endedAt: NOW });
  });

  it('changes nothing when the node says again what it said', () => {
    const running = frozen(onNode('RUNNING', { remoteLogs: LOGS }));
    expect(transition(running, observe('RUNNING'), BY, NOW)).toEqual({
      outcome: 'unchanged',
      record: running,
    });
  });

  it('passes on states the node reports on its own, UNKNOWN and CANCELING included', () => {
    expect(apply(onNode('RUNNING'), observe('UNKNOWN')).record.state).toBe('UNKNOWN');
    expect(apply(onNode('RUNNING'), observe('CANCELING')).record).toMatchObject({
      state: 'CANCELING',
      cancelRequested: false,
    });
    expect(apply(onNode('UNKNOWN'), observe('EXECUTOR_ERROR')).record.state).toBe('EXECUTOR_ERROR');
  });
});

describe('losses', () => {
  const loss = {
    node: 'a',
    remoteId: 'r1',
    lostAs: 'PREEMPTED' as const,
    reason: 'spot instance reclaimed',
  };
  const resubmit = (
    fields: Partial<TaskEventOf<'resubmitted'>> = {},
  ): TaskEventOf<'resubmitted'> => ({
    kind: 'resubmitted',
    ...loss,
    nodes: ['a', 'b'],
    maxResubmissions: 2,
    ...fields,
  });

  it('resubmits: QUEUED again, off the node, the attempt marked lost, the reason logged', () => {
    const before = onNode('RUNNING', { remoteLogs: LOGS, systemLogs: ['earlier'] });
    const { record: after, entry } = apply(before, resubmit());
    expect(after.state).toBe('QUEUED');
    expect(after).not.toHaveProperty('node');
    expect(after).not.toHaveProperty('remoteId');
    expect(after.remoteLogs).toEqual([]);
    expect(after.attempts).toEqual([
      { node: 'a', at: EARLIER, remoteId: 'r1', lostAs: 'PREEMPTED', error: loss.reason },
    ]);
    const note =
      'attempt on node a (task r1) ended PREEMPTED: spot instance reclaimed; ' +
      'resubmitting to another node';
    expect(after.systemLogs).toEqual(['earlier', note]);
    expect(entry).toMatchObject({ event: 'resubmitted', from: 'RUNNING', to: 'QUEUED', note });
    expect(needsForwarding(after)).toBe(true);
  });

  it('counts PREEMPTED and SYSTEM_ERROR as losses, and no other state', () => {
    expect(TES_STATES.filter(isLostState)).toEqual(['SYSTEM_ERROR', 'PREEMPTED']);
  });

  it('does not resubmit when every configured node was tried', () => {
    expect(refusal(onNode('RUNNING'), resubmit({ nodes: ['a'] }))).toBe(
      'every configured node has been tried',
    );
  });

  it('resubmits maxResubmissions losses and not the one after', () => {
    const lostBefore = { node: 'c', at: EARLIER, remoteId: 'r0', lostAs: 'SYSTEM_ERROR' as const };
    const second = onNode('RUNNING', {
      attempts: [lostBefore, { node: 'a', at: EARLIER, remoteId: 'r1' }],
    });
    const nodes = ['a', 'b', 'c'];
    expect(apply(second, resubmit({ nodes, maxResubmissions: 2 })).record.state).toBe('QUEUED');
    expect(refusal(second, resubmit({ nodes, maxResubmissions: 1 }))).toBe(
      'this is loss 2, and at most 1 are resubmitted',
    );
    expect(refusal(onNode('RUNNING'), resubmit({ maxResubmissions: 0 }))).toBe(
      'this is loss 1, and at most 0 are resubmitted',
    );
  });

  it('does not resubmit a task whose cancel is pending', () => {
    expect(refusal(onNode('CANCELING', { cancelRequested: true }), resubmit())).toBe(
      'a cancel was requested',
    );
  });

  it('ends a loss it does not resubmit in the node’s state, as clients may see it', () => {
    const before = onNode('RUNNING', { systemLogs: [] });
    const { record: after, entry } = apply(before, { kind: 'lost', ...loss });
    expect(after).toMatchObject({ state: 'SYSTEM_ERROR', node: 'a', endedAt: NOW });
    expect(after.attempts[0]).toMatchObject({ lostAs: 'PREEMPTED', error: loss.reason });
    expect(after.systemLogs).toEqual([
      'attempt on node a (task r1) ended PREEMPTED: spot instance reclaimed',
    ]);
    expect(entry?.note).not.toMatch(/resubmitting/);
    expect(needsForwarding(after)).toBe(false);
    const exposed = apply(before, { kind: 'lost', ...loss, exposePreempted: true }).record;
    expect(exposed.state).toBe('PREEMPTED');
    const forgotten = { ...loss, lostAs: 'SYSTEM_ERROR' as const, reason: 'forgotten' };
    expect(apply(before, { kind: 'lost', ...forgotten }).record.state).toBe('SYSTEM_ERROR');
  });

  it('refuses a loss reported for a remote task the task has left', () => {
    expect(refusal(onNode('RUNNING'), { kind: 'lost', ...loss, remoteId: 'r0' })).toMatch(
      /about task r0 on node a/,
    );
  });
});

describe('a node lost while unreachable', () => {
  it('leaves the lost attempt unsettled, so that its copy is canceled when the node returns', () => {
    const before = onNode('RUNNING');
    const { record: after } = apply(before, {
      kind: 'resubmitted',
      node: 'a',
      remoteId: 'r1',
      lostAs: 'SYSTEM_ERROR',
      reason: 'node a unreachable',
      orphaned: true,
      nodes: ['a', 'b'],
      maxResubmissions: 2,
    });
    expect(after.attempts).toEqual([
      {
        node: 'a',
        at: EARLIER,
        remoteId: 'r1',
        lostAs: 'SYSTEM_ERROR',
        error: 'node a unreachable',
        unsettled: true,
      },
    ]);
    expect(after).toMatchObject({ state: 'QUEUED' });
  });
});

describe('cancel', () => {
  it('marks the request and shows CANCELING; a repeat changes nothing', () => {
    const { record: after, entry } = apply(onNode('RUNNING'), { kind: 'cancelRequested' });
    expect(after).toMatchObject({ state: 'CANCELING', cancelRequested: true });
    expect(entry).toMatchObject({ from: 'RUNNING', to: 'CANCELING', node: 'a' });
    expect(transition(frozen(after), { kind: 'cancelRequested' }, BY, NOW)).toEqual({
      outcome: 'unchanged',
      record: after,
    });
  });

  it('confirms the cancel of a task never forwarded, unless it was forwarded meanwhile', () => {
    const waiting = record('CANCELING', { cancelRequested: true });
    const reason = 'canceled before it was forwarded to a node';
    const { record: after } = apply(waiting, { kind: 'cancelConfirmed', reason });
    expect(after).toMatchObject({ state: 'CANCELED', cancelRequested: false, endedAt: NOW });
    expect(after.systemLogs).toEqual([reason]);
    const forwarded = onNode('CANCELING', { cancelRequested: true });
    expect(refusal(forwarded, { kind: 'cancelConfirmed', reason })).toBe(
      'the report is about the task on no node, the task is now task r1 on node a',
    );
  });
});

describe('history', () => {
  it('starts on the next change of a record stored before there was one', () => {
    const legacy = onNode('RUNNING');
    delete legacy.history;
    const { record: after } = apply(legacy, { kind: 'cancelRequested' });
    expect(after.history).toEqual([
      { event: 'cancelRequested', from: 'RUNNING', to: 'CANCELING', at: NOW, by: BY, node: 'a' },
    ]);
  });

  it('keeps a copy of the actor, not the caller’s object', () => {
    const by: Actor = { kind: 'gateway', id: 'g1' };
    const result = transition(
      newTaskRecord('t2', 'bob', TASK, EARLIER),
      { kind: 'accepted' },
      by,
      NOW,
    );
    by.id = 'changed';
    expect(result.outcome === 'applied' && result.entry?.by).toEqual({ kind: 'gateway', id: 'g1' });
  });

  it('tells the story of a resubmitted task, as a client polling it sees it', () => {
    let current = newTaskRecord('t3', 'alice', TASK, EARLIER);
    const seen: TesState[] = [];
    const step = (event: TaskEvent) => {
      current = apply(current, event).record;
      seen.push(current.state);
    };
    step({ kind: 'accepted' });
    step({
      kind: 'forwarded',
      node: 'a',
      remoteId: 'r1',
      task: TASK,
      attempts: [{ node: 'a', at: NOW, remoteId: 'r1' }],
      decisions: [],
    });
    step({ kind: 'observed', node: 'a', remoteId: 'r1', state: 'RUNNING', logs: [] });
    step({
      kind: 'resubmitted',
      node: 'a',
      remoteId: 'r1',
      lostAs: 'PREEMPTED',
      reason: 'preempted',
      nodes: ['a', 'b'],
      maxResubmissions: 2,
    });
    step({
      kind: 'forwarded',
      node: 'b',
      remoteId: 'r9',
      task: TASK,
      attempts: [{ node: 'b', at: NOW, remoteId: 'r9' }],
      decisions: [],
    });
    step({ kind: 'observed', node: 'b', remoteId: 'r9', state: 'RUNNING', logs: [] });
    step({ kind: 'observed', node: 'b', remoteId: 'r9', state: 'COMPLETE', logs: LOGS });
    expect(seen).toEqual([
      'QUEUED',
      'QUEUED',
      'RUNNING',
      'QUEUED',
      'QUEUED',
      'RUNNING',
      'COMPLETE',
    ]);
    expect(current.history?.map((e) => [e.event, e.from, e.to, e.node])).toEqual([
      ['accepted', undefined, 'QUEUED', undefined],
      ['forwarded', 'QUEUED', 'QUEUED', 'a'],
      ['observed', 'QUEUED', 'RUNNING', 'a'],
      ['resubmitted', 'RUNNING', 'QUEUED', 'a'],
      ['forwarded', 'QUEUED', 'QUEUED', 'b'],
      ['observed', 'QUEUED', 'RUNNING', 'b'],
      ['observed', 'RUNNING', 'COMPLETE', 'b'],
    ]);
  });
});
