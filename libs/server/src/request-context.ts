import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The header a request id comes in and goes back out in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What a client's request id may be: what common proxies and tracing systems send (UUIDs, hex
 * trace ids, ULIDs, `name-123`), short enough for a log line and without anything that could break
 * one or forge another (spaces, quotes, control characters).
 */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's request id if it is a valid one, else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && VALID_REQUEST_ID.test(given) ? given : randomUUID();
}

/** A request id from elsewhere (a queue message), or undefined when it is not a valid one. */
export const validRequestId = (value: unknown): string | undefined =>
  typeof value === 'string' && VALID_REQUEST_ID.test(value) ? value : undefined;

const context = new AsyncLocalStorage<{ requestId: string }>();

/** Runs `work` (and everything it starts) as part of the request `requestId`. */
export const withRequestId = <T>(requestId: string, work: () => T): T =>
  context.run({ requestId }, work);

/** The id of the request being served, if any (log lines and task events carry it). */
export const currentRequestId = (): string | undefined => context.getStore()?.requestId;

/** How many tasks' request ids are remembered; the oldest are forgotten first. */
const REMEMBERED_TASKS = 10_000;

/**
 * The request that created each recent task, so that what happens to the task later, outside that
 * request (a tracker's poll, a resubmission), is logged with the same id. Bounded: a task followed
 * for days loses its id from the logs rather than the process its memory.
 */
export class TaskRequestIds {
  private readonly ids = new Map<string, string>();

  remember(taskId: string, requestId: string): void {
    this.ids.delete(taskId);
    this.ids.set(taskId, requestId);
    if (this.ids.size > REMEMBERED_TASKS) {
      this.ids.delete(this.ids.keys().next().value as string);
    }
  }

  of(taskId: string): string | undefined {
    return this.ids.get(taskId);
  }

  forget(taskId: string): void {
    this.ids.delete(taskId);
  }
}
