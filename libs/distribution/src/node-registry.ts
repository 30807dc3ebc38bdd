import { HttpService } from '@nestjs/axios';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  NODE_HEALTH_DEFAULTS,
  type NodeConfig,
  protesConfig,
  type ProtesConfig,
} from '@protes/config';
import { TaskStore } from '@protes/persistence';
import { TesNodeClient } from '@protes/tes';
import { type BreakerState, CircuitBreaker } from './circuit-breaker';
import type { NodeCandidate, NodeMetadata } from './middleware/middleware';

/** What the gateway knows of a node's health, from probes and from every call made to it. */
export interface NodeHealth {
  /** Whether the last call (probe, forward, tracking) succeeded. */
  healthy: boolean;
  /** When the node last answered or failed, RFC 3339. */
  checkedAt?: string;
  /** The last failure's reason while unhealthy. */
  reason?: string;
  /** The TES version the node reports in its service-info. */
  tesVersion?: string;
}

/** A node as service-info and /health show it: no URL, no credentials. */
export interface NodeStatus extends NodeHealth {
  name: string;
  breaker: BreakerState;
  /** Consecutive failed calls. */
  failures: number;
  /** Tasks forwarded to it that are not terminal yet. */
  load: number;
}

export interface TesNode {
  name: string;
  url: string;
  client: TesNodeClient;
  readonly health: NodeHealth;
  readonly metadata: NodeMetadata;
}

/** How long node loads read from the store are reused (forwarding adds to them meanwhile). */
const LOAD_TTL_MS = 1000;

class RegisteredNode implements TesNode {
  readonly name: string;
  readonly url: string;
  readonly metadata: NodeMetadata;
  readonly breaker: CircuitBreaker;
  readonly probeIntervalMs: number;
  healthy = true;
  checkedAt?: string;
  reason?: string;
  timer?: NodeJS.Timeout;

  constructor(
    config: NodeConfig,
    readonly client: TesNodeClient,
  ) {
    const { location, region, storage, resources, tags, weight = 1 } = config;
    const { probeIntervalMs, ...breaker } = { ...NODE_HEALTH_DEFAULTS, ...config.health };
    this.name = config.name;
    this.url = config.url;
    this.metadata = { location, region, storage, resources, tags, weight };
    this.probeIntervalMs = probeIntervalMs;
    this.breaker = new CircuitBreaker(breaker);
  }

  get health(): NodeHealth {
    const { healthy, checkedAt, reason } = this;
    return { healthy, checkedAt, reason, tesVersion: this.metadata.tesVersion };
  }
}

/**
 * The configured TES nodes, each with a client, its metadata for the middleware chain, and a
 * circuit breaker fed by service-info probes (on an interval per node) and by the outcome of every
 * forwarding and tracking call. Nodes whose breaker is open are no candidates. Choosing a node never
 * waits on a probe.
 */
@Injectable()
export class NodeRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(NodeRegistry.name);
  private readonly nodes: Map<string, RegisteredNode>;
  private loads = new Map<string, number>();
  private loadsAt = -Infinity;
  private loadsRead?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(protesConfig.KEY) config: ProtesConfig,
    http: HttpService,
    private readonly store: TaskStore,
  ) {
    this.nodes = new Map(
      config.nodes.map((node) => [
        node.name,
        new RegisteredNode(
          node,
          new TesNodeClient(http.axiosRef, node, config.forwarding.timeoutMs),
        ),
      ]),
    );
  }

  onApplicationBootstrap(): void {
    for (const node of this.nodes.values()) this.scheduleProbe(node, 0);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const node of this.nodes.values()) clearTimeout(node.timer);
  }

  all(): TesNode[] {
    return [...this.nodes.values()];
  }

  get(name: string): TesNode | undefined {
    return this.nodes.get(name);
  }

  /** Records the outcome of any call to a node (forward, track, cancel, probe). */
  report(name: string, failure?: string): void {
    const node = this.nodes.get(name);
    if (!node) return;
    const healthy = failure === undefined;
    const wasClosed = node.breaker.state === 'closed';
    if (healthy) node.breaker.success();
    else node.breaker.failure();
    if (node.healthy !== healthy) {
      this.logger.warn(
        healthy ? `node ${name} is healthy again` : `node ${name} is unhealthy: ${failure}`,
      );
    }
    const closed = node.breaker.state === 'closed';
    if (wasClosed && !closed) {
      const { consecutiveFailures } = node.breaker;
      this.logger.warn(`node ${name}: circuit open after ${consecutiveFailures} failures in a row`);
    } else if (!wasClosed && closed) {
      this.logger.warn(`node ${name}: circuit closed`);
    }
    node.healthy = healthy;
    node.reason = failure;
    node.checkedAt = new Date().toISOString();
  }

  /**
   * Asks to send a call to the node now: false while its breaker is open, or half-open with its one
   * trial call already under way. The caller must report the outcome.
   */
  admit(name: string): boolean {
    return this.nodes.get(name)?.breaker.tryAcquire() ?? false;
  }

  /** The nodes a task may go to now (breaker not open), in configuration order, as snapshots. */
  async candidates(exclude: ReadonlySet<string> = new Set()): Promise<NodeCandidate[]> {
    const loads = await this.currentLoads();
    return [...this.nodes.values()]
      .filter((node) => !exclude.has(node.name) && node.breaker.admits)
      .map((node) => ({
        name: node.name,
        health: node.health,
        metadata: structuredClone(node.metadata),
        load: loads.get(node.name) ?? 0,
      }));
  }

  /** The nodes that take no call now: breaker open, or half-open with its trial under way. */
  unavailable(): string[] {
    return [...this.nodes.values()].filter((n) => !n.breaker.admits).map((n) => n.name);
  }

  /** Counts a task the node accepted, until the next read of the loads from the store. */
  forwarded(name: string): void {
    this.loads.set(name, (this.loads.get(name) ?? 0) + 1);
  }

  /** Every node with its health, breaker and load. */
  async status(): Promise<NodeStatus[]> {
    const loads = await this.currentLoads();
    return [...this.nodes.values()].map((node) => ({
      name: node.name,
      ...node.health,
      breaker: node.breaker.state,
      failures: node.breaker.consecutiveFailures,
      load: loads.get(node.name) ?? 0,
    }));
  }

  /** Unfinished tasks per node, read from the store at most once per LOAD_TTL_MS. */
  private async currentLoads(): Promise<ReadonlyMap<string, number>> {
    if (Date.now() - this.loadsAt >= LOAD_TTL_MS) {
      this.loadsRead ??= this.store
        .listUnfinished()
        .then((records) => {
          const loads = new Map<string, number>();
          for (const { node } of records) if (node) loads.set(node, (loads.get(node) ?? 0) + 1);
          this.loads = loads;
          this.loadsAt = Date.now();
        })
        .finally(() => (this.loadsRead = undefined));
      await this.loadsRead;
    }
    return this.loads;
  }

  /**
   * Probes the node's service-info (reading its TES version) whenever its breaker lets a call
   * through; an open breaker is probed again the moment its cool-down ends, as its trial call.
   */
  private async probe(node: RegisteredNode): Promise<void> {
    if (node.breaker.tryAcquire()) {
      try {
        const info = await node.client.serviceInfo();
        node.metadata.tesVersion = info.type?.version;
        this.report(node.name);
      } catch (error) {
        this.report(node.name, (error as Error).message);
      }
    }
    const { state, remainingCoolDownMs } = node.breaker;
    this.scheduleProbe(node, state === 'open' ? remainingCoolDownMs : node.probeIntervalMs);
  }

  private scheduleProbe(node: RegisteredNode, delayMs: number): void {
    if (this.stopped) return;
    node.timer = setTimeout(() => void this.probe(node), delayMs);
    node.timer.unref();
  }
}
