import type { ModuleRef } from '@nestjs/core';
import type { ProtesConfig } from '@protes/config';
import type {
  HttpClient,
  HttpRequest,
  NodeDirectory,
  NodeInfo,
  NodeLoad,
  ProtesConfigView,
} from '@protes/middleware-sdk';
import axios, { type AxiosResponseHeaders, type RawAxiosResponseHeaders } from 'axios';
import { lazyNodeRegistry } from '../node-registry';

/*
 * The gateway's side of the ports @protes/middleware-sdk names: what a plugin may inject. Each is
 * a narrow view over the gateway's own services, so that a plugin depends on this contract and on
 * nothing that may change inside the gateway.
 */

/** Keys whose values are secrets, wherever they are in the configuration. */
const SECRET_KEY = /secret|password|credential|bearer|token|apikey|privatekey/i;
/** The user info of a URL (`amqp://user:pass@host`). */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value === 'string') return value.replace(USER_INFO, '$1');
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !SECRET_KEY.test(key))
        .map(([key, child]) => [key, redact(child)]),
    );
  }
  return value;
}

/** The configuration as plugins see it: a deep-frozen copy without secrets. */
export function pluginConfig(config: ProtesConfig): ProtesConfigView {
  return deepFreeze(redact(config) as ProtesConfigView);
}

/** NodeDirectory over the registry: snapshots, so that a plugin cannot change what it holds. */
export function registryDirectory(moduleRef: ModuleRef): NodeDirectory {
  const find = lazyNodeRegistry(moduleRef);
  const list = async (): Promise<NodeInfo[]> => {
    const registry = find();
    if (!registry) return [];
    const loads = await registry.nodeLoads();
    const unavailable = new Set(registry.unavailable());
    return registry.all().map((node) => ({
      name: node.name,
      health: { ...node.health },
      metadata: structuredClone(node.metadata),
      load: loads.get(node.name) ?? 0,
      available: !unavailable.has(node.name),
    }));
  };
  return { list, get: async (name) => (await list()).find((node) => node.name === name) };
}

/** NodeLoad over the registry (the same counts the chain's candidates carry). */
export function registryLoad(moduleRef: ModuleRef): NodeLoad {
  const find = lazyNodeRegistry(moduleRef);
  const all = async () => new Map((await find()?.nodeLoads()) ?? []);
  return { all, of: async (name) => (await all()).get(name) ?? 0 };
}

const headersOf = (
  headers: AxiosResponseHeaders | RawAxiosResponseHeaders,
): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers as Record<string, unknown>)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([name, value]) => [
        name.toLowerCase(),
        Array.isArray(value) ? value.join(', ') : String(value),
      ]),
  );

/**
 * An HttpClient of its own (not the instance the gateway calls its nodes with, so that nothing a
 * plugin does to it reaches those calls), with `forwarding.timeoutMs` as its default timeout. Axios
 * rather than fetch: it follows the HTTP(S)_PROXY variables, as the node calls do.
 */
export function axiosHttpClient(defaultTimeoutMs: number): HttpClient {
  const instance = axios.create({
    validateStatus: () => true,
    responseType: 'text',
    // The body is parsed here, from its content type, rather than guessed at.
    transformResponse: [(data: unknown) => data],
  });
  return {
    async request<T>({
      url,
      method = 'GET',
      headers = {},
      body,
      timeoutMs = defaultTimeoutMs,
    }: HttpRequest) {
      let response;
      try {
        response = await instance.request<string>({
          url,
          method,
          headers: { ...headers },
          data: body,
          timeout: timeoutMs,
        });
      } catch (error) {
        throw new Error(`${method} ${url}: ${(error as Error).message}`, { cause: error });
      }
      const responseHeaders = headersOf(response.headers);
      const text = typeof response.data === 'string' ? response.data : String(response.data ?? '');
      let parsed: unknown = text;
      if (/[/+]json\b/i.test(responseHeaders['content-type'] ?? '') && text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new Error(`${method} ${url}: the response says JSON but is not`, { cause: error });
        }
      }
      return { status: response.status, headers: responseHeaders, body: parsed as T };
    },
  };
}
