import { TES_STATES, TES_VIEWS, type TesState, type TesView } from './models';
import type { FieldError, Validation } from './validation';

export const DEFAULT_PAGE_SIZE = 256;
export const MAX_PAGE_SIZE = 2048;

/** One zipped `tag_key`/`tag_value` pair; an empty value matches any value of the key. */
export interface TagFilter {
  key: string;
  value: string;
}

/** The ListTasks parameters of TES 1.1, checked. */
export interface ListQuery {
  view: TesView;
  /** A literal prefix, never a pattern. */
  namePrefix?: string;
  state?: TesState;
  tags: TagFilter[];
  pageSize: number;
  pageToken?: string;
}

/** A query string as Fastify parses it: a repeated parameter is an array. */
export type RawQuery = Record<string, unknown>;

const many = (value: unknown): string[] => {
  const values: unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
};

/** A parameter given once, or the last of several. */
const one = (value: unknown): string | undefined => many(value).at(-1);

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  errors: FieldError[],
): T | undefined {
  if (value === undefined || value === '') return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  errors.push({ field: name, reason: `must be one of ${allowed.join(', ')}` });
  return undefined;
}

const result = <T>(value: T, errors: FieldError[]): Validation<T> =>
  errors.length ? { ok: false, errors } : { ok: true, value };

/** The `view` of GetTask and ListTasks; MINIMAL when absent, as the spec defaults it. */
export function parseView(query: RawQuery): Validation<TesView> {
  const errors: FieldError[] = [];
  const view = oneOf('view', one(query.view), TES_VIEWS, errors) ?? 'MINIMAL';
  return result(view, errors);
}

/** The ListTasks query as TES 1.1 defines it; each problem names its parameter. */
export function parseListQuery(query: RawQuery): Validation<ListQuery> {
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
  if (values.length > keys.length) {
    errors.push({ field: 'tag_value', reason: 'has more entries than tag_key' });
  }
  if (keys.some((k) => k === '')) errors.push({ field: 'tag_key', reason: 'must not be empty' });
  return result(
    {
      view,
      state,
      namePrefix: one(query.name_prefix) || undefined,
      tags: keys.map((key, i) => ({ key, value: values[i] ?? '' })),
      pageSize,
      pageToken: one(query.page_token) || undefined,
    },
    errors,
  );
}
