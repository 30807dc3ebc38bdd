import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import type { FieldError, TesState } from '@protes/tes';
import { badRequest } from './sim-errors';
import {
  SIM_OUTAGE_MODES,
  SimOutageService,
  type SimOutageMode,
  type SimOutageState,
} from './sim-outage.service';
import { type SimRouteName, SimStatsService } from './sim-stats.service';
import { SimTasksService } from './sim-tasks.service';

export interface SimStats {
  requests: Record<SimRouteName, number>;
  tasks: Record<TesState, number>;
  outage: SimOutageState;
}

const MAX_OUTAGE_MS = 24 * 60 * 60 * 1000;

/** Runtime control for tests and demos; not part of TES, never delayed or failed by an outage. */
@Controller('sim')
export class SimControlController {
  constructor(
    private readonly outage: SimOutageService,
    private readonly stats: SimStatsService,
    private readonly tasks: SimTasksService,
  ) {}

  /** `{mode: 'error' | 'refuse', ms}`. A refusal starts once this answer is on its way. */
  @Post('outage')
  @HttpCode(200)
  startOutage(@Body() body: unknown): SimOutageState {
    const { mode, ms } = readOutage(body);
    if (mode === 'error') this.outage.error(ms);
    else this.outage.refuse(ms);
    return mode === 'refuse' && ms > 0 ? { mode, remaining_ms: ms } : this.outage.state();
  }

  @Get('stats')
  getStats(): SimStats {
    return {
      requests: this.stats.requests(),
      tasks: this.tasks.countByState(),
      outage: this.outage.state(),
    };
  }

  @Post('reset-stats')
  @HttpCode(200)
  resetStats(): SimStats {
    this.stats.reset();
    return this.getStats();
  }
}

function readOutage(body: unknown): { mode: SimOutageMode; ms: number } {
  const errors: FieldError[] = [];
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const mode = record.mode;
  const ms = record.ms;
  if (typeof mode !== 'string' || !(SIM_OUTAGE_MODES as readonly string[]).includes(mode)) {
    errors.push({ field: 'mode', reason: `must be one of ${SIM_OUTAGE_MODES.join(', ')}` });
  }
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_OUTAGE_MS) {
    errors.push({ field: 'ms', reason: `must be an integer from 0 to ${MAX_OUTAGE_MS}` });
  }
  if (errors.length > 0) throw badRequest('invalid outage', errors);
  return { mode: mode as SimOutageMode, ms: ms as number };
}
