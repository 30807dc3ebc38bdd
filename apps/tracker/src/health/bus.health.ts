import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { ReadinessIndicator } from '@protes/server';
import { TaskEventServer } from '../task-event.server';

/**
 * Whether the task-event queue is consumed. A tracker that has lost RabbitMQ still follows its
 * tasks from the store, only without the early hints: reported down, never a reason to stop.
 */
@Injectable()
export class BusHealthIndicator implements ReadinessIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly events: TaskEventServer,
  ) {}

  check() {
    const indicator = this.indicators.check('bus');
    const details = { queue: this.events.queueName };
    return this.events.consuming
      ? indicator.up(details)
      : indicator.down({ ...details, reason: 'not consuming from RabbitMQ (reconnecting)' });
  }
}
