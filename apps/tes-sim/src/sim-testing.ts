import type { TesState, TesTask, TesTaskRequest } from '@protes/tes';

/**
 * Small helpers for tests that drive a simulator over real HTTP (its own and other apps'): a valid
 * task to submit, JSON calls, and waiting for a task to reach a state.
 */

export function simTask(overrides: Partial<TesTaskRequest> = {}): TesTaskRequest {
  return {
    name: 'sim-task',
    executors: [{ image: 'alpine', command: ['echo', 'hello'] }],
    ...overrides,
  };
}

export interface JsonAnswer<T = unknown> {
  status: number;
  body: T;
}

export async function callJson<T = unknown>(
  url: string,
  method: 'GET' | 'POST' = 'GET',
  body?: unknown,
): Promise<JsonAnswer<T>> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls `GET /tasks/{id}?view=FULL` until the state is one of `states`, or fails after `timeoutMs`. */
export async function waitForState(
  tesUrl: string,
  id: string,
  states: TesState | readonly TesState[],
  timeoutMs = 5000,
): Promise<TesTask> {
  const wanted: readonly TesState[] = typeof states === 'string' ? [states] : states;
  const deadline = Date.now() + timeoutMs;
  let last: TesTask | undefined;
  while (Date.now() < deadline) {
    const { status, body } = await callJson<TesTask>(`${tesUrl}/tasks/${id}?view=FULL`);
    if (status === 200) {
      last = body;
      if (wanted.includes(body.state)) return body;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(
    `task ${id} did not reach ${wanted.join('|')} in ${timeoutMs} ms (last: ${last?.state})`,
  );
}
