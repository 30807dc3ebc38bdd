import type { ErrorResponse } from '@protes/tes';
import type { FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How proTES processes speak HTTP to the clients that exist, rather than to an ideal one (see
 * shared/CLIENTS.md): py-tes and generated OpenAPI clients send `Content-Type: application/json`
 * on every request, also on the bodyless `POST /tasks/{id}:cancel`; curl users forget the header;
 * clients add a trailing slash to the base path. Every refusal, also those Fastify or Node make
 * before a route runs, has the same JSON error body as the API's own errors.
 */

/** Longer request targets get 414, as common servers do (nginx and Apache allow about 8 KiB). */
export const MAX_URL_LENGTH = 8192;
/**
 * Deepest nesting of arrays and objects a JSON body may have, unless configured (the gateway's
 * `server.maxJsonDepth`). A TES task nests about six deep; thousands of levels would overflow the
 * stack of every recursive step after parsing (copying, validating) and answer 500 instead of 400.
 */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of `[`/`{` in JSON text, strings skipped; stops counting past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      deepest = Math.max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Path parameters are task ids (26 characters); anything much longer is not one. */
const MAX_PARAM_LENGTH = 256;

const METHODS: readonly HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export const errorBody = (status: number, msg: string): ErrorResponse => ({
  status_code: status,
  msg,
});

/** Node's socket-level refusals (headers too large, malformed request line) as JSON answers. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : 400;
  const reason = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify(errorBody(status, reason.toLowerCase()));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Options for Fastify's constructor. */
export function protocolOptions(bodyLimit: number): FastifyServerOptions {
  return {
    bodyLimit,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // Malformed percent-encoding (400) and over-long path parameters (414), found while routing.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      const msg = status === 414 ? 'request URL too long' : 'malformed request URL';
      void reply.code(status).send(errorBody(status, msg));
    },
    clientErrorHandler: answerClientError,
  };
}

/**
 * Installs, before any route is registered: one body parser for every content type, and 405 with
 * `Allow` for a path that exists under other methods (Fastify answers 404).
 */
export function installProtocol(instance: FastifyInstance, maxJsonDepth = MAX_JSON_DEPTH): void {
  // A body is read as JSON whatever its content type (curl's default form type, text/plain, none):
  // a TES request body can only be JSON, and the one error that matters is "this is not JSON"
  // (400). An empty body is no body, which a cancel allows and a create refuses by validation.
  instance.removeAllContentTypeParsers();
  const json = instance.getDefaultJsonParser('error', 'error');
  instance.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    if (jsonDepth(text, maxJsonDepth) > maxJsonDepth) {
      const msg = `request body nests deeper than ${maxJsonDepth} levels`;
      done(Object.assign(new Error(msg), { statusCode: 400 }));
      return;
    }
    void json(request, text, (error, value) => {
      // Fastify's message speaks of the content type, which the gateway does not require.
      if (error)
        done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }));
      else done(null, value);
    });
  });

  const routes = FindMyWay({ ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH });
  instance.addHook('onRoute', (route) => {
    // A catch-all (the CORS preflight's `OPTIONS *`) says nothing of which paths exist: with it,
    // every unknown path would be a 405 instead of a 404.
    if (route.url === '*' || route.url === '/*') return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (METHODS.includes(method as HTTPMethod)) {
        routes.on(method as HTTPMethod, route.url, () => undefined);
      }
    }
  });

  instance.addHook('onRequest', (request, reply, done) => {
    if (request.url.length > MAX_URL_LENGTH) {
      void reply.code(414).send(errorBody(414, `request URL longer than ${MAX_URL_LENGTH} bytes`));
      return;
    }
    // A request that matched a route has its pattern; only unmatched ones can be a wrong method.
    if (request.routeOptions.url !== undefined) {
      done();
      return;
    }
    const path = request.url.split('?', 1)[0];
    const allowed = METHODS.filter((method) => routes.find(method, path) !== null);
    if (allowed.length === 0) {
      done();
      return;
    }
    void reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send(
        errorBody(405, `${request.method} is not allowed here; allowed: ${allowed.join(', ')}`),
      );
  });
}
