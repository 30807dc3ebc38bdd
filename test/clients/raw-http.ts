import { connect } from 'node:net';

/**
 * A minimal HTTP/1.1 client on a bare TCP socket, so that a replay sends exactly the request line,
 * headers (in order, duplicates allowed) and body a real client sends: fetch/undici add headers of
 * their own and refuse some, and node:http adds Content-Length or chunked encoding on its own.
 * Only `Host` is added when missing, and `Content-Length` when a body is given without one.
 */

export type HeaderList = [name: string, value: string][];

export interface RawRequest {
  method: string;
  /** The request target exactly as sent: path and query, already encoded (or not). */
  target: string;
  headers?: HeaderList;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** The request line and headers as sent, for failure messages. */
  sent: string;
}

export class RawHttpError extends Error {}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine, ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new RawHttpError(`not an HTTP/1.1 status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(match[1]), headers };
}

/** The body once complete (by Content-Length or chunked framing), or undefined while not yet. */
function completeBody(
  data: Buffer,
  headers: Record<string, string>,
  ended: boolean,
): Buffer | undefined {
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) throw new RawHttpError('malformed chunked body');
      if (size === 0) return Buffer.concat(parts);
      const start = lineEnd + 2;
      if (data.length < start + size + 2) return undefined;
      parts.push(data.subarray(start, start + size));
      at = start + size + 2;
    }
  }
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    return data.length >= n ? data.subarray(0, n) : undefined;
  }
  return ended ? data : undefined;
}

/**
 * Sends one request to `baseUrl`'s origin on a fresh connection and resolves with the answer.
 * The connection is closed once the answer is complete, whatever the request said about
 * keep-alive.
 */
export function sendRaw(
  baseUrl: string,
  request: RawRequest,
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers: HeaderList = [...(request.headers ?? [])];
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['Host', url.host]);
  const body =
    request.body === undefined
      ? undefined
      : typeof request.body === 'string'
        ? Buffer.from(request.body, 'utf8')
        : request.body;
  if (body !== undefined && !has('content-length') && !has('transfer-encoding')) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const head =
    `${request.method} ${request.target} HTTP/1.1\r\n` +
    headers.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    '\r\n';
  const sent = head.length > 2000 ? `${head.slice(0, 2000)}…` : head;

  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 80) });
    let received = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => {
      finish(new RawHttpError(`no complete answer within ${timeoutMs} ms to:\n${sent}`));
    }, timeoutMs);

    function finish(result: RawResponse | Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    }

    /** Resolves if what has arrived is a whole answer; `ended` when the server closed. */
    function tryComplete(ended: boolean): void {
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        if (ended) {
          finish(
            new RawHttpError(
              `connection closed before a complete answer (got ${received.length} bytes) to:\n${sent}`,
            ),
          );
        }
        return;
      }
      try {
        const parsed = parseHead(received.subarray(0, headEnd).toString('latin1'));
        const noBody = request.method === 'HEAD' || parsed.status === 204 || parsed.status === 304;
        const bodyBytes = noBody
          ? Buffer.alloc(0)
          : completeBody(received.subarray(headEnd + 4), parsed.headers, ended);
        if (bodyBytes === undefined) {
          if (ended) finish(new RawHttpError(`connection closed mid-body to:\n${sent}`));
          return;
        }
        finish({ ...parsed, body: bodyBytes.toString('utf8'), sent });
      } catch (error) {
        finish(error as Error);
      }
    }

    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      tryComplete(false);
    });
    socket.on('end', () => tryComplete(true));
    socket.on('close', () => tryComplete(true));
    // A server that refuses early (431) may close while the request is still being written: what
    // it answered before closing is the answer.
    socket.on('error', (error) => {
      if (received.length > 0) tryComplete(true);
      else finish(new RawHttpError(`${error.message} while sending:\n${sent}`));
    });
    socket.write(head);
    if (body !== undefined && body.length > 0) socket.write(body);
  });
}

/** The body parsed as JSON, or an error saying what came instead. */
export function jsonOf(response: RawResponse): unknown {
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    throw new RawHttpError(
      `HTTP ${response.status}: the body is not JSON: ${JSON.stringify(response.body.slice(0, 300))}\nrequest:\n${response.sent}`,
    );
  }
}

/** Whether the answer says its body is JSON (application/json, any parameters). */
export const isJsonContentType = (response: RawResponse): boolean =>
  /^application\/json\s*(;|$)/i.test(response.headers['content-type'] ?? '');
