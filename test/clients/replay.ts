import { type HeaderList, jsonOf, type RawResponse, sendRaw } from './raw-http';
import {
  readCancelTaskResponse,
  readCreateTaskResponse,
  readListTasksResponse,
  readServiceInfo,
  readTask,
  TERMINAL_STATES,
  type TesListTasksResponse,
  type TesServiceInfo,
  type TesState,
  type TesTask,
  type View,
} from './strict-models';
import { goValuesEncode, gsonJson, javaEscape, pythonJsonDumps, pythonUrlencode } from './wire';

/**
 * The clients, replayed: each sends the request line, headers and body its code sends (the source
 * is named on each), and reads the answer as that client does. Every 2xx body goes through the
 * strict readers; an error status is raised as the client raises it (ClientError).
 */

export const TES_BASE = '/ga4gh/tes/v1';

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** What a client raises on an error answer, with the exchange for the failure message. */
export class ClientError extends Error {
  constructor(
    readonly client: string,
    message: string,
    readonly response?: RawResponse,
  ) {
    super(
      `${client}: ${message}${
        response
          ? `\n--- request\n${response.sent}--- answer HTTP ${response.status}\n${response.body.slice(0, 1500)}`
          : ''
      }`,
    );
    this.name = 'ClientError';
  }
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Reads a body with a strict reader; a failure names the client and shows the exchange. */
function strictly<T>(client: string, response: RawResponse, read: (body: unknown) => T): T {
  try {
    return read(jsonOf(response));
  } catch (error) {
    throw new ClientError(client, `cannot read the answer: ${(error as Error).message}`, response);
  }
}

// ---- py-tes ------------------------------------------------------------------------------------

export interface PyTesAuth {
  user?: string;
  password?: string;
  token?: string;
}

export interface Probe {
  target: string;
  status: number;
}

/**
 * py-tes's HTTPClient (tes/client.py in ohsu-comp-bio/py-tes), as Snakemake's and cwl-tes's TES
 * backends use it.
 *
 * - Every call tries `<url>/ga4gh/tes/v1`, then `<url>/v1`, then `<url>` (`append_suffixes_to_url`),
 *   moving on only after a 404 (`send_request`); any other error status is raised at once.
 * - `_request_params` puts `Content-type: application/json` on every request, GETs and the
 *   bodyless cancel included; requests adds `Content-Length: 0` to a POST without data.
 * - A token becomes `Authorization: Bearer …`; user and password are passed as requests' `auth`,
 *   whose Basic header replaces the Bearer one when both are configured.
 * - Bodies are `json.dumps` of the attrs model with `None`s dropped; answers go through
 *   `unmarshal` into attrs classes that refuse unknown keys (UnmarshalError).
 */
export class PyTes {
  static readonly BASES = [TES_BASE, '/v1', ''];
  /** What the last call tried, in order, with the status each got. */
  lastProbes: Probe[] = [];

  constructor(
    readonly url: string,
    readonly auth: PyTesAuth = {},
  ) {}

  private headers(hasBody: boolean, method: string): HeaderList {
    const headers: HeaderList = [
      ['User-Agent', 'python-requests/2.32.3'],
      ['Accept-Encoding', 'gzip, deflate'],
      ['Accept', '*/*'],
      ['Connection', 'keep-alive'],
      ['Content-type', 'application/json'],
    ];
    if (this.auth.token) headers.push(['Authorization', `Bearer ${this.auth.token}`]);
    if (!hasBody && method === 'POST') headers.push(['Content-Length', '0']);
    if (this.auth.user !== undefined && this.auth.password !== undefined) {
      const basicHeader = basic(this.auth.user, this.auth.password);
      const at = headers.findIndex(([name]) => name === 'Authorization');
      if (at >= 0) headers[at] = ['Authorization', basicHeader];
      else headers.push(['Authorization', basicHeader]);
    }
    return headers;
  }

  /** `send_request`: the first answer that is not a 404; an error status is raised. */
  async send(
    method: 'GET' | 'POST',
    suffixes: string[],
    options: { query?: string; body?: string } = {},
  ): Promise<RawResponse> {
    this.lastProbes = [];
    let last: RawResponse | undefined;
    for (const base of PyTes.BASES) {
      for (const suffix of suffixes) {
        const target = `${base}/${suffix.replace(/^\/+|\/+$/g, '')}`.replace(/\/+$/, '') || '/';
        last = await sendRaw(this.url, {
          method,
          target: `${target}${options.query ?? ''}`,
          headers: this.headers(options.body !== undefined, method),
          body: options.body,
        });
        this.lastProbes.push({ target: `${target}${options.query ?? ''}`, status: last.status });
        if (last.status !== 404) {
          if (last.status >= 400) {
            throw new ClientError('py-tes', `HTTPError ${last.status}`, last);
          }
          return last;
        }
      }
    }
    throw new ClientError('py-tes', 'HTTPError 404 on every base path', last);
  }

  async getServiceInfo(): Promise<TesServiceInfo> {
    const response = await this.send('GET', ['service-info', 'tasks/service-info']);
    return strictly('py-tes', response, (body) => readServiceInfo(body));
  }

  async createTask(task: Record<string, unknown>): Promise<string> {
    const response = await this.send('POST', ['tasks'], { body: pythonJsonDumps(task) });
    return strictly('py-tes', response, (body) => readCreateTaskResponse(body)).id;
  }

  /** `get_task(task_id, view="BASIC")`. */
  async getTask(id: string, view: View = 'BASIC'): Promise<TesTask> {
    const response = await this.send('GET', [`tasks/${id}`], { query: pythonUrlencode({ view }) });
    return strictly('py-tes', response, (body) => readTask(body, 'tesTask', view));
  }

  /** `cancel_task`: py-tes does not read the answer's body; the answer is returned for checks. */
  async cancelTask(id: string): Promise<RawResponse> {
    return this.send('POST', [`tasks/${id}:cancel`]);
  }

  /** `list_tasks(view="MINIMAL", page_size, page_token)` plus ListTasksRequest's `name_prefix`. */
  async listTasks(
    options: { view?: View; page_size?: number; page_token?: string; name_prefix?: string } = {},
  ): Promise<TesListTasksResponse> {
    const view = options.view ?? 'MINIMAL';
    // ListTasksRequest's attribute order: project, name_prefix, page_size, page_token, view.
    const query = pythonUrlencode({
      name_prefix: options.name_prefix,
      page_size: options.page_size,
      page_token: options.page_token,
      view,
    });
    const response = await this.send('GET', ['tasks'], { query });
    return strictly('py-tes', response, (body) =>
      readListTasksResponse(body, 'tesListTasksResponse', view),
    );
  }

  /**
   * `wait`: MINIMAL until the state is none of QUEUED, RUNNING, INITIALIZING (py-tes polls every
   * 0.5 s; faster here to keep the suite short).
   */
  async wait(id: string, timeoutMs = 15_000, intervalMs = 100): Promise<TesTask> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.getTask(id, 'MINIMAL');
      if (!['QUEUED', 'RUNNING', 'INITIALIZING'].includes(task.state ?? '')) return task;
      if (Date.now() > deadline) {
        throw new ClientError('py-tes', `TimeoutError: task ${id} still ${task.state}`);
      }
      await sleep(intervalMs);
    }
  }
}

// ---- Snakemake ---------------------------------------------------------------------------------

export type SnakemakeJobState = 'running' | 'success' | 'error';

/**
 * snakemake-executor-plugin-tes (snakemake_executor_plugin_tes/__init__.py) on py-tes:
 * `check_active_jobs` reads each job with `get_task(id, view="MINIMAL")`; UNKNOWN, INITIALIZING,
 * QUEUED, RUNNING and PAUSED are "still running", EXECUTOR_ERROR, SYSTEM_ERROR and CANCELED an
 * error, COMPLETE a success. Any other state matches none of these and the job is dropped without a
 * word, which the replay reports as the failure it is for the user.
 */
export class SnakemakeTes {
  static readonly UNFINISHED: readonly string[] = [
    'UNKNOWN',
    'INITIALIZING',
    'QUEUED',
    'RUNNING',
    'PAUSED',
  ];
  static readonly ERROR: readonly string[] = ['EXECUTOR_ERROR', 'SYSTEM_ERROR', 'CANCELED'];

  constructor(readonly tes: PyTes) {}

  runJob(task: Record<string, unknown>): Promise<string> {
    return this.tes.createTask(task);
  }

  async checkActiveJob(id: string): Promise<SnakemakeJobState> {
    const state = (await this.tes.getTask(id, 'MINIMAL')).state ?? '';
    if (SnakemakeTes.UNFINISHED.includes(state)) return 'running';
    if (SnakemakeTes.ERROR.includes(state)) return 'error';
    if (state === 'COMPLETE') return 'success';
    throw new ClientError(
      'snakemake',
      `task ${id} is ${state}: Snakemake neither waits for nor reports a job in this state`,
    );
  }

  /** Polls as the executor does (every 2 s there; faster here) until the job leaves "running". */
  async waitForJob(id: string, timeoutMs = 15_000): Promise<SnakemakeJobState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.checkActiveJob(id);
      if (state !== 'running') return state;
      if (Date.now() > deadline) throw new ClientError('snakemake', `job ${id} still running`);
      await sleep(100);
    }
  }

  /** `cancel_jobs` (Ctrl-C): py-tes's bodyless cancel for each active job. */
  cancelJob(id: string): Promise<RawResponse> {
    return this.tes.cancelTask(id);
  }
}

// ---- cwl-tes -----------------------------------------------------------------------------------

/**
 * cwl-tes (cwl_tes/tes.py, `TESTask.run` and `is_done`) on py-tes with a Bearer token: MINIMAL
 * polls until COMPLETE, CANCELED, EXECUTOR_ERROR or SYSTEM_ERROR; on any end but COMPLETE one FULL
 * read, and the exit code from the last task log's last executor log.
 */
export class CwlTes {
  constructor(readonly tes: PyTes) {}

  submit(task: Record<string, unknown>): Promise<string> {
    return this.tes.createTask(task);
  }

  async run(id: string, timeoutMs = 15_000): Promise<{ state: TesState; exitCode?: number }> {
    const terminal = ['COMPLETE', 'CANCELED', 'EXECUTOR_ERROR', 'SYSTEM_ERROR'];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await this.tes.getTask(id, 'MINIMAL')).state ?? 'UNKNOWN';
      if (terminal.includes(state)) {
        if (state === 'COMPLETE') return { state };
        const logs = (await this.tes.getTask(id, 'FULL')).logs ?? [];
        return { state, exitCode: logs.at(-1)?.logs.at(-1)?.exit_code };
      }
      if (Date.now() > deadline) throw new ClientError('cwl-tes', `task ${id} still ${state}`);
      await sleep(100);
    }
  }
}

// ---- Nextflow ----------------------------------------------------------------------------------

export interface NextflowAuth {
  basic?: { username: string; password: string };
  oauthToken?: string;
  /** `tes.apiKeyParamName` / `tes.apiKey` with the default `apiKeyParamMode = 'query'`. */
  apiKey?: { name: string; key: string };
}

/**
 * Nextflow's TES executor (nf-ga4gh): TesTaskHandler.groovy on the swagger-codegen Java client
 * (TaskServiceApi.java, ApiClient.java; OkHttp 2 and Gson).
 *
 * - `tes.endpoint` is the base path; the generated paths are `/v1/tasks`, `/v1/tasks/{id}` and
 *   `/v1/tasks/{id}:cancel`, so an endpoint of `http://host/ga4gh/tes` reaches the TES API.
 * - Every call sends `Accept: application/json` and `Content-Type: application/json`, GETs too;
 *   a body (the task, or the empty one of cancel) is an OkHttp string body, whose content type
 *   gains `; charset=utf-8`. The generated client applies every configured authentication: Basic
 *   and Bearer both write `Authorization` (one wins), an API key goes into the query string.
 * - Polling is `getTask(id, null)` (no `view`: the server's default), then one `view=FULL` read for
 *   the exit status once the state is COMPLETE, EXECUTOR_ERROR, SYSTEM_ERROR or CANCELED.
 */
export class NextflowTes {
  static readonly COMPLETE_STATUSES: readonly string[] = [
    'COMPLETE',
    'EXECUTOR_ERROR',
    'SYSTEM_ERROR',
    'CANCELED',
  ];

  constructor(
    readonly endpoint: string,
    readonly auth: NextflowAuth = {},
  ) {}

  private get basePath(): string {
    return new URL(this.endpoint).pathname.replace(/\/$/, '');
  }

  private query(params: [string, string][]): string {
    const all = [...params];
    if (this.auth.apiKey) all.push([this.auth.apiKey.name, this.auth.apiKey.key]);
    return all.length
      ? `?${all.map(([k, v]) => `${javaEscape(k)}=${javaEscape(v)}`).join('&')}`
      : '';
  }

  private headers(body: string | undefined): HeaderList {
    const headers: HeaderList = [
      ['Accept', 'application/json'],
      ['Content-Type', body === undefined ? 'application/json' : 'application/json; charset=utf-8'],
    ];
    if (this.auth.basic) {
      headers.push(['Authorization', basic(this.auth.basic.username, this.auth.basic.password)]);
    }
    if (this.auth.oauthToken) {
      const bearer = `Bearer ${this.auth.oauthToken}`;
      const at = headers.findIndex(([name]) => name === 'Authorization');
      if (at >= 0) headers[at] = ['Authorization', bearer];
      else headers.push(['Authorization', bearer]);
    }
    headers.push(['User-Agent', 'Swagger-Codegen/1.0.0/java']);
    if (body !== undefined) headers.push(['Content-Length', String(Buffer.byteLength(body))]);
    headers.push(['Connection', 'Keep-Alive'], ['Accept-Encoding', 'gzip']);
    return headers;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: string): Promise<RawResponse> {
    const response = await sendRaw(this.endpoint, {
      method,
      target: `${this.basePath}${path}`,
      headers: this.headers(body),
      body,
    });
    if (response.status < 200 || response.status >= 300) {
      throw new ClientError('nextflow', `ApiException ${response.status}`, response);
    }
    return response;
  }

  async createTask(task: Record<string, unknown>): Promise<string> {
    const response = await this.call('POST', `/v1/tasks${this.query([])}`, gsonJson(task));
    return strictly('nextflow', response, (body) => readCreateTaskResponse(body)).id;
  }

  /** `getTask(id, view)`; with no view, the answer is read as the spec's default, MINIMAL. */
  async getTask(id: string, view: View | null): Promise<TesTask> {
    const params: [string, string][] = view ? [['view', view]] : [];
    const response = await this.call('GET', `/v1/tasks/${javaEscape(id)}${this.query(params)}`);
    return strictly('nextflow', response, (body) => readTask(body, 'tesTask', view ?? 'MINIMAL'));
  }

  /** `cancelTask(id)`: a POST with an empty string body. */
  async cancelTask(id: string): Promise<RawResponse> {
    const response = await this.call(
      'POST',
      `/v1/tasks/${javaEscape(id)}:cancel${this.query([])}`,
      '',
    );
    strictly('nextflow', response, (body) => readCancelTaskResponse(body));
    return response;
  }

  /** `checkIfCompleted` until the state is one of COMPLETE_STATUSES (no view). */
  async waitForCompletion(id: string, timeoutMs = 15_000): Promise<TesState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await this.getTask(id, null)).state ?? 'UNKNOWN';
      if (NextflowTes.COMPLETE_STATUSES.includes(state)) return state;
      if (Date.now() > deadline) throw new ClientError('nextflow', `task ${id} still ${state}`);
      await sleep(100);
    }
  }

  /**
   * `readExitStatus`: 0 for COMPLETE; otherwise the FULL view's `logs[0].logs[0]`, whose
   * `exit_code` counts for EXECUTOR_ERROR (1 for the other failures); anything missing or
   * unreadable gives Integer.MAX_VALUE, which Nextflow reports as a failed task.
   */
  async readExitStatus(id: string): Promise<number> {
    try {
      const task = await this.getTask(id, 'FULL');
      if (task.state === 'COMPLETE') return 0;
      const executorLog = task.logs?.[0]?.logs?.[0];
      if (!executorLog) throw new Error('no logs[0].logs[0]');
      if (task.state === 'EXECUTOR_ERROR') {
        if (typeof executorLog.exit_code !== 'number') throw new Error('no exit_code');
        return executorLog.exit_code;
      }
      return 1;
    } catch {
      return 2 ** 31 - 1;
    }
  }
}

// ---- Funnel's CLI ------------------------------------------------------------------------------

/**
 * `funnel task create/get/list/cancel` (cmd/task/*.go on tes/client.go in ohsu-comp-bio/funnel):
 * Go's net/http and protojson.
 *
 * - `NewClient` keeps only the scheme and host of `--server`: a path given there is dropped, and
 *   every call goes to `/v1/…` (Funnel's own server also routes `/v1/tasks`).
 * - `SetBasicAuth(FUNNEL_SERVER_USER, FUNNEL_SERVER_PASSWORD)` on every request, so with neither set
 *   it sends `Authorization: Basic Og==` (an empty user and password).
 * - Create and cancel send `Content-Type: application/json`; cancel has no body (Go writes
 *   `Content-Length: 0`); GETs have no content type.
 * - `get` asks `?view=FULL` by default, `list` `view=BASIC`, with `page_size` and `page_token` only
 *   when set, `name_prefix`, `state` and `tag_key`/`tag_value` pairs, all through url.Values
 *   (keys sorted).
 * - Answers go through protojson.Unmarshal, which refuses unknown fields and enum names it does not
 *   know; a cancel answer must be a JSON object.
 */
export class FunnelCli {
  constructor(
    readonly server: string,
    /** `/v1` as Funnel sends; set to test the other behaviours at the TES base path. */
    readonly prefix = '/v1',
    readonly credentials: { user: string; password: string } = { user: '', password: '' },
  ) {}

  private headers(body: string | undefined, contentType: boolean): HeaderList {
    const headers: HeaderList = [['User-Agent', 'Go-http-client/1.1']];
    if (body !== undefined) headers.push(['Content-Length', String(Buffer.byteLength(body))]);
    headers.push(['Authorization', basic(this.credentials.user, this.credentials.password)]);
    if (contentType) headers.push(['Content-Type', 'application/json']);
    headers.push(['Accept-Encoding', 'gzip']);
    return headers;
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    body?: string,
    contentType = false,
  ): Promise<RawResponse> {
    const response = await sendRaw(this.server, {
      method,
      target: `${this.prefix}${path}`,
      headers: this.headers(body, contentType),
      body,
    });
    // util.CheckHTTPResponse: anything but 2xx is an error carrying the body.
    if (response.status < 200 || response.status >= 300) {
      throw new ClientError('funnel', `[STATUS CODE - ${response.status}]`, response);
    }
    return response;
  }

  async create(task: Record<string, unknown>): Promise<string> {
    const response = await this.call('POST', '/tasks', JSON.stringify(task), true);
    return strictly('funnel', response, (body) => readCreateTaskResponse(body)).id;
  }

  async get(id: string, view: View = 'FULL'): Promise<TesTask> {
    const response = await this.call('GET', `/tasks/${id}?view=${view}`);
    return strictly('funnel', response, (body) => readTask(body, 'tesTask', view));
  }

  async list(
    options: {
      view?: View;
      pageSize?: number;
      pageToken?: string;
      namePrefix?: string;
      state?: TesState;
      tags?: [string, string][];
    } = {},
  ): Promise<TesListTasksResponse> {
    const view = options.view ?? 'BASIC';
    const values: [string, string][] = [];
    if (options.pageSize) values.push(['page_size', String(options.pageSize)]);
    if (options.pageToken) values.push(['page_token', options.pageToken]);
    values.push(['view', view]);
    if (options.namePrefix) values.push(['name_prefix', options.namePrefix]);
    if (options.state) values.push(['state', options.state]);
    for (const [key, value] of options.tags ?? []) {
      values.push(['tag_key', key], ['tag_value', value]);
    }
    const response = await this.call('GET', `/tasks?${goValuesEncode(values)}`);
    return strictly('funnel', response, (body) =>
      readListTasksResponse(body, 'tesListTasksResponse', view),
    );
  }

  async cancel(id: string): Promise<RawResponse> {
    const response = await this.call('POST', `/tasks/${id}:cancel`, '', true);
    strictly('funnel', response, (body) => readCancelTaskResponse(body));
    return response;
  }

  async serviceInfo(): Promise<TesServiceInfo> {
    const response = await this.call('GET', '/service-info');
    return strictly('funnel', response, (body) => readServiceInfo(body));
  }
}

export const isTerminal = (state: TesState | undefined): boolean =>
  state !== undefined && TERMINAL_STATES.includes(state);
