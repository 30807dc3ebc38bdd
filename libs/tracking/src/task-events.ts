import { Injectable } from '@nestjs/common';
import { validRequestId } from '@protes/server';
import { Subject, type Subscription } from 'rxjs';

/**
 * Something happened to a task that a tracker should look at soon: `queued`, a task stored for
 * forwarding (the outbox); `cancel-requested`. (`forwarded` is what gateways before the outbox
 * sent; it is still understood, as any type is.)
 */
export interface TaskEvent {
  type: 'queued' | 'cancel-requested';
  taskId: string;
  /** The request that caused the event, so that the tracker's log lines about the task name it. */
  requestId?: string;
}

/**
 * The task id of an event that came from outside the process (a queue), or undefined when the
 * payload is not a task event. Only the id matters to a tracker; an unknown `type` from a newer
 * gateway is still a hint about that task, so it is accepted.
 */
export function taskIdOfEvent(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { taskId, type } = payload as Record<string, unknown>;
  if (typeof type !== 'string' || typeof taskId !== 'string') return undefined;
  if (taskId.length === 0 || taskId.length > 256) return undefined;
  return taskId;
}

/** The request id an event from a queue carries, if it is a valid one. */
export const requestIdOfEvent = (payload: unknown): string | undefined =>
  typeof payload === 'object' && payload !== null
    ? validRequestId((payload as Record<string, unknown>).requestId)
    : undefined;

/**
 * The port between the gateway and the tracker. A message is only a hint to act early: the store
 * remains the source of truth, so a lost event delays a task but never loses it. `publish` never
 * throws and never waits: it is called on the request path.
 */
export abstract class TaskEventBus {
  abstract publish(event: TaskEvent): void;
  /** Events published to this bus that are delivered inside this process. */
  abstract subscribe(handler: (event: TaskEvent) => void): Subscription;
}

/** Standalone mode: gateway and tracker share the process. */
@Injectable()
export class InProcessTaskEventBus extends TaskEventBus {
  private readonly events = new Subject<TaskEvent>();

  publish(event: TaskEvent): void {
    this.events.next(event);
  }

  subscribe(handler: (event: TaskEvent) => void): Subscription {
    return this.events.subscribe(handler);
  }
}
