import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Metrics } from './metrics';
import { REQUEST_ID_HEADER, requestIdFrom, withRequestId } from './request-context';

/** The route label of a request no route matched (404, 405): one label, whatever the path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Requests an orchestrator or a scraper makes every few seconds: logged at debug level, so that the
 * access log shows what clients do.
 */
const PROBE_ROUTES = new Set(['/health', '/health/live', '/metrics']);

/** Fastify's request id generator: the client's `x-request-id` if valid, else a new UUID. */
export const requestIdOf = (request: { headers: Record<string, unknown> }): string =>
  requestIdFrom(request.headers[REQUEST_ID_HEADER] as string | string[] | undefined);

const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? UNMATCHED_ROUTE;

/**
 * Installs, before any route is registered: the request id in every answer's `x-request-id`
 * header and in the context of the handler (so every log line it causes carries it, and the task
 * events it publishes take it to the tracker), and, once the answer is sent, one access log line
 * and the request's HTTP metrics. The request id is Fastify's `request.id` (see `requestIdOf`).
 */
export function installRequestLog(instance: FastifyInstance, metrics: Metrics): void {
  const logger = new Logger('HTTP');
  instance.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  // After the body is read: the handler and what it starts run in the request's context.
  instance.addHook('preHandler', (request, _reply, done) => withRequestId(request.id, done));
  instance.addHook('onResponse', (request, reply, done) => {
    const route = routeOf(request);
    const durationMs = Math.round(reply.elapsedTime * 1000) / 1000;
    metrics.request(request.method, route, reply.statusCode, durationMs / 1000);
    const line = {
      msg: `${request.method} ${route} ${reply.statusCode}`,
      method: request.method,
      route,
      path: request.url.split('?', 1)[0],
      status: reply.statusCode,
      durationMs,
      requestId: request.id,
    };
    if (PROBE_ROUTES.has(route)) logger.debug(line);
    else logger.log(line);
    done();
  });
}
