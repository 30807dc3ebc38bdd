import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import type { TesCreateTaskResponse, TesListTasksResponse, TesTask } from '@protes/tes';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { badRequest, TesHttpError } from './sim-errors';
import { parseListQuery, parseView } from '@protes/tes';
import { SimRoute } from './sim-route.decorator';
import { SimTasksService } from './sim-tasks.service';

export const TES_BASE_PATH = 'ga4gh/tes/v1';

/** The TES 1.1 task routes. */
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
    const parsed = parseListQuery(query);
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
