import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import type {
  ListQuery,
  TesCreateTaskResponse,
  TesListTasksResponse,
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
    @Headers() headers: Record<string, string | string[] | undefined>,
  ): Promise<TesCreateTaskResponse> {
    return { id: await this.tasks.create(task, undefined, headers) };
  }

  @Get('tasks')
  list(@Query(listQueryPipe) query: ListQuery): Promise<TesListTasksResponse> {
    return this.tasks.list(query);
  }

  @Get('tasks/:id')
  get(@Param('id') id: string, @Query(viewPipe) view: TesView): Promise<TesTask> {
    return this.tasks.get(id, view);
  }

  // Fastify reads `::` as a literal colon: this is POST /tasks/{id}:cancel.
  @Post('tasks/:id(^.+)::cancel')
  @HttpCode(200)
  async cancel(@Param('id') id: string): Promise<Record<string, never>> {
    await this.tasks.cancel(id);
    return {};
  }
}
