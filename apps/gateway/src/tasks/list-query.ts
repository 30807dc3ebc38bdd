import {
  type ListQuery,
  parseListQuery as parseList,
  parseView as parseViewParam,
  type RawQuery,
  type TesView,
  type Validation,
} from '@protes/tes';
import { InvalidRequestException } from '../common/tes-exception.filter';

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '@protes/tes';

function orThrow<T>(checked: Validation<T>): T {
  if (!checked.ok) throw new InvalidRequestException(checked.errors);
  return checked.value;
}

/** The `view` parameter, or a 400 naming it. */
export const parseView = (query: RawQuery): TesView => orThrow(parseViewParam(query));

/** The ListTasks parameters of TES 1.1, or a 400 naming each bad one. */
export const parseListQuery = (query: RawQuery): ListQuery => orThrow(parseList(query));
