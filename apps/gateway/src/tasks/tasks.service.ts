import { Injectable, NotFoundException } from '@nestjs/common';
import type { Principal } from '@protes/auth';
import {
  GATEWAY_ACTOR,
  InvalidPageTokenError,
  newTaskRecord,
  TaskLifecycle,
  type TaskQuery,
  type TaskRecord,
  type TaskStatesJson,
  TaskStore,
} from '@protes/core';
import { type Caller, ForwardingService, plannedRoute } from '@protes/distribution';
import type { ClientCaller } from '@protes/middleware-sdk';
import { currentRequestId } from '@protes/server';
import {
  type ListQuery,
  type TesTask,
  type TesTaskRequest,
  toView,
  type TesView,
} from '@protes/tes';
import { TaskEventBus } from '@protes/tracking';
import { InvalidRequestException } from '../common/tes-exception.filter';
import { toTesTask } from './task-presenter';
import { newTaskId } from './task-ids';

/** The caller as the middlewares' toClient hooks see it. */
const clientOf = (caller: Principal): ClientCaller => ({
  subject: caller.owner,
  admin: caller.admin,
  claims: caller.claims,
});

@Injectable()
export class TasksService {
  constructor(
    private readonly store: TaskStore,
    private readonly lifecycle: TaskLifecycle,
    private readonly forwarding: ForwardingService,
    private readonly events: TaskEventBus,
  ) {}

  /**
   * Runs the middleware chain and stores the task with the route it chose, then answers: the task
   * is forwarded afterwards by a tracker (the store is the outbox; the published event wakes a
   * tracker at once), QUEUED until a node takes it. A task the chain refuses (4xx) or cannot place
   * (503) is never stored; once stored, the client gets the id whatever happens next: if no node
   * takes the task, it can read why in the task's logs. The task belongs to the caller; the chain
   * sees the caller's owner id, the allow-listed `headers` and the claims `auth.exposeClaims` lets
   * through.
   */
  async create(
    task: TesTaskRequest,
    caller: Principal,
    headers: Caller['headers'],
  ): Promise<string> {
    const id = newTaskId();
    const route = await this.forwarding.route(id, task, {
      subject: caller.owner,
      headers,
      claims: caller.claims,
      visas: caller.visas,
    });
    const requestId = currentRequestId();
    const record = { ...newTaskRecord(id, caller.owner, task), ...(requestId && { requestId }) };
    await this.lifecycle.accept(record, GATEWAY_ACTOR, plannedRoute(route));
    this.events.publish({ type: 'queued', taskId: id });
    return id;
  }

  async get(id: string, view: TesView, caller: Principal): Promise<TesTask> {
    // What clients poll, as a MINIMAL list answers it (no hook changes id and state): from the
    // store's index, without reading the stored task, which may carry 100 KiB of inline inputs.
    if (view === 'MINIMAL') {
      const { state } = visibleTo(caller, id, await this.store.getState(id));
      return { id, state };
    }
    const task = toTesTask(await this.find(id, caller));
    if (!this.forwarding.hooks.answersClients(view)) return toView(task, view);
    return toView(await this.forwarding.hooks.toClient(task, view, clientOf(caller)), view);
  }

  /**
   * The caller's tasks (an administrator's list has everyone's), as the JSON text of a TES
   * ListTasksResponse, sent as it is: a MINIMAL page comes from the store as text, with no object
   * per task to build and serialize again.
   */
  async list(query: ListQuery, caller: Principal): Promise<string> {
    const filter = caller.admin ? { ...query } : { ...query, owner: caller.owner };
    try {
      // MINIMAL is id and state, which no hook changes: the store answers it from its indexes
      // alone, without reading a single stored task.
      const { tasks, nextPageToken } =
        query.view === 'MINIMAL'
          ? await this.store.listStatesJson(filter)
          : await this.viewPage(filter, query.view, caller);
      // The keys in the order the object path wrote them: tasks, then next_page_token if any.
      return nextPageToken
        ? `{"tasks":${tasks},"next_page_token":${JSON.stringify(nextPageToken)}}`
        : `{"tasks":${tasks}}`;
    } catch (error) {
      if (error instanceof InvalidPageTokenError) {
        throw new InvalidRequestException([
          { field: 'page_token', reason: 'is not one this server issued' },
        ]);
      }
      throw error;
    }
  }

  /** A page of whole tasks in a BASIC or FULL view, as the middlewares' toClient hooks show them. */
  private async viewPage(
    filter: TaskQuery,
    view: TesView,
    caller: Principal,
  ): Promise<TaskStatesJson> {
    const page = await this.store.list(filter);
    const hooks = this.forwarding.hooks;
    const records = hooks.answersClients(view)
      ? await Promise.all(
          page.records.map(async (r) =>
            toView(await hooks.toClient(toTesTask(r), view, clientOf(caller)), view),
          ),
        )
      : page.records.map((r) => toView(toTesTask(r), view));
    return { tasks: JSON.stringify(records), nextPageToken: page.nextPageToken };
  }

  /**
   * Asks for the task to end. A terminal task is left as it is; an active one is marked and the
   * tracker cancels it on its node (and keeps retrying while the node does not answer).
   */
  async cancel(id: string, caller: Principal): Promise<void> {
    visibleTo(caller, id, await this.store.getState(id));
    const updated = await this.lifecycle.requestCancel(id);
    if (updated?.cancelRequested) this.events.publish({ type: 'cancel-requested', taskId: id });
  }

  private async find(id: string, caller: Principal): Promise<TaskRecord> {
    return visibleTo(caller, id, await this.store.get(id));
  }
}

/**
 * The task if the caller may see it. Another caller's task answers as an unknown one (404, not
 * 403), so that ids do not tell whose tasks exist. Administrators see every task.
 */
function visibleTo<T extends { owner: string }>(
  caller: Principal,
  id: string,
  found: T | undefined,
): T {
  if (!found || (!caller.admin && found.owner !== caller.owner)) {
    throw new NotFoundException(`task ${id} not found`);
  }
  return found;
}
