import type { HttpService } from '@nestjs/axios';
import { isAxiosError } from 'axios';
import {
  TES_STATES,
  type TesCreateTaskResponse,
  type TesListTasksResponse,
  type TesServiceInfo,
  type TesTask,
  type TesTaskRequest,
  type TesView,
} from './models';

/** How a call to a TES node failed; all but `rejected` mean "try elsewhere or later". */
export type TesNodeFailure = 'unreachable' | 'timeout' | 'server' | 'rejected' | 'not-found';

export class TesNodeError extends Error {
  constructor(
    readonly node: string,
    readonly kind: TesNodeFailure,
    message: string,
    readonly status?: number,
    /** The network error's code when the node could not be reached (ECONNREFUSED, ...). */
    readonly code?: string,
  ) {
    super(`${node}: ${message}`);
  }

  /** Connection errors, timeouts and 5xx: the node may work later, another node may work now. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout' || this.kind === 'server';
  }
}

export interface TesNodeTarget {
  name: string;
  /** Base URL of the node's TES API, e.g. http://host:8000/ga4gh/tes/v1 */
  url: string;
  credentials?: { bearer?: string; username?: string; password?: string };
}

export interface ListOptions {
  view?: TesView;
  pageSize?: number;
  pageToken?: string;
  namePrefix?: string;
  state?: string;
  /** Tasks that carry this tag key (any value, unless `tagValue` is given). */
  tagKey?: string;
  /** With `tagKey`: only tasks whose tag has this value. */
  tagValue?: string;
}

const BODY_EXCERPT = 300;

/** The axios instance @nestjs/axios provides (typed through it: axios ships ESM and CJS types). */
type Http = HttpService['axiosRef'];
type Request = Parameters<Http['request']>[0];

/** Checks of 2xx answers: a proxy's HTML page or an answer without an id is not a TES answer. */
const isObject = (data: unknown): data is Record<string, unknown> =>
  typeof data === 'object' && data !== null && !Array.isArray(data);
const hasId = (data: unknown) => isObject(data) && typeof data.id === 'string' && data.id !== '';
/** The non-empty strings of a list; undefined for anything that is no list. */
const stringList = (value: unknown): string[] | undefined =>
  Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string' && v !== '')
    : undefined;
/** TES: a missing state means UNKNOWN (protobuf-based servers omit it). */
const hasState = (data: unknown) =>
  isObject(data) &&
  (data.state === undefined || (TES_STATES as readonly unknown[]).includes(data.state));

/** A thin TES 1.1 client for one node, over a shared axios instance (from @nestjs/axios). */
export class TesNodeClient {
  constructor(
    private readonly http: Http,
    readonly target: TesNodeTarget,
    private readonly timeoutMs: number,
  ) {}

  createTask(task: TesTaskRequest): Promise<TesCreateTaskResponse> {
    return this.call<TesCreateTaskResponse>(
      { method: 'POST', url: '/tasks', data: task },
      hasId,
      'an id',
    );
  }

  async getTask(id: string, view: TesView = 'FULL'): Promise<TesTask> {
    const task = await this.call<TesTask>(
      { method: 'GET', url: `/tasks/${encodeURIComponent(id)}`, params: { view } },
      hasState,
      'a TES state',
    );
    return { ...task, state: task.state ?? 'UNKNOWN' };
  }

  listTasks(options: ListOptions = {}): Promise<TesListTasksResponse> {
    const params = {
      view: options.view,
      page_size: options.pageSize,
      page_token: options.pageToken,
      name_prefix: options.namePrefix,
      state: options.state,
      tag_key: options.tagKey,
      tag_value: options.tagValue,
    };
    return this.call<TesListTasksResponse>({
      method: 'GET',
      url: '/tasks',
      params,
      // TES repeats a parameter (`tag_key=a&tag_key=b`), never `tag_key[]=a`.
      paramsSerializer: { indexes: null },
    });
  }

  async cancelTask(id: string): Promise<void> {
    await this.call({ method: 'POST', url: `/tasks/${encodeURIComponent(id)}:cancel`, data: {} });
  }

  /**
   * The node's service-info. An answer that is not a JSON object is no TES answer; `storage` and
   * `tesResources_backend_parameters` are kept only as lists of non-empty strings (other entries
   * are left out; a field that is no list is dropped), so callers can rely on their type.
   */
  async serviceInfo(): Promise<TesServiceInfo> {
    const info = await this.call<TesServiceInfo>(
      { method: 'GET', url: '/service-info' },
      isObject,
      'a service-info object',
    );
    const { storage, tesResources_backend_parameters: params, ...rest } = info;
    const storageList = stringList(storage);
    const paramsList = stringList(params);
    return {
      ...rest,
      ...(storageList && { storage: storageList }),
      ...(paramsList && { tesResources_backend_parameters: paramsList }),
    };
  }

  private headers(): Record<string, string> {
    const c = this.target.credentials;
    if (c?.bearer) return { authorization: `Bearer ${c.bearer}` };
    if (c?.username !== undefined) {
      return {
        authorization: `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`,
      };
    }
    return {};
  }

  private async call<T>(
    request: Request,
    valid: (data: unknown) => boolean = () => true,
    expected = '',
  ): Promise<T> {
    let data: T;
    try {
      const response = await this.http.request<T>({
        ...request,
        baseURL: this.target.url.replace(/\/+$/, ''),
        timeout: this.timeoutMs,
        headers: { accept: 'application/json', ...this.headers() },
        validateStatus: (status) => status >= 200 && status < 300,
      });
      data = response.data;
    } catch (error) {
      throw this.classify(error);
    }
    if (!valid(data)) {
      const body = (typeof data === 'string' ? data : (JSON.stringify(data) ?? '')).slice(
        0,
        BODY_EXCERPT,
      );
      throw new TesNodeError(this.target.name, 'server', `answer without ${expected}: ${body}`);
    }
    return data;
  }

  private classify(error: unknown): TesNodeError {
    const name = this.target.name;
    if (!isAxiosError(error)) return new TesNodeError(name, 'unreachable', String(error));
    if (error.response) {
      const { status } = error.response;
      const data: unknown = error.response.data;
      const body = (typeof data === 'string' ? data : (JSON.stringify(data) ?? '')).slice(
        0,
        BODY_EXCERPT,
      );
      const kind: TesNodeFailure =
        status >= 500 ? 'server' : status === 404 ? 'not-found' : 'rejected';
      return new TesNodeError(name, kind, `HTTP ${status} ${body}`, status);
    }
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
      return new TesNodeError(name, 'timeout', `no answer within ${this.timeoutMs} ms`);
    }
    return new TesNodeError(
      name,
      'unreachable',
      `${error.code ?? 'error'}: ${error.message}`,
      undefined,
      error.code,
    );
  }
}
