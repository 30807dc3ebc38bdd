import { TES_BASE_PATHS } from '../common/http-protocol';
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import {
  createTaskValidator,
  type TesCreateTaskResponse,
  type TesListTasksResponse,
  type TesTask,
  type TesTaskRequest,
} from '@protes/tes';
import { InvalidRequestException } from '../common/tes-exception.filter';
import { parseListQuery, parseView } from './list-query';
import { TasksService } from './tasks.service';

type RawQuery = Record<string, string | string[] | undefined>;

@Controller(TES_BASE_PATHS)
export class TasksController {
  private readonly validate: (body: unknown) => ReturnType<ReturnType<typeof createTaskValidator>>;

  constructor(
    private readonly tasks: TasksService,
    @Inject(protesConfig.KEY) config: ProtesConfig,
  ) {
    this.validate = createTaskValidator({ maxContentBytes: config.tasks.maxContentBytes });
  }

  @Post('tasks')
  @HttpCode(200)
  async create(
    @Body() body: unknown,
    @Headers() headers: Record<string, string | string[] | undefined>,
  ): Promise<TesCreateTaskResponse> {
    const result = this.validate(body);
    if (!result.ok) throw new InvalidRequestException(result.errors);
    return {
      id: await this.tasks.create(result.value satisfies TesTaskRequest, undefined, headers),
    };
  }

  @Get('tasks')
  list(@Query() query: RawQuery): Promise<TesListTasksResponse> {
    return this.tasks.list(parseListQuery(query));
  }

  @Get('tasks/:id')
  get(@Param('id') id: string, @Query() query: RawQuery): Promise<TesTask> {
    return this.tasks.get(id, parseView(query));
  }

  // Fastify reads `::` as a literal colon: this is POST /tasks/{id}:cancel.
  @Post('tasks/:id(^.+)::cancel')
  @HttpCode(200)
  async cancel(@Param('id') id: string): Promise<Record<string, never>> {
    await this.tasks.cancel(id);
    return {};
  }
}
