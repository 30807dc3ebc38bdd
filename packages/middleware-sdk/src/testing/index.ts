/**
 * A test kit for middlewares, for any test runner: it builds contexts as the gateway does, runs a
 * middleware under the chain's rules, and checks refusals. It throws plain Errors on a breach, so
 * a failed check reads the same under jest, vitest, mocha or `node:test`.
 *
 *   import { runMiddleware, expectRejection } from '@protes/middleware-sdk/testing';
 */
import type {
  Caller,
  NodeCandidate,
  NodeHealth,
  NodeMetadata,
  SettingsFiles,
  TaskContext,
  TaskMiddleware,
} from '../contract';
import { type MiddlewareRejection, SettingsError, type SettingsProblem } from '../errors';
import type { TesTaskRequest } from '../tes-task';
import {
  HTTP_CLIENT,
  type HttpClient,
  NODE_DIRECTORY,
  NODE_LOAD,
  type NodeDirectory,
  type NodeInfo,
  type NodeLoad,
  PROTES_CONFIG,
} from '../tokens';

/** Freezes `value` and everything in it, as the gateway does with what a middleware must not change. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** A healthy node of weight 1 without tasks, unless told otherwise. */
export function candidate(
  name: string,
  options: { metadata?: Partial<NodeMetadata>; health?: Partial<NodeHealth>; load?: number } = {},
): NodeCandidate {
  return {
    name,
    health: { healthy: true, ...options.health },
    metadata: { weight: 1, ...options.metadata },
    load: options.load ?? 0,
  };
}

/** A valid TES task (one executor running `true` in alpine), with `overrides`. */
export function taskRequest(overrides: Partial<TesTaskRequest> = {}): TesTaskRequest {
  return { executors: [{ image: 'alpine', command: ['true'] }], ...overrides };
}

export interface ContextOptions<P = unknown> {
  taskId?: string;
  /** The task as received; {@link taskRequest} by default. */
  task?: TesTaskRequest;
  /** Nodes, or names of default nodes ({@link candidate}); `a`, `b`, `c` by default. */
  candidates?: (NodeCandidate | string)[];
  caller?: Partial<Caller>;
  settings?: Record<string, unknown>;
  prepared?: P;
}

const toCandidate = (c: NodeCandidate | string): NodeCandidate =>
  typeof c === 'string' ? candidate(c) : structuredClone(c);

/**
 * A context as the chain hands it to a middleware: `received` and the candidates frozen, `task` a
 * copy the middleware may change, an anonymous caller by default.
 */
export function taskContext<P = unknown>(options: ContextOptions<P> = {}): TaskContext<P> {
  const task = options.task ?? taskRequest();
  return {
    taskId: options.taskId ?? 'task-1',
    received: deepFreeze(structuredClone(task)),
    task: structuredClone(task),
    caller: deepFreeze({ subject: 'anonymous', headers: {}, ...options.caller }),
    candidates: (options.candidates ?? ['a', 'b', 'c']).map(toCandidate).map(deepFreeze),
    settings: deepFreeze(structuredClone(options.settings ?? {})),
    prepared: options.prepared,
  };
}

/**
 * SettingsFiles over files held in memory, by path: what `prepare` reads through `files`. A path
 * not given rejects with a SettingsError naming the setting, as the gateway does for a file outside
 * `middleware.fileDirs` or one it cannot read.
 */
export function memoryFiles(files: Record<string, string | Uint8Array> = {}): SettingsFiles {
  return {
    read: (field, path) => {
      const content = Object.hasOwn(files, path) ? files[path] : undefined;
      if (content === undefined) {
        return Promise.reject(new SettingsError(field, `cannot be read (${path}: ENOENT)`));
      }
      return Promise.resolve(Buffer.from(content));
    },
  };
}

/**
 * What the gateway does when a chain naming the middleware with `settings` is set: `prepare` them
 * (when the middleware has `prepare`), with `files`. Rejects with what `prepare` throws (a
 * SettingsError for settings it cannot use). The settings' JSON Schema is not checked here: the
 * gateway compiles it with ajv; test `prepare` with settings that match it.
 */
export async function prepare<P>(
  middleware: TaskMiddleware<P>,
  settings: Record<string, unknown> = {},
  files: SettingsFiles = memoryFiles(),
): Promise<P | undefined> {
  return middleware.prepare?.(deepFreeze(structuredClone(settings)), files);
}

export interface RunOptions extends Omit<ContextOptions, 'prepared'> {
  /** What `prepare` may read; none by default. */
  files?: SettingsFiles;
}

export interface RunResult<P = unknown> {
  /** The context the middleware returned. */
  context: TaskContext<P>;
  /** The candidates' names after it, best first. */
  order: string[];
  /** The names of the candidates it removed. */
  removed: string[];
  /** What `prepare` made of the settings (undefined without `prepare`). */
  prepared: P | undefined;
}

/**
 * Runs `middleware` on one task as the chain would: prepares its settings, hands it a fresh context
 * ({@link taskContext}), and holds what it returns to the chain's rules: the candidates must be a
 * selection of those it was given (removed or reordered, none added or repeated), and the task
 * must still be a task (executors with an image and a command; the gateway checks the whole of
 * TES 1.1). A breach throws, as it counts as the middleware's failure in the gateway. A rejection
 * or failure of the middleware rejects with its error.
 */
export async function runMiddleware<P>(
  middleware: TaskMiddleware<P>,
  options: RunOptions = {},
): Promise<RunResult<P>> {
  const prepared = await prepare(middleware, options.settings, options.files);
  const given = taskContext<P>({ ...options, prepared });
  const before = [...given.candidates];
  const result: unknown = await middleware.handle(given);
  const context = checkResult(middleware.name, result, before);
  const order = context.candidates.map((c) => c.name);
  const removed = before.map((c) => c.name).filter((name) => !order.includes(name));
  return { context: context as TaskContext<P>, order, removed, prepared };
}

function checkResult(name: string, result: unknown, before: NodeCandidate[]): TaskContext {
  const { task, candidates } = (result ?? {}) as Partial<TaskContext>;
  const known = new Set(before.map((c) => c.name));
  const names = Array.isArray(candidates)
    ? candidates.map((c: NodeCandidate | undefined) => c?.name ?? '')
    : undefined;
  if (!names || names.some((n) => !known.has(n)) || new Set(names).size !== names.length) {
    throw new Error(
      `${name} returned candidates that are not a selection of the ones it was given: ${JSON.stringify(names)}`,
    );
  }
  const executors = (task as Partial<TesTaskRequest> | undefined)?.executors;
  const valid =
    Array.isArray(executors) &&
    executors.length > 0 &&
    executors.every(
      (e) =>
        typeof e?.image === 'string' &&
        Array.isArray(e.command) &&
        e.command.length > 0 &&
        e.command.every((part) => typeof part === 'string'),
    );
  if (!valid) throw new Error(`${name} rewrote the task into one that is not a valid TES task`);
  return result as TaskContext;
}

/** What is expected of a rejection; each given part must match. */
export interface ExpectedRejection {
  /** The status the client gets (the gateway's reading: a 4xx or 503 as given, else 400). */
  status?: number;
  message?: string | RegExp;
  field?: string;
}

/** Runs `action` (a promise, or a function that may throw or return one) and returns its error. */
async function failureOf(action: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    return error;
  }
  throw new Error('expected it to throw, but it did not');
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Checks that `action` refuses the task the way the gateway recognises a refusal (an error named
 * `MiddlewareRejection`), with what `expected` names, and returns the rejection.
 */
export async function expectRejection(
  action: Promise<unknown> | (() => unknown),
  expected: ExpectedRejection = {},
): Promise<MiddlewareRejection> {
  const error = await failureOf(action);
  if ((error as Error | undefined)?.name !== 'MiddlewareRejection') {
    throw new Error(`expected a MiddlewareRejection, got ${describeError(error)}`, {
      cause: error,
    });
  }
  const rejection = error as MiddlewareRejection;
  const { status } = rejection;
  const effective =
    Number.isInteger(status) && ((status >= 400 && status < 500) || status === 503) ? status : 400;
  const problems: string[] = [];
  if (expected.status !== undefined && effective !== expected.status) {
    problems.push(`status ${effective}, expected ${expected.status}`);
  }
  const { message } = expected;
  if (
    message !== undefined &&
    (typeof message === 'string' ? rejection.message !== message : !message.test(rejection.message))
  ) {
    problems.push(`message ${JSON.stringify(rejection.message)}, expected ${String(message)}`);
  }
  if (expected.field !== undefined && rejection.field !== expected.field) {
    problems.push(`field ${String(rejection.field)}, expected ${expected.field}`);
  }
  if (problems.length) throw new Error(`the rejection has ${problems.join('; ')}`);
  return rejection;
}

/**
 * Checks that `action` (typically {@link prepare}) refuses settings the way the gateway recognises
 * (an error named `SettingsError` with `errors`), naming exactly `fields` when given, and returns
 * the problems it names.
 */
export async function expectSettingsError(
  action: Promise<unknown> | (() => unknown),
  fields?: string[],
): Promise<SettingsProblem[]> {
  const error = await failureOf(action);
  const { name, errors } = (error ?? {}) as { name?: unknown; errors?: unknown };
  if (name !== 'SettingsError' || !Array.isArray(errors)) {
    throw new Error(`expected a SettingsError, got ${describeError(error)}`, { cause: error });
  }
  const problems = errors as SettingsProblem[];
  const named = problems.map((p) => p.field).sort();
  if (fields && JSON.stringify(named) !== JSON.stringify([...fields].sort())) {
    throw new Error(
      `the SettingsError names ${JSON.stringify(named)}, expected ${JSON.stringify(fields)}`,
    );
  }
  return problems;
}

export interface TestPortsOptions {
  /** What PROTES_CONFIG gives ({} by default). */
  config?: Record<string, unknown>;
  /** The nodes NODE_DIRECTORY and NODE_LOAD show (available unless said otherwise). */
  nodes?: (Partial<NodeInfo> & { name: string })[];
  /** What HTTP_CLIENT gives; by default a client that rejects every call. */
  http?: HttpClient;
}

/** A Nest value provider (this package does not depend on Nest at runtime). */
export interface TestProvider {
  provide: symbol;
  useValue: unknown;
}

/**
 * Providers of the tokens the gateway gives plugins, over fixed values, for a Nest testing module
 * (`Test.createTestingModule({ providers: [MyMiddleware, ...testPorts({ nodes })] })`).
 */
export function testPorts(options: TestPortsOptions = {}): TestProvider[] {
  const nodes: NodeInfo[] = (options.nodes ?? []).map(
    ({ name, available = true, health, metadata, load }) =>
      deepFreeze({ ...candidate(name, { health, metadata, load }), available }),
  );
  const directory: NodeDirectory = {
    list: () => Promise.resolve(structuredClone(nodes)),
    get: (name) => Promise.resolve(structuredClone(nodes.find((n) => n.name === name))),
  };
  const load: NodeLoad = {
    all: () => Promise.resolve(new Map(nodes.map((n) => [n.name, n.load]))),
    of: (name) => Promise.resolve(nodes.find((n) => n.name === name)?.load ?? 0),
  };
  const http: HttpClient = options.http ?? {
    request: ({ url }) =>
      Promise.reject(new Error(`no HTTP in this test (testPorts without http): ${url}`)),
  };
  return [
    { provide: PROTES_CONFIG, useValue: deepFreeze(structuredClone(options.config ?? {})) },
    { provide: NODE_DIRECTORY, useValue: directory },
    { provide: NODE_LOAD, useValue: load },
    { provide: HTTP_CLIENT, useValue: http },
  ];
}
