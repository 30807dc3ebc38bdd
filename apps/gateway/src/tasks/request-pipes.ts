import { Inject, Injectable, type PipeTransform } from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import {
  createTaskValidator,
  type ListQuery,
  parseListQuery,
  parseView,
  type RawQuery,
  type TesTaskRequest,
  type TesView,
  type Validation,
} from '@protes/tes';
import { InvalidRequestException } from '../common/tes-exception.filter';

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '@protes/tes';

/**
 * A Nest pipe from one of the compiled checks of @protes/tes (TypeBox schemas compiled once with
 * ajv): the checked value, or a 400 naming each offending field.
 */
export class ValidationPipe<T> implements PipeTransform<unknown, T> {
  constructor(private readonly check: (value: unknown) => Validation<T>) {}

  transform(value: unknown): T {
    const checked = this.check(value);
    if (!checked.ok) throw new InvalidRequestException(checked.errors);
    return checked.value;
  }
}

/**
 * The body of CreateTask: a TES 1.1 task within the configured limits (checked first), unknown
 * fields dropped, inline content bounded.
 */
@Injectable()
export class TaskRequestPipe extends ValidationPipe<TesTaskRequest> {
  constructor(@Inject(protesConfig.KEY) config: ProtesConfig) {
    const { maxContentBytes, limits } = config.tasks;
    super(createTaskValidator({ maxContentBytes, limits }));
  }
}

const asQuery = (value: unknown): RawQuery => (value ?? {}) as RawQuery;

/** The `view` of GetTask; MINIMAL when absent, as the spec defaults it. */
export const viewPipe = new ValidationPipe<TesView>((q) => parseView(asQuery(q)));

/** The ListTasks parameters of TES 1.1. */
export const listQueryPipe = new ValidationPipe<ListQuery>((q) => parseListQuery(asQuery(q)));
