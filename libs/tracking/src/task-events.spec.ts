import { InProcessTaskEventBus, taskIdOfEvent } from './task-events';

describe('taskIdOfEvent', () => {
  it.each([
    [{ type: 'queued', taskId: 'abc' }, 'abc'],
    [{ type: 'cancel-requested', taskId: '01m8b2' }, '01m8b2'],
    // A newer gateway's event type is still a hint about that task.
    [{ type: 'resubmitted', taskId: 'abc' }, 'abc'],
  ])('reads the task id of %j', (payload, id) => {
    expect(taskIdOfEvent(payload)).toBe(id);
  });

  it.each([
    undefined,
    null,
    'abc',
    42,
    [],
    {},
    { taskId: 'abc' },
    { type: 'queued' },
    { type: 'queued', taskId: '' },
    { type: 'queued', taskId: 7 },
    { type: 1, taskId: 'abc' },
    { type: 'queued', taskId: 'x'.repeat(257) },
  ])('refuses %j', (payload) => {
    expect(taskIdOfEvent(payload)).toBeUndefined();
  });
});

describe('InProcessTaskEventBus', () => {
  it('delivers each event to every subscriber until it unsubscribes', () => {
    const bus = new InProcessTaskEventBus();
    const a: string[] = [];
    const b: string[] = [];
    const subA = bus.subscribe((e) => a.push(e.taskId));
    bus.subscribe((e) => b.push(e.taskId));
    bus.publish({ type: 'queued', taskId: '1' });
    subA.unsubscribe();
    bus.publish({ type: 'cancel-requested', taskId: '2' });
    expect(a).toEqual(['1']);
    expect(b).toEqual(['1', '2']);
  });
});
