import {
  Controller,
  Get,
  Inject,
  type Provider,
  Res,
  ServiceUnavailableException,
  type Type,
} from '@nestjs/common';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

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

  /**
   * 200 with each indicator's details, or 503 with the same body plus the error body's
   * `status_code` and a `msg` naming what is down and why. Answered here rather than thrown, so
   * that no exception filter replaces the details with a generic message.
   */
  @Get()
  @HealthCheck()
  async ready(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<HealthCheckResult | (HealthCheckResult & { status_code: number; msg: string })> {
    try {
      return await this.health.check(this.indicators.map((indicator) => () => indicator.check()));
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const result = error.getResponse() as HealthCheckResult;
      const down = Object.entries(result.error ?? {}).map(
        ([name, detail]) => `${name} (${String(detail?.reason ?? detail?.message ?? 'down')})`,
      );
      void reply.code(503);
      return { status_code: 503, msg: `not ready: ${down.join(', ')} down`, ...result };
    }
  }
}
