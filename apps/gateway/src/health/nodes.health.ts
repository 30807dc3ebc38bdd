import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { NodeRegistry } from '@protes/distribution';
import type { ReadinessIndicator } from '@protes/server';

/**
 * Each node as `up` or `down` (with its breaker when not closed). The gateway is not ready when no
 * node can take a task (every breaker open): each new task would end in SYSTEM_ERROR at once. One
 * node down among others is reported, not a reason to stop taking tasks.
 */
@Injectable()
export class NodesHealthIndicator implements ReadinessIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: NodeRegistry,
  ) {}

  async check() {
    const status = await this.registry.status();
    const details = Object.fromEntries(
      status.map((n) => [
        n.name,
        `${n.healthy ? 'up' : 'down'}${n.breaker === 'closed' ? '' : ` (circuit ${n.breaker})`}`,
      ]),
    );
    const unavailable = new Set(this.registry.unavailable());
    const indicator = this.indicators.check('nodes');
    return status.length > 0 && status.every((n) => unavailable.has(n.name))
      ? indicator.down({ ...details, reason: 'no node can take a task: every circuit is open' })
      : indicator.up(details);
  }
}
