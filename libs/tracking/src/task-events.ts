import { Injectable } from '@nestjs/common';
import { Subject, type Subscription } from 'rxjs';

/** Something happened to a task that its tracker should look at soon. */
export interface TaskEvent {
  type: 'forwarded' | 'cancel-requested';
  taskId: string;
}

/**
 * The port between the gateway and the tracker. A message is only a hint to act early: the store
 * remains the source of truth, so a lost event delays a task but never loses it.
 */
export abstract class TaskEventBus {
  abstract publish(event: TaskEvent): void;
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
