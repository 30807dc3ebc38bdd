import { Logger } from '@nestjs/common';
import { newTaskRecord, TaskLifecycle } from '@protes/core';
import { SqliteTaskStore } from '@protes/persistence';
import { Metrics, withRequestId } from '@protes/server';
import { Subject } from 'rxjs';
import {
  type ChainRun,
  type ChainService,
  TaskRejectedException,
} from './middleware/chain.service';
import { TaskObserver } from './task-observer';

const TASK = { executors: [{ image: 'alpine', command: ['true'] }] };
const TRACKER = { kind: 'tracker' as const, id: 'tracker-1' };

/** A real lifecycle over an in-memory store, observed; the chain only as the stream it emits. */
function setup() {
  const store = new SqliteTaskStore({ path: ':memory:' });
  const lifecycle = new TaskLifecycle(store);
  const runs = new Subject<ChainRun>();
  const metrics = new Metrics();
  const observer = new TaskObserver(lifecycle, { runs } as unknown as ChainService, metrics);
  observer.onModuleInit();
  const lines: Record<string, unknown>[] = [];
  jest.spyOn(Logger.prototype, 'log').mockImplementation((line: unknown) => {
    lines.push(line as Record<string, unknown>);
  });
  jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  /** The sum of a series' values (a histogram's `_count` by that name). */
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const all = await metrics.registry.getMetricsAsJSON();
    const metric = all.find((m) => m.name === name || `${m.name}_count` === name);
    const values = (metric?.values ?? []) as {
      value: number;
      labels: Record<string, unknown>;
      metricName?: string;
    }[];
    const match = values.filter(
      (v) =>
        (v.metricName ?? name) === name &&
        Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    );
    return match.reduce((sum, v) => sum + v.value, 0);
  };
  return { store, lifecycle, runs, observer, lines, value };
}

afterEach(() => jest.restoreAllMocks());

describe('TaskObserver', () => {
  it('logs and counts a task from creation to its end, with the request that created it', async () => {
    const { store, lifecycle, observer, lines, value } = setup();
    const record = await withRequestId('req-7', () =>
      lifecycle.accept(newTaskRecord('t1', 'alice', TASK)),
    );
    const attempts = [
      { node: 'alpha', at: new Date().toISOString(), error: 'alpha: refused' },
      { node: 'beta', at: new Date().toISOString(), remoteId: 'r1' },
    ];
    const forwarded = { node: 'beta', remoteId: 'r1', task: TASK, attempts, decisions: [] };
    await lifecycle.forwarded(record.id, forwarded, TRACKER);
    const observed = { node: 'beta', remoteId: 'r1', state: 'COMPLETE' as const, logs: [] };
    await lifecycle.observed(record.id, observed, TRACKER);

    expect(lines.map((l) => [l.msg, l.requestId])).toEqual([
      ['task created', 'req-7'],
      ['task forwarded to beta', 'req-7'],
      ['task COMPLETE on beta', 'req-7'],
    ]);
    expect(lines[1]).toMatchObject({ taskId: 't1', node: 'beta', failedOver: ['alpha'] });
    expect(await value('protes_tasks_created_total')).toBe(1);
    expect(await value('protes_tasks_forwarded_total', { node: 'beta' })).toBe(1);
    expect(await value('protes_tasks_failed_over_total', { node: 'alpha' })).toBe(1);
    expect(await value('protes_tasks_finished_total', { state: 'COMPLETE', node: 'beta' })).toBe(1);
    // Ended: its request id is no longer kept.
    expect(observer.requestIds.of('t1')).toBeUndefined();
    await store.close();
  });

  it('names the request stored with the task where it never saw that request (a tracker that claimed it first)', async () => {
    const { store, lifecycle, lines } = setup();
    // Stored by another process (the gateway), outside any request of this one.
    const record = await lifecycle.accept({
      ...newTaskRecord('t3', 'alice', TASK),
      requestId: 'req-gw',
    });
    const attempts = [{ node: 'beta', at: new Date().toISOString(), remoteId: 'r3' }];
    await lifecycle.forwarded(
      record.id,
      { node: 'beta', remoteId: 'r3', task: TASK, attempts, decisions: [] },
      TRACKER,
    );
    expect(lines.map((l) => [l.msg, l.requestId])).toEqual([
      ['task created', 'req-gw'],
      ['task forwarded to beta', 'req-gw'],
    ]);
    // The request being served wins over the stored one.
    await withRequestId('req-now', () =>
      lifecycle.accept({ ...newTaskRecord('t4', 'alice', TASK), requestId: 'req-gw' }),
    );
    expect(lines.at(-1)).toMatchObject({ taskId: 't4', requestId: 'req-now' });
    await store.close();
  });

  it('counts a refusal by its middleware and every decision time', async () => {
    const { runs, lines, value } = setup();
    const decisions = [
      { entry: 0, middleware: 'distance', outcome: 'applied' as const, order: ['a'], ms: 2 },
      { entry: 1, middleware: 'quota', outcome: 'rejected' as const, order: ['a'], ms: 1 },
    ];
    const refusal = new TaskRejectedException('rejected by quota: over quota', 429, decisions);
    runs.next({ taskId: 't2', decisions, refusal });
    expect(await value('protes_tasks_refused_total', { middleware: 'quota' })).toBe(1);
    expect(await value('protes_middleware_decision_seconds_count')).toBe(2);
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'task refused by middleware quota',
        taskId: 't2',
        status: 429,
      }),
    ]);
  });
});
