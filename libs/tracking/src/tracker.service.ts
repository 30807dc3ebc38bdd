import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import {
  ForwardingService,
  GATEWAY_ID_TAG,
  NodeRegistry,
  type TesNode,
} from '@protes/distribution';
import {
  type Actor,
  isLostState,
  needsForwarding,
  type LossReport,
  type ObservedEvent,
  TaskLifecycle,
  type TaskRecord,
  TaskStore,
} from '@protes/core';
import { isTerminal, MAX_PAGE_SIZE, type TesState, type TesTask, TesNodeError } from '@protes/tes';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Subject, type Subscription } from 'rxjs';
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

/** Waits for `work` to settle, or for `ms`, whichever comes first. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work.catch(() => undefined), elapsed]);
  clearTimeout(timer);
}

/** HTTP statuses by which a node says it does not serve ListTasks. */
const NO_LIST = new Set([404, 405, 501]);

/**
 * Follows forwarded tasks on their nodes until they end, writing state and logs to the store.
 *
 * Work is shared through leases in the store: each round this tracker renews and extends its claim
 * (TaskStore.claim), so several trackers split the tasks and a dead one's tasks are taken over when
 * its leases expire; a restart resumes everything. Events only make a node due earlier.
 *
 * Per node and round it reads the states of all its tasks with one paged `GET /tasks?view=MINIMAL`
 * (falling back to one GET per task on nodes that refuse list), then fetches the FULL task only for
 * those whose state changed. Each node's poll interval is short after a change and backs off while
 * nothing moves. A task its node loses (PREEMPTED, SYSTEM_ERROR, forgotten) is resubmitted to
 * another node, up to `tracker.maxResubmissions` times; so are the tasks of a node unreachable for
 * `tracker.nodeLostAfterMs`, or removed from the configuration.
 *
 * It also works through the outbox: tasks stored without a node (new, or resubmitted) are forwarded
 * beside the rounds (ForwardingService.forward; an event about a new task starts a round at once),
 * and the nodes an unsettled attempt may have left a copy on are asked for it, every round, until
 * it is found and canceled.
 */
@Injectable()
export class TrackerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** This process's name in leases. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** This tracker in the tasks' history. */
  private readonly actor: Actor = { kind: 'tracker', id: this.owner };
  private readonly logger = new Logger(TrackerService.name);
  private readonly tracker: ProtesConfig['tracker'];
  private readonly nodeSchedule = new Map<string, PollSchedule>();
  /** Last known node of each task held, so an event can make its node due. */
  private readonly taskNodes = new Map<string, string>();
  /**
   * The tasks held at the last read, by node (the store's own records, not copies): a round
   * follows those of the nodes that are due, from here while nothing can have changed them.
   */
  private heldByNode = new Map<string, TaskRecord[]>();
  /** The held tasks with an unsettled attempt, at the last read. */
  private unsettled: TaskRecord[] = [];
  /**
   * Whether the held tasks may have changed since the last read: this tracker wrote some, or an
   * event came (a cancel request, a new task). Otherwise they are read again every half lease
   * only, in case another process changed them without an event reaching this one.
   */
  private heldStale = true;
  private heldReadAt = 0;
  /**
   * Whether the next round reads the held tasks whether or not a node is due: the last read left
   * work that every round retries (a task waiting for a node, a stray copy to cancel), or an event
   * named a task not seen yet.
   */
  private readNext = true;
  private readonly listUnsupported = new Set<string>();
  /** When each node's tasks were last read (for lagSeconds); this tracker's start before that. */
  private readonly polledAt = new Map<string, number>();
  private readonly startedAt = Date.now();
  /** Each poll of a node (its task list, or its tasks one by one), for metrics. */
  readonly polls = new Subject<{ node: string; ok: boolean }>();
  /** When each node that does not answer stopped answering (cleared when it answers again). */
  private readonly unreachableSince = new Map<string, number>();
  /**
   * Forwards under way, by task: they run beside the rounds (a slow node, or tasks waiting for one
   * of its slots, must not hold up the following of other tasks), one per task.
   */
  private readonly forwards = new Map<string, Promise<void>>();
  /**
   * Tasks that ended while a copy may still show up on a node (an attempt with an unknown outcome,
   * a node lost while unreachable), as last written: ended tasks are no longer claimed, so the
   * tracker that ended one asks those nodes for it each round until the copy is found and canceled.
   */
  private readonly endedWithStrays = new Map<string, TaskRecord>();
  private roundRunning = false;
  private wakeRequested = false;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly store: TaskStore,
    private readonly lifecycle: TaskLifecycle,
    private readonly registry: NodeRegistry,
    private readonly forwarding: ForwardingService,
    private readonly events: TaskEventBus,
    @Inject(protesConfig.KEY) config: ProtesConfig,
  ) {
    this.tracker = config.tracker;
  }

  onApplicationBootstrap(): void {
    this.subscription = this.events.subscribe((event) => this.pollSoon(event.taskId));
    this.subscription.add(
      this.lifecycle.applied.subscribe(({ record }) => this.watchEnded(record)),
    );
    this.scheduleRound(0);
  }

  /**
   * Before the store closes (SIGTERM): no new round and no new send; the round and the sends under
   * way are waited for, up to tracker.shutdownGraceMs (at most tracker.leaseMs, for which the tasks
   * being sent are held), so that each answer is recorded; then every lease is freed (the tasks
   * forwarded meanwhile too, so that the other trackers take them over at once), but those of
   * sends still unanswered: their tasks are taken up again once the leases expire, and the node
   * asked first. What was not sent stays in the outbox, free for the next start or another tracker.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.subscription?.unsubscribe();
    this.forwarding.stop();
    const sending = [...this.forwards.keys()];
    await this.store.renew(this.owner, sending, this.tracker.leaseMs).catch(() => []);
    const graceMs = Math.min(this.tracker.shutdownGraceMs, this.tracker.leaseMs);
    await settledWithin(Promise.all([this.round, ...this.forwards.values()]), graceMs);
    const held = await this.store.listHeld(this.owner).catch(() => []);
    const free = held.map((r) => r.id).filter((id) => !this.forwards.has(id));
    await this.store.release(this.owner, free).catch(() => undefined);
  }

  /**
   * Makes the task's node due in the next round; for a task not seen yet (a new one, waiting in the
   * outbox), every node, and the next round starts at once, so that it is claimed and forwarded.
   */
  pollSoon(taskId: string): void {
    this.heldStale = true;
    const node = this.taskNodes.get(taskId);
    const fast = { nextAt: 0, intervalMs: this.tracker.minPollMs };
    if (node) {
      this.nodeSchedule.set(node, fast);
      return;
    }
    for (const name of this.nodeSchedule.keys()) this.nodeSchedule.set(name, fast);
    this.readNext = true;
    this.wake();
  }

  /** Starts the next round now, or right after the one under way. */
  private wake(): void {
    if (this.stopped) return;
    if (this.roundRunning) {
      this.wakeRequested = true;
      return;
    }
    clearTimeout(this.timer);
    this.scheduleRound(0);
  }

  /**
   * The next round starts a pause after the previous one ended, never on a fixed clock: a round
   * that outlasts its interval (a slow node, a large claim) must not overlap the next. That is why
   * this is a chained timeout and not @nestjs/schedule's @Interval, which fires on a fixed period;
   * per-node pacing (backOff) lives in nodeSchedule, which no scheduler library models.
   */
  private scheduleRound(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.roundRunning = true;
      this.round = this.runRound()
        .catch((error: unknown) => this.logger.error(`tracking round failed: ${String(error)}`))
        .finally(() => {
          this.roundRunning = false;
          const again = this.wakeRequested;
          this.wakeRequested = false;
          this.scheduleRound(again ? 0 : this.tracker.minPollMs);
        });
    }, delayMs);
  }

  /**
   * One pass: the tasks this tracker holds, grouped by node, for the nodes that are due. The held
   * tasks are read from the store only when they may have changed: the claim took new ones, this
   * tracker wrote some or an event came (heldStale), the last read left work for every round
   * (tasks waiting for a node, stray copies to cancel), or half a lease went by. Idle, a round is
   * the claim alone, and a due node is polled with the tasks of the last read.
   */
  async runRound(): Promise<void> {
    // At most tracker.claimBatch new tasks, so that trackers share new work evenly, the renewal of
    // this tracker's leases when due (one write, whatever their number) and the takeover of the
    // tasks of trackers whose leases expired.
    const claimed = await this.store.claim(
      this.owner,
      this.tracker.leaseMs,
      this.tracker.claimBatch,
    );
    const now = Date.now();
    const isDue = (node: string) => (this.nodeSchedule.get(node)?.nextAt ?? 0) <= now;
    const read =
      claimed.length > 0 ||
      this.readNext ||
      this.heldStale ||
      now - this.heldReadAt >= this.tracker.leaseMs / 2;
    if (!read && ![...this.heldByNode.keys()].some(isDue)) {
      await this.cancelStrays([]);
      return;
    }
    if (read) await this.readHeld();
    const due = [...this.heldByNode].filter(([node]) => isDue(node));
    await eachLimited(due, this.tracker.concurrency, ([node, records]) =>
      this.followNode(node, records),
    );
    await this.cancelStrays(this.unsettled);
  }

  /**
   * Reads the held tasks from the store's index of leases (never every unfinished task; it parses
   * only the records that changed since its last answer), groups them by node and forwards those
   * without one.
   */
  private async readHeld(): Promise<void> {
    // Cleared before the read: an event during it makes the next round read again.
    this.heldStale = false;
    this.heldReadAt = Date.now();
    const held = await this.store.listHeld(this.owner);
    const byNode = new Map<string, TaskRecord[]>();
    const unsettled: TaskRecord[] = [];
    let unforwarded = false;
    let bound = 0;
    for (const record of held) {
      if (record.node && record.attempts.some((a) => a.unsettled)) unsettled.push(record);
      if (!record.node || !record.remoteId) {
        this.taskNodes.delete(record.id);
        unforwarded = true;
        this.startForward(record);
        continue;
      }
      // Updated in place, not rebuilt: most reads find every task where it was.
      if (this.taskNodes.get(record.id) !== record.node) this.taskNodes.set(record.id, record.node);
      bound++;
      const records = byNode.get(record.node);
      if (records) records.push(record);
      else byNode.set(record.node, [record]);
    }
    if (this.taskNodes.size > bound) this.forgetAllBut(held);
    this.heldByNode = byNode;
    this.unsettled = unsettled;
    this.readNext = unforwarded || unsettled.length > 0;
  }

  /**
   * Asks the nodes where a copy may have been left for it, and cancels it there: the held tasks
   * with an unsettled attempt, and the ended ones that may have a late copy (endedWithStrays).
   */
  private cancelStrays(unsettled: TaskRecord[]): Promise<void> {
    return eachLimited(
      [...unsettled, ...this.endedWithStrays.values()],
      this.tracker.concurrency,
      (record) => this.forwarding.cancelStrayCopies(record, this.actor),
    );
  }

  /** Forgets the nodes of the tasks no longer held (ended, released, taken over). */
  private forgetAllBut(held: TaskRecord[]): void {
    const ids = new Set(held.map((r) => r.id));
    for (const id of this.taskNodes.keys()) if (!ids.has(id)) this.taskNodes.delete(id);
  }

  private async followNode(name: string, records: TaskRecord[]): Promise<void> {
    const node = this.registry.get(name);
    if (!node) {
      // Its tasks are lost like those of a node that forgot them: resubmitted to another node.
      const reason = `node ${name} is no longer configured`;
      for (const { id, remoteId = '' } of records) {
        await this.lost(id, { node: name, remoteId, lostAs: 'SYSTEM_ERROR', reason });
      }
      return;
    }
    let states: Map<string, TesState> | undefined;
    try {
      states = await this.listStates(node, new Set(records.map((r) => r.remoteId ?? '')));
      this.unreachableSince.delete(name);
    } catch (error) {
      // The node is down or erring: its tasks stay as they were and are asked again later, until
      // it has been gone for tracker.nodeLostAfterMs.
      this.registry.report(name, (error as Error).message);
      this.backOff(name);
      this.polls.next({ node: name, ok: false });
      await this.lostIfGone(name, records);
      return;
    }
    this.polledAt.set(name, Date.now());
    this.polls.next({ node: name, ok: true });
    // Most tasks are as the store has them: only the others cost a call or a write.
    const unlike = records.filter(
      (r) => r.cancelRequested || states?.get(r.remoteId ?? '') !== r.state,
    );
    let changed = false;
    // The records of the tasks followed below are written, or found gone: read them again.
    if (unlike.length) this.heldStale = true;
    await eachLimited(unlike, this.tracker.concurrency, async (record) => {
      if (await this.followTask(record, node, states?.get(record.remoteId ?? ''))) changed = true;
    });
    if (changed) this.nodeSchedule.set(name, { nextAt: 0, intervalMs: this.tracker.minPollMs });
    else this.backOff(name);
  }

  /**
   * The states of the wanted remote tasks from the node's task list, newest first, paging only
   * until all are found. Undefined when the node does not serve list (then: one GET per task).
   */
  private async listStates(
    node: TesNode,
    wanted: Set<string>,
  ): Promise<Map<string, TesState> | undefined> {
    if (this.listUnsupported.has(node.name)) return undefined;
    const states = new Map<string, TesState>();
    let pageToken: string | undefined;
    try {
      do {
        const page = await node.client.listTasks({
          view: 'MINIMAL',
          pageSize: MAX_PAGE_SIZE,
          pageToken,
          tagKey: GATEWAY_ID_TAG,
        });
        for (const task of page.tasks) {
          if (wanted.has(task.id)) states.set(task.id, task.state ?? 'UNKNOWN');
        }
        pageToken = page.next_page_token || undefined;
      } while (pageToken && states.size < wanted.size);
    } catch (error) {
      if (
        error instanceof TesNodeError &&
        error.status !== undefined &&
        NO_LIST.has(error.status)
      ) {
        this.logger.warn(
          `node ${node.name} does not serve ListTasks: tracking its tasks one by one`,
        );
        this.listUnsupported.add(node.name);
        return undefined;
      }
      throw error;
    }
    this.registry.report(node.name);
    return states;
  }

  /** Brings one task up to date; true when something changed. */
  private async followTask(
    record: TaskRecord,
    node: TesNode,
    listed: TesState | undefined,
  ): Promise<boolean> {
    const remoteId = record.remoteId ?? '';
    try {
      if (record.cancelRequested) await node.client.cancelTask(remoteId);
      // Missing from the list: ask for it directly (it may be the node's list that is short).
      const state = record.cancelRequested
        ? undefined
        : (listed ?? (await node.client.getTask(remoteId, 'MINIMAL')).state);
      if (state !== undefined && state === record.state) return false;
      await this.apply(record, await node.client.getTask(remoteId, 'FULL'), node);
      return true;
    } catch (error) {
      if (error instanceof TesNodeError && error.kind === 'not-found') {
        const reason = `node ${node.name} no longer knows task ${remoteId}`;
        if (record.cancelRequested) {
          const confirmation = { node: node.name, remoteId, reason };
          await this.lifecycle.confirmCancel(record.id, confirmation, this.actor);
          await this.store.release(this.owner, [record.id]);
        } else {
          await this.lost(record.id, { node: node.name, remoteId, lostAs: 'SYSTEM_ERROR', reason });
        }
        return true;
      }
      this.registry.report(node.name, (error as Error).message);
      return false;
    }
  }

  /**
   * The node has not answered for tracker.nodeLostAfterMs: its tasks are lost, and resubmitted
   * elsewhere where the lifecycle allows it. Their attempts there stay unsettled, so that the copies
   * the node still holds are canceled once it answers again.
   */
  private async lostIfGone(name: string, records: TaskRecord[]): Promise<void> {
    const since = this.unreachableSince.get(name) ?? Date.now();
    this.unreachableSince.set(name, since);
    if (Date.now() - since < this.tracker.nodeLostAfterMs) return;
    const reason = `node ${name} has not answered for more than ${this.tracker.nodeLostAfterMs} ms`;
    for (const { id, remoteId = '' } of records) {
      await this.lost(id, { node: name, remoteId, lostAs: 'SYSTEM_ERROR', reason, orphaned: true });
    }
  }

  /** Keeps an ended task with an unsettled attempt in endedWithStrays, until none is left. */
  private watchEnded(record: TaskRecord): void {
    if (!isTerminal(record.state)) return;
    if (record.attempts.some((a) => a.unsettled)) this.endedWithStrays.set(record.id, record);
    else this.endedWithStrays.delete(record.id);
  }

  /** Forwards a task with no node (from the outbox, or resubmitted), unless one is under way. */
  private startForward(record: TaskRecord): void {
    if (this.stopped || this.forwards.has(record.id)) return;
    const done = this.forwardOne(record)
      .catch((error: unknown) =>
        this.logger.error(`task ${record.id}: forwarding failed: ${String(error)}`),
      )
      .finally(() => {
        this.forwards.delete(record.id);
        this.heldStale = true;
      });
    this.forwards.set(record.id, done);
  }

  private async forwardOne(record: TaskRecord): Promise<void> {
    // Canceled before it reached a node; an attempt in flight is settled by forward() first, so
    // that a copy the node may hold is found and canceled rather than left running.
    if (record.cancelRequested && !record.attempts.some((a) => a.inFlight)) {
      const reason = 'canceled before it was forwarded to a node';
      await this.lifecycle.confirmCancel(record.id, { reason }, this.actor);
      await this.store.release(this.owner, [record.id]);
      return;
    }
    const forwarded = await this.forwarding.forward(record, this.actor);
    if (forwarded && isTerminal(forwarded.state)) await this.store.release(this.owner, [record.id]);
  }

  /**
   * Reports what the node says of the task, as the middlewares' fromNode hooks read it; a lost
   * task goes to another node.
   */
  private async apply(record: TaskRecord, answer: TesTask, node: TesNode): Promise<void> {
    const remoteId = record.remoteId ?? '';
    const hooks = await this.forwarding.hooks.current();
    const read = await hooks.fromNode(
      answer,
      node,
      { taskId: record.id, remoteId },
      record.decisions,
    );
    const remote = read.task;
    if (isLostState(remote.state) && !record.cancelRequested) {
      const reason =
        remote.logs?.flatMap((l) => l.system_logs ?? []).join('; ') || 'no reason given';
      await this.lost(record.id, { node: node.name, remoteId, lostAs: remote.state, reason });
      return;
    }
    // What the hooks did to this node's answers goes with the observation: once per hook and
    // node attempt (read.decisions leaves out those recorded already), not at every poll.
    const observation: Omit<ObservedEvent, 'kind'> = {
      node: node.name,
      remoteId,
      state: remote.state,
      logs: remote.logs ?? [],
      exposePreempted: this.tracker.exposePreempted,
      ...(read.decisions.length > 0 && { decisions: read.decisions }),
    };
    const stored = await this.lifecycle.observed(record.id, observation, this.actor);
    if (!stored || isTerminal(stored.state)) await this.store.release(this.owner, [record.id]);
  }

  /**
   * The node ended the task without running it (PREEMPTED, SYSTEM_ERROR) or forgot it. The
   * lifecycle records the attempt with its reason and either queues the task again (then it is
   * forwarded to a node it has not been on) or ends it in the node's state.
   */
  private async lost(id: string, loss: LossReport): Promise<void> {
    this.heldStale = true;
    const policy = {
      nodes: this.registry.all().map((n) => n.name),
      maxResubmissions: this.tracker.maxResubmissions,
      exposePreempted: this.tracker.exposePreempted,
    };
    const stored = await this.lifecycle.lost(id, loss, policy, this.actor);
    if (stored && needsForwarding(stored)) {
      this.logger.warn(`task ${id} lost on ${loss.node} (${loss.lostAs}): resubmitting`);
      this.startForward(stored);
      return;
    }
    await this.store.release(this.owner, [id]);
  }

  /**
   * How late this tracker is, in seconds: of the nodes it holds tasks on, the longest time since
   * one was last polled (or since this tracker started) beyond its poll interval; 0 when every
   * node was polled within its interval.
   */
  lagSeconds(now = Date.now()): number {
    let lagMs = 0;
    for (const node of this.heldByNode.keys()) {
      const intervalMs = this.nodeSchedule.get(node)?.intervalMs ?? this.tracker.minPollMs;
      const since = this.polledAt.get(node) ?? this.startedAt;
      lagMs = Math.max(lagMs, now - since - intervalMs);
    }
    return lagMs / 1000;
  }

  private backOff(node: string): void {
    const previous = this.nodeSchedule.get(node)?.intervalMs ?? this.tracker.minPollMs;
    const intervalMs = Math.min(previous * 2, this.tracker.maxPollMs);
    this.nodeSchedule.set(node, { nextAt: Date.now() + intervalMs, intervalMs });
  }
}
