import { Body, Controller, Get, Header, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CurrentPrincipal, ForwardedHeaders, type Principal } from '@protes/auth';
import type {
  ListQuery,
  TesCreateTaskResponse,
  TesTask,
  TesTaskRequest,
  TesView,
} from '@protes/tes';
import { TES_BASE_PATHS } from '../common/tes-base-paths';
import { listQueryPipe, TaskRequestPipe, viewPipe } from './request-pipes';
import { TasksService } from './tasks.service';

@Controller(TES_BASE_PATHS)
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post('tasks')
  @HttpCode(200)
  async create(
    @Body(TaskRequestPipe) task: TesTaskRequest,
    @CurrentPrincipal() caller: Principal,
    @ForwardedHeaders() headers: Readonly<Record<string, string | string[] | undefined>>,
  ): Promise<TesCreateTaskResponse> {
    return { id: await this.tasks.create(task, caller, headers) };
  }

  /**
   * The ListTasksResponse comes as JSON text, which Fastify sends as it is once the content type
   * says JSON (errors, objects, are still serialized).
   */
  @Get('tasks')
  @Header('Content-Type', 'application/json; charset=utf-8')
  list(
    @Query(listQueryPipe) query: ListQuery,
    @CurrentPrincipal() caller: Principal,
  ): Promise<string> {
    return this.tasks.list(query, caller);
  }

  @Get('tasks/:id')
  get(
    @Param('id') id: string,
    @Query(viewPipe) view: TesView,
    @CurrentPrincipal() caller: Principal,
  ): Promise<TesTask> {
    return this.tasks.get(id, view, caller);
  }

  // Fastify reads `::` as a literal colon: this is POST /tasks/{id}:cancel.
  @Post('tasks/:id(^.+)::cancel')
  @HttpCode(200)
  async cancel(
    @Param('id') id: string,
    @CurrentPrincipal() caller: Principal,
  ): Promise<Record<string, never>> {
    await this.tasks.cancel(id, caller);
    return {};
  }
}
