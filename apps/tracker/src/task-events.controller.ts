import { Controller, Logger } from '@nestjs/common';
import { Ctx, EventPattern, Payload, type RmqContext } from '@nestjs/microservices';
import { TaskObserver } from '@protes/distribution';
import {
  requestIdOfEvent,
  TASK_EVENT_PATTERN,
  taskIdOfEvent,
  TrackerService,
} from '@protes/tracking';

/** The part of an amqplib channel used to acknowledge. */
interface AckChannel {
  ack(message: unknown): void;
}

/**
 * Task events from the queue. Each one makes the tracker look at the task's node in its next round
 * (or claim the task, if no tracker holds it yet), and is acknowledged once handed over. Handling
 * cannot fail in a way a redelivery would fix, so every event is acknowledged: a malformed one is
 * logged and dropped rather than redelivered for ever.
 */
@Controller()
export class TaskEventsController {
  private readonly logger = new Logger(TaskEventsController.name);

  constructor(
    private readonly tracker: TrackerService,
    private readonly observer: TaskObserver,
  ) {}

  @EventPattern<string>(TASK_EVENT_PATTERN)
  handle(@Payload() payload: unknown, @Ctx() context: RmqContext): void {
    try {
      const taskId = taskIdOfEvent(payload);
      const requestId = requestIdOfEvent(payload);
      if (taskId) {
        // What this tracker logs about the task from now on names the request behind it.
        if (requestId) this.observer.requestIds.remember(taskId, requestId);
        this.logger.debug({ msg: 'task event received', taskId, requestId });
        this.tracker.pollSoon(taskId);
      } else this.logger.warn(`dropped a message that is not a task event: ${preview(payload)}`);
    } catch (error) {
      this.logger.error(`task event not handled: ${String(error)}`);
    } finally {
      try {
        (context.getChannelRef() as AckChannel).ack(context.getMessage());
      } catch (error) {
        // The channel closed meanwhile (broker restart): the broker delivers the event again.
        this.logger.warn(`could not acknowledge a task event: ${String(error)}`);
      }
    }
  }
}

const preview = (payload: unknown): string =>
  (JSON.stringify(payload) ?? 'undefined').slice(0, 200);
