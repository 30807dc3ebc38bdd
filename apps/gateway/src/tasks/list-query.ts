import { TES_STATES, TES_VIEWS, type TesState, type TesView, type FieldError } from '@protes/tes';
import type { TagFilter } from '@protes/persistence';
import { InvalidRequestException } from '../common/tes-exception.filter';

export const DEFAULT_PAGE_SIZE = 256;
export const MAX_PAGE_SIZE = 2048;

type RawQuery = Record<string, string | string[] | undefined>;

export interface ListQuery {
  view: TesView;
  namePrefix?: string;
  state?: TesState;
  tags: TagFilter[];
  pageSize: number;
  pageToken?: string;
}

const many = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** A parameter given once, or the last of several. */
const one = (value: string | string[] | undefined): string | undefined => many(value).at(-1);

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  errors: FieldError[],
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  errors.push({ field: name, reason: `must be one of ${allowed.join(', ')}` });
  return undefined;
}

export function parseView(query: RawQuery): TesView {
  const errors: FieldError[] = [];
  const view = oneOf('view', one(query.view), TES_VIEWS, errors);
  if (errors.length) throw new InvalidRequestException(errors);
  return view ?? 'MINIMAL';
}

/** The ListTasks parameters of TES 1.1, checked; anything wrong is a 400 naming the parameter. */
export function parseListQuery(query: RawQuery): ListQuery {
  const errors: FieldError[] = [];
  const view = oneOf('view', one(query.view), TES_VIEWS, errors) ?? 'MINIMAL';
  const state = oneOf('state', one(query.state), TES_STATES, errors);
  let pageSize = DEFAULT_PAGE_SIZE;
  const rawSize = one(query.page_size);
  if (rawSize !== undefined) {
    pageSize = Number(rawSize);
    if (!/^\d+$/.test(rawSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      errors.push({ field: 'page_size', reason: `must be an integer from 1 to ${MAX_PAGE_SIZE}` });
    }
  }
  // tag_key and tag_value are zipped; a key without a value matches any value.
  const keys = many(query.tag_key);
  const values = many(query.tag_value);
  if (values.length > keys.length)
    errors.push({ field: 'tag_value', reason: 'has more entries than tag_key' });
  if (keys.some((k) => k === '')) errors.push({ field: 'tag_key', reason: 'must not be empty' });
  if (errors.length) throw new InvalidRequestException(errors);
  const namePrefix = one(query.name_prefix);
  const pageToken = one(query.page_token);
  return {
    view,
    state,
    namePrefix: namePrefix || undefined,
    tags: keys.map((key, i) => ({ key, value: values[i] ?? '' })),
    pageSize,
    pageToken: pageToken || undefined,
  };
}
