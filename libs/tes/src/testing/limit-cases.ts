/**
 * Task bodies for testing the request limits (request-limits.ts), shared by the unit spec and the
 * end-to-end test against a running gateway: per counted part, the field an error names, a body
 * with `n` of that part, and the unit the error speaks of.
 */
export const executor = (extra: Record<string, unknown> = {}) => ({
  image: 'alpine',
  command: ['true'],
  ...extra,
});
export const task = (extra: Record<string, unknown> = {}) => ({
  executors: [executor()],
  ...extra,
});
export const times = <T>(n: number, make: (i: number) => T): T[] =>
  Array.from({ length: n }, (_, i) => make(i));
export const entries = (n: number) => Object.fromEntries(times(n, (i) => [`k${i}`, 'v']));

/** The field each limit names in its error, keyed by the limit's configuration key. */
export type CountedPart =
  'executors' | 'inputs' | 'outputs' | 'volumes' | 'tags' | 'commandArgs' | 'envEntries';

export interface LimitCase {
  /** The limit's key in `tasks.limits`. */
  limit: CountedPart;
  /** The field the refusal names. */
  field: string;
  /** A task with `n` of the part. */
  make: (n: number) => Record<string, unknown>;
  /** `items` for lists, `entries` for maps. */
  unit: 'items' | 'entries';
}

export const LIMIT_CASES: readonly LimitCase[] = [
  {
    limit: 'executors',
    field: 'executors',
    make: (n) => task({ executors: times(n, () => executor()) }),
    unit: 'items',
  },
  {
    limit: 'inputs',
    field: 'inputs',
    make: (n) => task({ inputs: times(n, (i) => ({ path: `/in/${i}`, url: 's3://b/x' })) }),
    unit: 'items',
  },
  {
    limit: 'outputs',
    field: 'outputs',
    make: (n) => task({ outputs: times(n, (i) => ({ path: `/o/${i}`, url: 's3://b/y' })) }),
    unit: 'items',
  },
  {
    limit: 'volumes',
    field: 'volumes',
    make: (n) => task({ volumes: times(n, (i) => `/v${i}`) }),
    unit: 'items',
  },
  { limit: 'tags', field: 'tags', make: (n) => task({ tags: entries(n) }), unit: 'entries' },
  {
    limit: 'commandArgs',
    field: 'executors[0].command',
    make: (n) => task({ executors: [executor({ command: times(n, (i) => `a${i}`) })] }),
    unit: 'items',
  },
  {
    limit: 'envEntries',
    field: 'executors[0].env',
    make: (n) => task({ executors: [executor({ env: entries(n) })] }),
    unit: 'entries',
  },
];
