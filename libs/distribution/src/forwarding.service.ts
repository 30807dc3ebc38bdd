import { Injectable, Logger } from '@nestjs/common';
import { type ForwardAttempt, type TaskRecord, TaskStore, updateTask } from '@protes/persistence';
import { type TesTaskRequest, TesNodeError } from '@protes/tes';
import { NodeSelector } from './node-selector';

/** Tag put on every forwarded task, so an operator can find a remote task's gateway id. */
export const GATEWAY_ID_TAG = 'protes_id';

/**
 * Hands a stored task to a TES node: tries the candidates in order, moving on after a connection
 * error, a timeout or an HTTP error, and writes every attempt to the record. If no node takes it,
 * the task ends in SYSTEM_ERROR with each node's reason in its logs.
 */
@Injectable()
export class ForwardingService {
  private readonly logger = new Logger(ForwardingService.name);

  constructor(
    private readonly store: TaskStore,
    private readonly selector: NodeSelector,
  ) {}

  async forward(record: TaskRecord): Promise<TaskRecord | undefined> {
    const task: TesTaskRequest = {
      ...record.received,
      tags: { ...record.received.tags, [GATEWAY_ID_TAG]: record.id },
    };
    const tried = new Set(record.attempts.map((a) => a.node));
    const attempts: ForwardAttempt[] = [];
    let accepted: ForwardAttempt | undefined;
    for (const node of this.selector.candidates(task, tried)) {
      const at = new Date().toISOString();
      try {
        const { id } = await node.client.createTask(task);
        accepted = { node: node.name, at, remoteId: id };
        attempts.push(accepted);
        this.selector.report(node.name);
        break;
      } catch (error) {
        const reason =
          error instanceof TesNodeError ? error.message : `${node.name}: ${String(error)}`;
        attempts.push({ node: node.name, at, error: reason });
        this.selector.report(node.name, reason);
        this.logger.warn(`task ${record.id}: forwarding failed, ${reason}`);
      }
    }
    return updateTask(this.store, record.id, (current) => {
      const now = new Date().toISOString();
      const next: TaskRecord = {
        ...current,
        attempts: [...current.attempts, ...attempts],
        updatedAt: now,
      };
      if (accepted) {
        next.node = accepted.node;
        next.remoteId = accepted.remoteId;
        next.forwarded = task;
        // A cancel that came in while forwarding is carried out by the tracker on the node.
        if (current.cancelRequested) next.state = 'CANCELING';
        return next;
      }
      const reasons = attempts.length
        ? attempts.map((a) => `forwarding to ${a.error}`)
        : ['no TES node is available to run this task'];
      const state = current.cancelRequested ? 'CANCELED' : 'SYSTEM_ERROR';
      return { ...next, state, endedAt: now, systemLogs: [...current.systemLogs, ...reasons] };
    });
  }
}
