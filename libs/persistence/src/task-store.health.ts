import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { TaskStore } from './task-store';

/**
 * Terminus indicator for the task store, e.g.
 * `health.check([() => taskStoreHealth.pingCheck('store')])`.
 */
@Injectable()
export class TaskStoreHealthIndicator {
  constructor(
    private readonly store: TaskStore,
    private readonly health: HealthIndicatorService,
  ) {}

  pingCheck<const Key extends string>(key: Key, timeoutMs = 1000) {
    return this.health
      .check(key)
      .attempt(() => this.store.ping())
      .withTimeout(timeoutMs);
  }
}
