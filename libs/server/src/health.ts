import { Controller, Get, Inject, type Provider, type Type } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthIndicatorResult } from '@nestjs/terminus';

/** One thing a process needs to do its work: the store answers, the bus is consumed, … */
export interface ReadinessIndicator {
  check(): Promise<HealthIndicatorResult> | HealthIndicatorResult;
}

const READINESS_INDICATORS = Symbol('protes:readiness-indicators');

/**
 * The providers an app module adds beside HealthController (and TerminusModule in its imports):
 * the indicators, each an injectable of that module, in the order /health reports them.
 */
export function readinessIndicators(indicators: Type<ReadinessIndicator>[]): Provider[] {
  return [
    ...indicators,
    {
      provide: READINESS_INDICATORS,
      useFactory: (...found: ReadinessIndicator[]) => found,
      inject: indicators,
    },
  ];
}

/**
 * Liveness (`/health/live`: the process answers, nothing else, so that an orchestrator restarts
 * it only when restarting helps) and readiness (`/health`: 503 naming what is down), the same in
 * every proTES process; each app says what readiness means for it through its indicators.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    @Inject(READINESS_INDICATORS) private readonly indicators: ReadinessIndicator[],
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get()
  @HealthCheck()
  ready() {
    return this.health.check(this.indicators.map((indicator) => () => indicator.check()));
  }
}
