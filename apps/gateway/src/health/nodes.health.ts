import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { NodeRegistry } from '@protes/distribution';
import type { ReadinessIndicator } from '@protes/server';

/**
 * Each node as `up` or `down` (with its breaker when not closed). Reported, but always up: the
 * gateway still accepts and records tasks while nodes are down.
 */
@Injectable()
export class NodesHealthIndicator implements ReadinessIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: NodeRegistry,
  ) {}

  async check() {
    const details = Object.fromEntries(
      (await this.registry.status()).map((n) => [
        n.name,
        `${n.healthy ? 'up' : 'down'}${n.breaker === 'closed' ? '' : ` (circuit ${n.breaker})`}`,
      ]),
    );
    return this.indicators.check('nodes').up(details);
  }
}
