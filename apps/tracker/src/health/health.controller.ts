import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { TaskStoreHealthIndicator } from '@protes/persistence';
import { TaskEventServer } from '../task-event.server';

/**
 * Liveness and readiness of a tracker. Ready means the store answers and the task-event queue is
 * being consumed. A tracker that has lost RabbitMQ still follows its tasks from the store, only
 * without the early hints, so that is reported as down but never stops the process.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: TaskStoreHealthIndicator,
    private readonly events: TaskEventServer,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get()
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.store.pingCheck('store'),
      () => {
        const indicator = this.indicators.check('bus');
        const details = { queue: this.events.queueName };
        return this.events.consuming
          ? indicator.up(details)
          : indicator.down({ ...details, reason: 'not consuming from RabbitMQ (reconnecting)' });
      },
    ]);
  }
}
