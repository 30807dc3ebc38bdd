import { Injectable, NotFoundException } from '@nestjs/common';
import {
  InvalidPageTokenError,
  newTaskRecord,
  TaskLifecycle,
  type TaskRecord,
  TaskStore,
} from '@protes/core';
import { type Caller, ForwardingService } from '@protes/distribution';
import {
  type ListQuery,
  type TesListTasksResponse,
  type TesTask,
  type TesTaskRequest,
  toView,
  type TesView,
} from '@protes/tes';
import { TaskEventBus } from '@protes/tracking';
import { monotonicFactory } from 'ulid';
import { InvalidRequestException } from '../common/tes-exception.filter';
import { toTesTask } from './task-presenter';

/** Time-ordered ids: the store lists newest first by id and pages on it. */
const newId = monotonicFactory();

export const ANONYMOUS = 'anonymous';

@Injectable()
export class TasksService {
  constructor(
    private readonly store: TaskStore,
    private readonly lifecycle: TaskLifecycle,
    private readonly forwarding: ForwardingService,
    private readonly events: TaskEventBus,
  ) {}

  /**
   * Runs the middleware chain, stores the task, then forwards it. A task the chain refuses (4xx) or
   * cannot place (503) is never stored; once stored, the client gets the id whatever happens next:
   * if no node takes the task, it can read why in the task's logs. Nothing leaves the process
   * before the record is stored.
   */
  async create(
    task: TesTaskRequest,
    owner = ANONYMOUS,
    headers: Caller['headers'] = {},
  ): Promise<string> {
    const id = newId().toLowerCase();
    const route = await this.forwarding.route(id, task, { subject: owner, headers });
    const record = await this.lifecycle.accept(newTaskRecord(id, owner, task));
    const forwarded = await this.forwarding.forward(record, route);
    if (forwarded?.node) this.events.publish({ type: 'forwarded', taskId: record.id });
    return record.id;
  }

  async get(id: string, view: TesView, owner = ANONYMOUS): Promise<TesTask> {
    return toView(toTesTask(await this.find(id, owner)), view);
  }

  async list(query: ListQuery, owner = ANONYMOUS): Promise<TesListTasksResponse> {
    try {
      const page = await this.store.list({ ...query, owner });
      const tasks = page.records.map((r) => toView(toTesTask(r), query.view));
      return page.nextPageToken ? { tasks, next_page_token: page.nextPageToken } : { tasks };
    } catch (error) {
      if (error instanceof InvalidPageTokenError) {
        throw new InvalidRequestException([
          { field: 'page_token', reason: 'is not one this server issued' },
        ]);
      }
      throw error;
    }
  }

  /**
   * Asks for the task to end. A terminal task is left as it is; an active one is marked and the
   * tracker cancels it on its node (and keeps retrying while the node does not answer).
   */
  async cancel(id: string, owner = ANONYMOUS): Promise<void> {
    await this.find(id, owner);
    const updated = await this.lifecycle.requestCancel(id);
    if (updated?.cancelRequested) this.events.publish({ type: 'cancel-requested', taskId: id });
  }

  private async find(id: string, owner: string): Promise<TaskRecord> {
    const record = await this.store.get(id);
    if (!record || record.owner !== owner) throw new NotFoundException(`task ${id} not found`);
    return record;
  }
}
