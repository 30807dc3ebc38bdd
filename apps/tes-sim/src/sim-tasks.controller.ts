import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import type { TesCreateTaskResponse, TesListTasksResponse, TesTask } from '@protes/tes';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { badRequest, TesHttpError } from './sim-errors';
import { parseListQuery, parseView } from '@protes/tes';
import { SimRoute } from './sim-route.decorator';
import { SimTasksService } from './sim-tasks.service';
import { tes10ListQuery } from './sim-tes-version';

export const TES_BASE_PATH = 'ga4gh/tes/v1';

/** The TES task routes (1.1, or 1.0 with `--tes-version 1.0.0`). */
@Controller(TES_BASE_PATH)
export class SimTasksController {
  constructor(
    @Inject(SIM_CONFIG) private readonly config: SimConfig,
    private readonly tasks: SimTasksService,
  ) {}

  @Post('tasks')
  @HttpCode(200)
  @SimRoute('POST /tasks')
  create(@Body() body: unknown): TesCreateTaskResponse {
    return { id: this.tasks.create(body) };
  }

  @Get('tasks')
  @SimRoute('GET /tasks')
  list(@Query() query: Record<string, unknown>): TesListTasksResponse {
    if (!this.config.list) {
      throw new TesHttpError(501, `node ${this.config.name} does not implement ListTasks`);
    }
    // A 1.0 node does not know the filters 1.1 added: it ignores them, as unknown parameters.
    const parsed = parseListQuery(
      this.config.tesVersion === '1.0.0' ? tes10ListQuery(query) : query,
    );
    if (!parsed.ok) throw badRequest('invalid list query', parsed.errors);
    return this.tasks.list(parsed.value);
  }

  @Get('tasks/:id')
  @SimRoute('GET /tasks/:id')
  get(@Param('id') id: string, @Query() query: Record<string, unknown>): TesTask {
    const view = parseView(query);
    if (!view.ok) throw badRequest('invalid query', view.errors);
    return this.tasks.get(id, view.value);
  }

  // The spec's path is `/tasks/{id}:cancel`. Fastify's router would read `:id::cancel` as one
  // parameter named `id::cancel`; a parameter with a pattern ends where the literal `:cancel`
  // (a colon escaped as `::`) begins.
  @Post('tasks/:id(^.+)::cancel')
  @HttpCode(200)
  @SimRoute('POST cancel')
  cancel(@Param('id') id: string): Record<string, never> {
    this.tasks.cancel(id);
    return {};
  }
}
