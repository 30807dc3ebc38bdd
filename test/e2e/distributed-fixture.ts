import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteTaskStore } from '@protes/persistence';
import { startGateway, startTracker, type Started } from '../../scripts/processes';
import { AMQP_URL, CheckedApi, deleteQueue, distributedEnv, startSimulators } from './helpers';

/*
 * What the distributed-mode suites share: a gateway, tracker processes and simulated TES nodes
 * started for real (the compiled apps, `npm run build`), all on one SQLite file and one RabbitMQ
 * queue of the suite's own, so that suites running side by side do not see each other's events.
 */

/** The simulated nodes of every distributed suite. */
const NODE_NAMES = ['alpha', 'beta', 'gamma'] as const;

/** Says, in the log and as a pending test, that `suite` needs TEST_AMQP_URL to run. */
export function skippedWithoutBroker(suite: string): void {
  const why = `TEST_AMQP_URL not set: ${suite} skipped`;
  console.warn(why);
  describe(suite, () => {
    it.todo(why);
  });
}

export interface ClusterOptions {
  /** The suite's run id: it names the queue and the scratch folder. */
  run: string;
  /** The simulators' command-line arguments (how long their tasks take, how slow they answer). */
  simArgs: readonly string[];
  /** Variables every process of the cluster gets on top of distributedEnv's. */
  env?: Record<string, string>;
}

/**
 * One suite's processes: created idle (the suite keeps it in a module constant), started by
 * start() in beforeAll and stopped by stop() in afterAll, which also deletes the queue and the
 * folder. The sims map and trackers array are the ones the suite reads and changes: a stopped
 * tracker the suite takes out is not stopped again.
 */
export class DistributedCluster {
  readonly queue: string;
  readonly sims = new Map<string, Started>();
  /** The trackers running now, oldest first. */
  readonly trackers: Started[] = [];
  private gateway?: Started;
  private dir = '';

  constructor(private readonly options: ClusterOptions) {
    this.queue = `protes.e2e.${options.run}`;
  }

  /** The environment of a gateway or tracker of this cluster. */
  env(): NodeJS.ProcessEnv {
    return distributedEnv(
      this.dir,
      this.sims,
      { url: AMQP_URL ?? '', queue: this.queue },
      this.options.env,
    );
  }

  /**
   * Starts the simulators, the gateway, then `trackers` trackers one after the other; gives the
   * gateway's API. What started before a failure is still stopped by stop().
   */
  async start(trackers = 0): Promise<CheckedApi> {
    this.dir = mkdtempSync(join(tmpdir(), `protes-${this.options.run}-`));
    await startSimulators(NODE_NAMES, [...this.options.simArgs], this.sims);
    this.gateway = await startGateway(this.env());
    const api = new CheckedApi(this.gateway.url);
    for (let i = 0; i < trackers; i++) await this.addTracker();
    return api;
  }

  /** Starts one more tracker, last in `trackers`. */
  async addTracker(): Promise<Started> {
    const tracker = await startTracker(this.env());
    this.trackers.push(tracker);
    return tracker;
  }

  /** The store file the processes share, opened as a further process would (close it after). */
  openStore(): SqliteTaskStore {
    return new SqliteTaskStore({ path: join(this.dir, 'protes.db') });
  }

  /** Every process of the cluster running now. */
  processes(): Started[] {
    return [...this.trackers, ...(this.gateway ? [this.gateway] : []), ...this.sims.values()];
  }

  /** Stops the trackers, then the gateway, then the nodes; deletes the queue and the folder. */
  async stop(): Promise<void> {
    await Promise.all(this.trackers.map((t) => t.stop()));
    await this.gateway?.stop();
    await Promise.all([...this.sims.values()].map((s) => s.stop()));
    if (AMQP_URL) await deleteQueue(AMQP_URL, this.queue);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
