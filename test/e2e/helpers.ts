import { join } from 'node:path';
import type { NodeStatus } from '@protes/distribution';
import type { TSchema } from '@sinclair/typebox';
import { connect as connectAmqp } from 'amqplib';
import {
  type ErrorResponse,
  ErrorResponseSchema,
  schemaValidator,
  TesCancelTaskResponseSchema,
  type TesCreateTaskResponse,
  TesCreateTaskResponseSchema,
  type TesListTasksResponse,
  TesListTasksResponseSchema,
  type TesServiceInfo,
  TesServiceInfoSchema,
  type TesState,
  type TesTask,
  type TesTaskRequest,
  TesTaskSchema,
  type TesView,
} from '@protes/tes';
import { nodesEnv, startSimulator, type Started, TRACKER_READY } from '../../scripts/processes';

/** Where the gateway (and every TES node) serves the TES API. */
export const TES_PATH = '/ga4gh/tes/v1';

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Called on timeout, to say what was last seen. */
  describe?: () => string;
}

/**
 * Polls `probe` until it gives a value other than undefined/null/false, and resolves with it.
 * Rejects once `timeoutMs` has passed; an error thrown by the probe ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10_000, intervalMs = 25, describe }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${describe()}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

export const TERMINAL: readonly TesState[] = [
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
];
export const isTerminalState = (state: TesState): boolean => TERMINAL.includes(state);

/** The gateway operations, named as in the TES OpenAPI document (plus the gateway's own). */
export type Operation =
  | 'CreateTask'
  | 'ListTasks'
  | 'GetTask'
  | 'CancelTask'
  | 'GetServiceInfo'
  | 'OpenApi'
  | 'Health'
  | 'ListNodes'
  | 'Unknown';

export function operationOf(method: string, pathname: string): Operation {
  if (pathname === '/health' || pathname === '/health/live') return 'Health';
  if (method === 'GET' && pathname === '/protes/v1/nodes') return 'ListNodes';
  if (!pathname.startsWith(`${TES_PATH}/`)) return 'Unknown';
  const rest = pathname.slice(TES_PATH.length);
  if (method === 'GET' && rest === '/service-info') return 'GetServiceInfo';
  if (method === 'GET' && rest === '/openapi.json') return 'OpenApi';
  if (rest === '/tasks') return method === 'POST' ? 'CreateTask' : 'ListTasks';
  if (method === 'POST' && /^\/tasks\/[^/]+:cancel$/.test(rest)) return 'CancelTask';
  if (method === 'GET' && /^\/tasks\/[^/]+$/.test(rest)) return 'GetTask';
  return 'Unknown';
}

/** The schema a 200 answer of each operation must match (none: checked by the test itself). */
const SUCCESS_SCHEMAS: Partial<Record<Operation, TSchema>> = {
  CreateTask: TesCreateTaskResponseSchema,
  ListTasks: TesListTasksResponseSchema,
  GetTask: TesTaskSchema,
  CancelTask: TesCancelTaskResponseSchema,
  GetServiceInfo: TesServiceInfoSchema,
};

export interface Answer<T = unknown> {
  status: number;
  body: T;
}

export interface CallOptions {
  /** A value sent as JSON. */
  json?: unknown;
  /** A body sent as it is (with `contentType`, application/json unless told). */
  raw?: string;
  contentType?: string;
}

export type Query = Record<string, string | number | readonly string[] | undefined>;

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls the gateway over HTTP and checks every answer against the gateway's own schemas, by
 * operation and status: a 200 against the operation's response schema, anything else against the
 * error body. A mismatch is recorded and thrown, with Ajv's errors.
 */
export class CheckedApi {
  readonly violations: string[] = [];
  /** How many answers were checked, per operation and status. */
  readonly checked = new Map<string, number>();

  constructor(public baseUrl: string) {}

  get tesUrl(): string {
    return `${this.baseUrl}${TES_PATH}`;
  }

  async call<T = unknown>(
    method: 'GET' | 'POST',
    path: string,
    options: CallOptions = {},
  ): Promise<Answer<T>> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.raw !== undefined) {
      body = options.raw;
      headers['content-type'] = options.contentType ?? 'application/json';
    }
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    const where = `${method} ${url.pathname}${url.search} → ${response.status}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.fail(`${where}: the body is not JSON: ${text.slice(0, 200)}`);
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.startsWith('application/json')) {
      this.fail(`${where}: content-type is "${contentType}", not application/json`);
    }
    this.check(method, url.pathname, response.status, parsed, where);
    return { status: response.status, body: parsed as T };
  }

  private check(
    method: string,
    pathname: string,
    status: number,
    body: unknown,
    where: string,
  ): void {
    const operation = operationOf(method, pathname);
    let schema: TSchema | undefined;
    if (status >= 400) schema = ErrorResponseSchema;
    else if (status === 200) schema = SUCCESS_SCHEMAS[operation];
    else this.fail(`${where}: unexpected status for ${operation}`);
    const key = `${operation} ${status}`;
    this.checked.set(key, (this.checked.get(key) ?? 0) + 1);
    if (!schema) {
      if (operation === 'Unknown') this.fail(`${where}: no schema for this operation`);
      return; // OpenApi, Health and ListNodes: the tests check their bodies themselves.
    }
    const validate = schemaValidator(schema);
    if (!validate(body)) {
      this.fail(
        `${where}: the body does not match the ${status === 200 ? operation : 'error'} schema: ${JSON.stringify(
          validate.errors,
        )}\nbody: ${JSON.stringify(body).slice(0, 2000)}`,
      );
    }
  }

  private fail(message: string): never {
    this.violations.push(message);
    throw new Error(message);
  }

  // Shorthands for the TES operations. Each expects the answer the test usually wants and says
  // what came instead; tests that expect an error use `call` directly.

  async create(task: TesTaskRequest | Record<string, unknown>): Promise<string> {
    const answer = await this.call<TesCreateTaskResponse>('POST', `${TES_PATH}/tasks`, {
      json: task,
    });
    expectStatus(answer, 200, 'CreateTask');
    return answer.body.id;
  }

  async get(id: string, view?: TesView): Promise<TesTask> {
    const answer = await this.call<TesTask>(
      'GET',
      `${TES_PATH}/tasks/${encodeURIComponent(id)}${queryString({ view })}`,
    );
    expectStatus(answer, 200, `GetTask ${id}`);
    return answer.body;
  }

  async list(query: Query = {}): Promise<TesListTasksResponse> {
    const answer = await this.call<TesListTasksResponse>(
      'GET',
      `${TES_PATH}/tasks${queryString(query)}`,
    );
    expectStatus(answer, 200, `ListTasks ${JSON.stringify(query)}`);
    return answer.body;
  }

  /** Every task matching `query`, walking all pages; fails on a task seen twice. */
  async listAll(query: Query = {}, pageSize = 2048): Promise<TesTask[]> {
    const tasks: TesTask[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const answer = await this.list({ ...query, page_size: pageSize, page_token: token });
      for (const task of answer.tasks) {
        if (seen.has(task.id)) throw new Error(`task ${task.id} was listed twice`);
        seen.add(task.id);
        tasks.push(task);
      }
      token = answer.next_page_token;
      if (!token) return tasks;
    }
    throw new Error('paging did not end');
  }

  async cancel(id: string): Promise<Answer<unknown>> {
    return this.call('POST', `${TES_PATH}/tasks/${encodeURIComponent(id)}:cancel`);
  }

  async serviceInfo(): Promise<TesServiceInfo> {
    const answer = await this.call<TesServiceInfo>('GET', `${TES_PATH}/service-info`);
    expectStatus(answer, 200, 'GetServiceInfo');
    return answer.body;
  }

  /** The nodes as proTES's own API shows them (`GET /protes/v1/nodes`). */
  async nodes(): Promise<NodeStatus[]> {
    const answer = await this.call<{ nodes: NodeStatus[] }>('GET', '/protes/v1/nodes');
    expectStatus(answer, 200, 'GET /protes/v1/nodes');
    return answer.body.nodes;
  }

  /** Waits until the task is in one of `states`; returns it in the FULL view. */
  async waitForState(
    id: string,
    states: TesState | readonly TesState[],
    timeoutMs = 10_000,
  ): Promise<TesTask> {
    const wanted: readonly TesState[] = typeof states === 'string' ? [states] : states;
    let last: TesState | undefined;
    await waitFor(
      `task ${id} to reach ${wanted.join('|')}`,
      async () => {
        last = (await this.get(id)).state;
        return wanted.includes(last);
      },
      { timeoutMs, describe: () => `last state ${last}` },
    );
    return this.get(id, 'FULL');
  }

  /**
   * Waits until a node took the task (POST answers before the task is forwarded: the outbox);
   * returns it in the FULL view.
   */
  placed(id: string, timeoutMs = 10_000): Promise<TesTask> {
    let last: TesTask | undefined;
    return waitFor(
      `task ${id} to be placed on a node`,
      async () => {
        last = await this.get(id, 'FULL');
        return metadataOf(last).protes_node ? last : undefined;
      },
      {
        timeoutMs,
        describe: () => `${last?.state}, attempts: ${last && metadataOf(last).protes_attempts}`,
      },
    );
  }

  /** Waits until every task in `ids` has ended; returns their FULL views by id. */
  async waitForAllEnded(ids: readonly string[], timeoutMs = 20_000): Promise<Map<string, TesTask>> {
    const pending = new Set(ids);
    await waitFor(
      `${ids.length} tasks to end`,
      async () => {
        for (const id of [...pending]) {
          if (isTerminalState((await this.get(id)).state)) pending.delete(id);
        }
        return pending.size === 0;
      },
      { timeoutMs, intervalMs: 50, describe: () => `${pending.size} still active` },
    );
    const ended = new Map<string, TesTask>();
    for (const id of ids) ended.set(id, await this.get(id, 'FULL'));
    return ended;
  }
}

export function expectStatus(answer: Answer<unknown>, status: number, what: string): void {
  if (answer.status !== status) {
    throw new Error(
      `${what}: expected HTTP ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`,
    );
  }
}

/** The 400 body, failing unless the answer is a 400 that names `field`. */
export function expectFieldError(answer: Answer<unknown>, field: string): ErrorResponse {
  expectStatus(answer, 400, `a request with a bad ${field}`);
  const body = answer.body as ErrorResponse;
  const fields = (body.errors ?? []).map((e) => e.field);
  if (!fields.includes(field) || !body.msg.includes(field)) {
    throw new Error(`expected the 400 to name ${field}, got ${JSON.stringify(body)}`);
  }
  return body;
}

/** A plain JSON call to a simulator (not the gateway: not schema-checked). */
export async function simCall<T = unknown>(
  url: string,
  method: 'GET' | 'POST' = 'GET',
  json?: unknown,
): Promise<Answer<T>> {
  const response = await fetch(url, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Whether something accepts TCP connections at the URL's origin. */
export async function accepting(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/** The last `lines` lines of a process's stderr, for failure messages. */
export const tail = (text: string, lines = 20): string => text.split('\n').slice(-lines).join('\n');

/** A valid task named `name`, tagged `e2e.run` with the suite's run id so filters see only it. */
export function runTask(
  run: string,
  name: string,
  tags: Record<string, string> = {},
): TesTaskRequest {
  return {
    name,
    executors: [{ image: 'alpine', command: ['echo', name] }],
    tags: { 'e2e.run': run, ...tags },
  };
}

/** The gateway's metadata on a task: in the last task log. */
export const metadataOf = (t: TesTask): Record<string, string> => t.logs?.at(-1)?.metadata ?? {};

export const systemLogsOf = (t: TesTask): string[] =>
  (t.logs ?? []).flatMap((l) => l.system_logs ?? []);

/**
 * Starts one simulator per name into `into` (so that afterAll stops even a partial set), then
 * throws the first start failure, if any.
 */
export async function startSimulators(
  names: readonly string[],
  args: string[],
  into: Map<string, Started>,
): Promise<void> {
  const started = await Promise.allSettled(names.map((name) => startSimulator({ name, args })));
  started.forEach((result, i) => {
    if (result.status === 'fulfilled') into.set(names[i], result.value);
  });
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * The last lines a process wrote to stderr, less Node's own warnings: the apps write only error
 * and fatal logs there, so a clean run gives ''.
 */
export function loggedErrors(process: Started): string {
  const errors = process
    .stderr()
    .split('\n')
    .filter(
      (line) =>
        line.trim() !== '' && !/^\(node:\d+\) \w*Warning|^\(Use `node --trace-warnings/.test(line),
    );
  return tail(errors.join('\n'));
}

/**
 * The environment of a gateway for an end-to-end suite: standalone on a SQLite file in `dir`, a
 * free port, `nodes` as PROTES_NODES, the tracker polling fast and a short forwarding timeout so
 * that the suite runs in seconds. `extra` adds or overrides variables.
 */
export function e2eGatewayEnv(
  dir: string,
  nodes: readonly object[],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
    PROTES_NODES: JSON.stringify(nodes),
    PROTES_TRACKER__MIN_POLL_MS: '50',
    PROTES_TRACKER__MAX_POLL_MS: '300',
    PROTES_FORWARDING__TIMEOUT_MS: '2000',
    PROTES_LOG__LEVEL: 'warn',
    ...extra,
  };
}

/** Prometheus text as series (`name{labels}`) and values. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const answer = await fetch(`${url}/metrics`);
  if (answer.status !== 200) throw new Error(`GET ${url}/metrics answered ${answer.status}`);
  const series = new Map<string, number>();
  for (const line of (await answer.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/** The sum of a metric's series whose labels include every `labels` pair. */
export function total(
  series: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const [key, value] of series) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    if (pairs.every((pair) => key.includes(pair))) sum += value;
  }
  return sum;
}

/** A tracker process's name in task leases, from the line it printed when ready. */
export function leaseOwnerOf(tracker: Started): string {
  const owner = / tracker (\S+) listening/.exec(tracker.readyLine)?.[1];
  if (!owner || !TRACKER_READY.test(tracker.readyLine)) {
    throw new Error(`no owner in the ready line ${tracker.readyLine}`);
  }
  return owner;
}

/** Every task a simulator holds, in the BASIC view (with tags), walking all pages. */
export async function simTasks(sim: Started): Promise<TesTask[]> {
  const tasks: TesTask[] = [];
  let token = '';
  do {
    const query = `view=BASIC&page_size=500${token ? `&page_token=${token}` : ''}`;
    const { status, body } = await simCall<{ tasks: TesTask[]; next_page_token?: string }>(
      `${sim.url}${TES_PATH}/tasks?${query}`,
    );
    expectStatus({ status, body }, 200, `listing the tasks of ${sim.url}`);
    tasks.push(...body.tasks);
    token = body.next_page_token ?? '';
  } while (token);
  return tasks;
}

/**
 * Where the nodes hold a copy of each gateway task (by the `protes_id` tag the gateway puts on
 * what it forwards): the node's name and the copy, once per copy. A task run once has one entry.
 */
export async function copiesOnNodes(
  sims: ReadonlyMap<string, Started>,
): Promise<Map<string, { node: string; task: TesTask }[]>> {
  const copies = new Map<string, { node: string; task: TesTask }[]>();
  for (const [node, sim] of sims) {
    for (const task of await simTasks(sim)) {
      const id = task.tags?.protes_id ?? `(no protes_id: ${task.id})`;
      copies.set(id, [...(copies.get(id) ?? []), { node, task }]);
    }
  }
  return copies;
}

/**
 * The environment of the gateway and trackers of a distributed-mode suite: the SQLite file in
 * `dir` they all share, the simulators as nodes, RabbitMQ at `bus.url` with the suite's own queue,
 * trackers polling fast. `extra` adds or overrides variables.
 */
export function distributedEnv(
  dir: string,
  sims: ReadonlyMap<string, Started>,
  bus: { url: string; queue: string },
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PROTES_CONFIG: '',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
    PROTES_NODES: nodesEnv([...sims].map(([name, sim]) => ({ name, url: sim.url }))),
    PROTES_BUS__DRIVER: 'rabbitmq',
    PROTES_BUS__URL: bus.url,
    PROTES_BUS__QUEUE: bus.queue,
    PROTES_TRACKER__MIN_POLL_MS: '100',
    PROTES_TRACKER__MAX_POLL_MS: '1000',
    PROTES_LOG__LEVEL: 'error',
    ...extra,
  };
}

/** The RabbitMQ the suites that need one use; without it they skip those tests and say so. */
export const AMQP_URL = process.env.TEST_AMQP_URL;

/** Deletes a suite's queue at the end; a failure is ignored (the queue is named after the run). */
export async function deleteQueue(url: string, queue: string): Promise<void> {
  try {
    const connection = await connectAmqp(url);
    await (await connection.createChannel()).deleteQueue(queue);
    await connection.close();
  } catch {
    // Durable and named after the run: nothing else uses it.
  }
}
