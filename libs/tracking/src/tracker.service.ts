import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import { ForwardingService, NodeRegistry, type TesNode } from '@protes/distribution';
import { type TaskRecord, TaskStore, updateTask } from '@protes/persistence';
import { isTerminal, type TesState, type TesTask, TesNodeError } from '@protes/tes';
import type { Subscription } from 'rxjs';
import { TaskEventBus } from './task-events';

interface PollSchedule {
  nextAt: number;
  intervalMs: number;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function eachLimited<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  });
  await Promise.all(workers);
}

/**
 * Follows every forwarded task on its node until it ends, writing state and logs to the store.
 * It works from the store alone (every unfinished record, each round), so a restart resumes all of
 * them; events only move a task's next poll forward. Each task is polled on its own schedule: soon
 * after it was forwarded or changed, then less and less often while nothing moves.
 */
@Injectable()
export class TrackerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TrackerService.name);
  private readonly schedule = new Map<string, PollSchedule>();
  private readonly minPollMs: number;
  private readonly maxPollMs: number;
  private readonly concurrency: number;
  /** A task with no node yet is being forwarded by the gateway until this much time has passed. */
  private readonly forwardingGraceMs: number;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly store: TaskStore,
    private readonly registry: NodeRegistry,
    private readonly forwarding: ForwardingService,
    private readonly events: TaskEventBus,
    @Inject(protesConfig.KEY) config: ProtesConfig,
  ) {
    this.minPollMs = config.tracker.minPollMs;
    this.maxPollMs = config.tracker.maxPollMs;
    this.concurrency = config.tracker.concurrency;
    this.forwardingGraceMs = config.forwarding.timeoutMs * (config.nodes.length + 1);
  }

  onApplicationBootstrap(): void {
    this.subscription = this.events.subscribe((event) => this.pollSoon(event.taskId));
    this.scheduleRound(0);
  }

  /** Before the store closes: the round in flight finishes its writes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.subscription?.unsubscribe();
    await this.round;
  }

  /** Makes the task due in the next round. */
  pollSoon(taskId: string): void {
    this.schedule.set(taskId, { nextAt: 0, intervalMs: this.minPollMs });
  }

  private scheduleRound(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.runRound()
        .catch((error: unknown) => this.logger.error(`tracking round failed: ${String(error)}`))
        .finally(() => this.scheduleRound(this.minPollMs));
    }, delayMs);
  }

  /** One pass over the unfinished tasks that are due. */
  async runRound(): Promise<void> {
    const unfinished = await this.store.listUnfinished();
    const now = Date.now();
    const live = new Set(unfinished.map((r) => r.id));
    for (const id of this.schedule.keys()) if (!live.has(id)) this.schedule.delete(id);
    const due = unfinished.filter((r) => (this.schedule.get(r.id)?.nextAt ?? 0) <= now);
    await eachLimited(due, this.concurrency, (record) => this.follow(record));
  }

  private async follow(record: TaskRecord): Promise<void> {
    if (!record.node || !record.remoteId) return this.followUnforwarded(record);
    const node = this.registry.get(record.node);
    if (!node) {
      await this.finish(record.id, 'SYSTEM_ERROR', `node ${record.node} is no longer configured`);
      return;
    }
    try {
      if (record.cancelRequested) await node.client.cancelTask(record.remoteId);
      const remote = await node.client.getTask(record.remoteId, 'MINIMAL');
      this.registry.report(node.name);
      if (remote.state === record.state && !record.cancelRequested) {
        this.backOff(record.id);
        return;
      }
      await this.apply(record.id, await node.client.getTask(record.remoteId, 'FULL'), node);
      this.pollSoon(record.id);
    } catch (error) {
      await this.onNodeError(record, node, error);
    }
  }

  private async followUnforwarded(record: TaskRecord): Promise<void> {
    // Either the gateway is forwarding it right now, or it stopped before it could: after the
    // grace period, the second is certain and the tracker takes over.
    if (Date.now() - Date.parse(record.createdAt) < this.forwardingGraceMs) return;
    if (record.cancelRequested) {
      await this.finish(record.id, 'CANCELED', 'canceled before it was forwarded to a node');
      return;
    }
    this.logger.log(`task ${record.id} was stored but never forwarded: forwarding it now`);
    await this.forwarding.forward(record);
    this.pollSoon(record.id);
  }

  private async onNodeError(record: TaskRecord, node: TesNode, error: unknown): Promise<void> {
    if (error instanceof TesNodeError && error.kind === 'not-found') {
      await this.finish(
        record.id,
        'SYSTEM_ERROR',
        `node ${node.name} no longer knows task ${record.remoteId}`,
      );
      return;
    }
    // The node is down or erring: the task stays as it was and is asked again later.
    this.registry.report(node.name, (error as Error).message);
    this.backOff(record.id);
  }

  /** Stores what the node says of the task. */
  private async apply(id: string, remote: TesTask, node: TesNode): Promise<void> {
    await updateTask(this.store, id, (current) => {
      if (isTerminal(current.state)) return undefined;
      const now = new Date().toISOString();
      const next: TaskRecord = { ...current, remoteLogs: remote.logs ?? [], updatedAt: now };
      // No TES client knows PREEMPTED (Nextflow and cwl-tes would wait for ever): report it as a
      // system error, with the reason.
      if (remote.state === 'PREEMPTED') {
        next.state = 'SYSTEM_ERROR';
        next.systemLogs = [...current.systemLogs, `task was preempted on node ${node.name}`];
      } else if (current.cancelRequested && !isTerminal(remote.state)) {
        // The node has not finished canceling yet: the client keeps seeing CANCELING.
        next.state = 'CANCELING';
      } else {
        next.state = remote.state;
      }
      if (isTerminal(next.state)) {
        next.endedAt = now;
        next.cancelRequested = false;
      }
      return next;
    });
  }

  private async finish(id: string, state: TesState, reason: string): Promise<void> {
    await updateTask(this.store, id, (current) => {
      if (isTerminal(current.state)) return undefined;
      const now = new Date().toISOString();
      return {
        ...current,
        state,
        cancelRequested: false,
        systemLogs: [...current.systemLogs, reason],
        updatedAt: now,
        endedAt: now,
      };
    });
  }

  private backOff(id: string): void {
    const previous = this.schedule.get(id)?.intervalMs ?? this.minPollMs;
    const intervalMs = Math.min(previous * 2, this.maxPollMs);
    this.schedule.set(id, { nextAt: Date.now() + intervalMs, intervalMs });
  }
}
