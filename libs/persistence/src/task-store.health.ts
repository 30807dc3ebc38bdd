import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { TaskStore } from './task-store';

/**
 * Terminus indicator for the task store: `check()` reports it as `store` (a readiness indicator of
 * @protes/server's HealthController), `pingCheck(key)` under another name.
 */
@Injectable()
export class TaskStoreHealthIndicator {
  constructor(
    private readonly store: TaskStore,
    private readonly health: HealthIndicatorService,
  ) {}

  async check() {
    return await this.pingCheck('store');
  }

  pingCheck<const Key extends string>(key: Key, timeoutMs = 1000) {
    return this.health
      .check(key)
      .attempt(() => this.store.ping())
      .withTimeout(timeoutMs);
  }
}
