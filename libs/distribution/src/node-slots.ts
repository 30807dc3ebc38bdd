/**
 * At most `perNode` calls in flight to each node; further callers wait their turn, first come,
 * first served. The outbox (tasks stored, not yet forwarded) can hold any number of tasks for a
 * node: this is what keeps a burst of them from opening as many connections to it at once.
 */
export class NodeSlots {
  private readonly busy = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private closed = false;

  constructor(private readonly perNode: number) {}

  /**
   * For a process that stops: the callers waiting for a slot, and any later one, run at once. Their
   * work is expected to see that the process stops and send nothing; the counts no longer matter.
   */
  close(): void {
    this.closed = true;
    for (const queue of this.waiting.values()) for (const wake of queue.splice(0)) wake();
  }

  /** Runs `work` once one of the node's slots is free, and frees it when `work` settles. */
  async run<T>(node: string, work: () => Promise<T>): Promise<T> {
    if (!this.closed && (this.busy.get(node) ?? 0) >= this.perNode) {
      await new Promise<void>((resolve) =>
        this.waiting.set(node, [...(this.waiting.get(node) ?? []), resolve]),
      );
    } else {
      this.busy.set(node, (this.busy.get(node) ?? 0) + 1);
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so the count stays as it is.
      const next = this.waiting.get(node)?.shift();
      if (next) next();
      else this.busy.set(node, (this.busy.get(node) ?? 1) - 1);
    }
  }
}
