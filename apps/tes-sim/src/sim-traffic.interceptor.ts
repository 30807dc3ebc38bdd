import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Observable } from 'rxjs';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { TesHttpError } from './sim-errors';
import { SimOutageService } from './sim-outage.service';
import { SimRoute } from './sim-route.decorator';
import { SimStatsService } from './sim-stats.service';

/** What a node does to every TES request before answering it: count, delay, fail if in outage. */
@Injectable()
export class SimTrafficInterceptor implements NestInterceptor {
  constructor(
    @Inject(SIM_CONFIG) private readonly config: SimConfig,
    private readonly reflector: Reflector,
    private readonly stats: SimStatsService,
    private readonly outage: SimOutageService,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const route = this.reflector.get(SimRoute, context.getHandler());
    if (route === undefined) return next.handle();
    this.stats.count(route);
    if (this.config.latencyMs > 0) await sleep(this.config.latencyMs);
    if (this.outage.erroring()) {
      throw new TesHttpError(
        503,
        `simulated outage: node ${this.config.name} is unavailable for another ${this.outage.errorRemainingMs()} ms`,
      );
    }
    return next.handle();
  }
}
