import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { protesConfig, type ProtesConfig } from '@protes/config';
import type { ReadinessIndicator } from '@protes/server';
import { RmqTaskEventBus, TaskEventBus } from '@protes/tracking';

/**
 * Distributed mode: whether the gateway is connected to RabbitMQ (standalone mode: always up). Without it tasks are still stored
 * and forwarded, but no tracker hears of them until its next claim, and cancels wait as long: the
 * gateway is not ready, so that a load balancer prefers one that is.
 */
@Injectable()
export class GatewayBusHealthIndicator implements ReadinessIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly events: TaskEventBus,
    @Inject(protesConfig.KEY) private readonly config: ProtesConfig,
  ) {}

  check() {
    const indicator = this.indicators.check('bus');
    const details = { queue: this.config.bus.queue };
    if (!(this.events instanceof RmqTaskEventBus)) return indicator.up({ driver: 'in-process' });
    return this.events.connected()
      ? indicator.up(details)
      : indicator.down({ ...details, reason: 'not connected to RabbitMQ (reconnecting)' });
  }
}
