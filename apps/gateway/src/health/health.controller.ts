import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { NodeRegistry } from '@protes/distribution';
import { TaskStoreHealthIndicator } from '@protes/persistence';

/**
 * Liveness and readiness. Ready means the store answers; nodes are reported but do not make the
 * gateway unready, since it still accepts and records tasks while nodes are down.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: TaskStoreHealthIndicator,
    private readonly registry: NodeRegistry,
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
      async () => {
        const indicator = this.indicators.check('nodes');
        const details = Object.fromEntries(
          (await this.registry.status()).map((n) => [
            n.name,
            `${n.healthy ? 'up' : 'down'}${n.breaker === 'closed' ? '' : ` (circuit ${n.breaker})`}`,
          ]),
        );
        return indicator.up(details);
      },
    ]);
  }
}
