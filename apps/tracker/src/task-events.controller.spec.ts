import { Logger } from '@nestjs/common';
import type { RmqContext } from '@nestjs/microservices';
import type { TaskObserver } from '@protes/distribution';
import { TaskRequestIds } from '@protes/server';
import type { TrackerService } from '@protes/tracking';
import { TaskEventsController } from './task-events.controller';

/** A stand-in for the RMQ context: the channel that acknowledges, and the message. */
function context(ack: (message: unknown) => void = () => undefined) {
  const message = { fields: { deliveryTag: 1 } };
  const channel = { ack: jest.fn(ack) };
  const ctx = { getChannelRef: () => channel, getMessage: () => message } as unknown as RmqContext;
  return { ctx, channel, message };
}

function controller(pollSoon: (id: string) => void = () => undefined) {
  const tracker = { pollSoon: jest.fn(pollSoon) };
  // The observer's part the controller uses: the request ids it logs tasks with.
  const observer = { requestIds: new TaskRequestIds() };
  const handler = new TaskEventsController(
    tracker as unknown as TrackerService,
    observer as TaskObserver,
  );
  return { tracker, observer, handler };
}

beforeEach(() => {
  jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('TaskEventsController', () => {
  it('hands the task to the tracker, then acknowledges the message', () => {
    const { tracker, handler } = controller();
    const { ctx, channel, message } = context();
    handler.handle({ type: 'queued', taskId: 'abc' }, ctx);
    expect(tracker.pollSoon).toHaveBeenCalledWith('abc');
    expect(channel.ack).toHaveBeenCalledWith(message);
    expect(tracker.pollSoon.mock.invocationCallOrder[0]).toBeLessThan(
      channel.ack.mock.invocationCallOrder[0],
    );
  });

  it("remembers the event's request id for the task, and ignores an invalid one", () => {
    const { observer, handler } = controller();
    handler.handle({ type: 'forwarded', taskId: 'abc', requestId: 'req-42' }, context().ctx);
    handler.handle({ type: 'forwarded', taskId: 'def', requestId: 'bad id\n' }, context().ctx);
    expect(observer.requestIds.of('abc')).toBe('req-42');
    expect(observer.requestIds.of('def')).toBeUndefined();
  });

  it('acknowledges and drops a message that is not a task event', () => {
    const { tracker, handler } = controller();
    const { ctx, channel } = context();
    handler.handle('garbage', ctx);
    expect(tracker.pollSoon).not.toHaveBeenCalled();
    expect(channel.ack).toHaveBeenCalledTimes(1);
  });

  it('acknowledges even when the tracker throws, so the event is not redelivered for ever', () => {
    const { handler } = controller(() => {
      throw new Error('boom');
    });
    const { ctx, channel } = context();
    expect(() => handler.handle({ type: 'queued', taskId: 'abc' }, ctx)).not.toThrow();
    expect(channel.ack).toHaveBeenCalledTimes(1);
  });

  it('does not throw when the channel closed before the acknowledgement', () => {
    const { handler } = controller();
    const { ctx } = context(() => {
      throw new Error('Channel closed');
    });
    expect(() => handler.handle({ type: 'queued', taskId: 'abc' }, ctx)).not.toThrow();
  });
});
