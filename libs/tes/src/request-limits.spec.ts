import type { TaskLimits } from './request-limits';
import { entries, executor, LIMIT_CASES, task, times } from './testing/limit-cases';
import { createTaskValidator, type FieldError } from './validation';

const LIMITS: TaskLimits = {
  executors: 3,
  inputs: 4,
  outputs: 4,
  volumes: 2,
  tags: 2,
  envEntries: 2,
  commandArgs: 3,
  stringLength: 1024,
};
const validate = createTaskValidator({ maxContentBytes: 128 * 1024, limits: LIMITS });

function errorsOf(body: unknown): FieldError[] {
  const result = validate(body);
  return result.ok ? [] : result.errors;
}

describe('request limits', () => {
  // Each part at its limit passes; one more is refused, naming the field and the limit.
  it.each(LIMIT_CASES.map((c) => [c.field, c] as const))(
    '%s: at most the limit',
    (field, { limit: key, make, unit }) => {
      const limit = LIMITS[key];
      expect(errorsOf(make(limit))).toEqual([]);
      expect(errorsOf(make(limit + 1))).toEqual([
        { field, reason: `must not have more than ${limit} ${unit}` },
      ]);
    },
  );

  it('counts the env and command of every executor', () => {
    const body = task({
      executors: [
        executor(),
        executor({ env: entries(3) }),
        executor({ command: times(4, String) }),
      ],
    });
    expect(errorsOf(body).map((e) => e.field)).toEqual([
      'executors[1].env',
      'executors[2].command',
    ]);
  });

  it('refuses a string or a key longer than the limit wherever it is, unknown fields too', () => {
    const long = 'x'.repeat(1025);
    expect(errorsOf(task({ name: 'x'.repeat(1024) }))).toEqual([]);
    expect(errorsOf(task({ executors: [executor({ image: long })] }))).toEqual([
      { field: 'executors[0].image', reason: 'must not be longer than 1024 characters' },
    ]);
    expect(errorsOf(task({ tags: { [long]: 'v' } }))).toEqual([
      { field: 'tags', reason: 'must not have a key longer than 1024 characters' },
    ]);
    expect(errorsOf(task({ extension: { deep: [long] } }))).toEqual([
      { field: 'extension.deep[0]', reason: 'must not be longer than 1024 characters' },
    ]);
  });

  it('leaves inline content to maxContentBytes', () => {
    const content = 'x'.repeat(64 * 1024);
    expect(errorsOf(task({ inputs: [{ path: '/in', content }] }))).toEqual([]);
    expect(errorsOf(task({ outputs: [{ path: '/o', url: 's3://b/o', content }] }))).toEqual([
      { field: 'outputs[0].content', reason: 'must not be longer than 1024 characters' },
    ]);
  });

  it('names a long key in a field path only by its beginning', () => {
    const key = 'k'.repeat(1000);
    const [error] = errorsOf(task({ extension: { [key]: 'x'.repeat(2000) } }));
    expect(error.field).toBe(`extension.${'k'.repeat(64)}…`);
  });

  it('reports ten errors at most, however many there are', () => {
    const long = 'x'.repeat(2000);
    const body = task({
      inputs: times(4, (i) => ({ path: `/${i}`, url: long, name: long, description: long })),
    });
    expect(errorsOf(body)).toHaveLength(10);
  });

  it('checks the limits before anything else reads the body', () => {
    // A value no later step could handle (structuredClone throws on a function): the limits
    // refuse the body before it is copied or validated.
    const body = task({ executors: times(4, () => executor()), hook: () => undefined });
    expect(errorsOf(body)).toEqual([
      { field: 'executors', reason: 'must not have more than 3 items' },
    ]);
  });

  it('leaves wrong types to the schema', () => {
    expect(errorsOf(task({ tags: 'not-a-map', volumes: 7 }))).toEqual([
      { field: 'volumes', reason: 'must be array' },
      { field: 'tags', reason: 'must be object' },
    ]);
  });
});

describe('resources', () => {
  it.each([
    ['cpu_cores', -1],
    ['ram_gb', -0.5],
    ['disk_gb', -1],
  ])('refuses a negative %s', (field, value) => {
    expect(errorsOf(task({ resources: { [field]: value } }))).toEqual([
      { field: `resources.${field}`, reason: 'must be >= 0' },
    ]);
  });

  it('accepts zero and positive amounts', () => {
    expect(errorsOf(task({ resources: { cpu_cores: 0, ram_gb: 0, disk_gb: 2.5 } }))).toEqual([]);
  });
});
