import type { ModuleRef } from '@nestjs/core';
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
import { TaskStore } from '@protes/core';
import type { GeoPoint, NodeCandidate, NodeHealth, NodeMetadata } from '@protes/middleware-sdk';
import { TesNodeClient, type TesServiceInfo } from '@protes/tes';
import { type BreakerState, CircuitBreaker } from './circuit-breaker';

/**
 * A node as /protes/v1/nodes and /health show it: no URL, no credentials. `storage` and
 * `backendParameters` are what is known: configured, else what the node's service-info advertises
 * (absent when neither says).
 */
export interface NodeStatus extends NodeHealth {
  name: string;
  location?: GeoPoint;
  region?: string;
  /** Storage locations: the configured read and write lists together, else the advertised ones. */
  storage?: string[];
  /** The backend parameter keys the node supports: configured, else advertised. */
  backendParameters?: string[];
  breaker: BreakerState;
  /** Consecutive failed calls. */
  failures: number;
  /** Tasks forwarded to it that are not terminal yet. */
  load: number;
}

/** What the nodes support together, for the gateway's own service-info. */
export interface AdvertisedFacts {
  /** Every storage location some node has (configured or advertised), sorted, once each. */
  storage: string[];
  /**
   * Every backend parameter key some node supports (configured or advertised), sorted, once each
   * (keys are case-insensitive: the first spelling in sort order is kept).
   */
  backendParameters: string[];
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

/** Sorted, each once; with `fold`, entries equal after folding count as one. */
function sortedUnique(list: readonly string[], fold = (s: string) => s): string[] {
  const seen = new Set<string>();
  return [...list].sort().filter((entry) => {
    const key = fold(entry);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What a node's service-info says of it (the last successful probe). */
interface Advertised {
  storage?: string[];
  backendParameters?: string[];
}

class RegisteredNode implements TesNode {
  readonly name: string;
  readonly url: string;
  metadata: NodeMetadata;
  readonly breaker: CircuitBreaker;
  readonly probeIntervalMs: number;
  healthy = true;
  checkedAt?: string;
  reason?: string;
  timer?: NodeJS.Timeout;
  private advertised: Advertised = {};
  private tesVersion?: string;

  constructor(
    private readonly config: NodeConfig,
    readonly client: TesNodeClient,
  ) {
    const { probeIntervalMs, ...breaker } = { ...NODE_HEALTH_DEFAULTS, ...config.health };
    this.name = config.name;
    this.url = config.url;
    this.metadata = this.compose();
    this.probeIntervalMs = probeIntervalMs;
    this.breaker = new CircuitBreaker(breaker);
  }

  get health(): NodeHealth {
    const { healthy, checkedAt, reason } = this;
    return { healthy, checkedAt, reason, tesVersion: this.metadata.tesVersion };
  }

  /** Takes in what a successful probe read: the TES version and what the node advertises. */
  learn(info: TesServiceInfo): void {
    this.tesVersion = info.type?.version;
    this.advertised = {
      storage: info.storage,
      backendParameters: info.tesResources_backend_parameters,
    };
    this.metadata = this.compose();
  }

  /** Storage locations: configured (read and write together), else advertised. */
  get storage(): string[] | undefined {
    const { storage } = this.config;
    if (storage) return sortedUnique([...(storage.read ?? []), ...(storage.write ?? [])]);
    return this.advertised.storage && sortedUnique(this.advertised.storage);
  }

  /** The backend parameter keys it supports: configured, else advertised (see backend-parameters.ts). */
  get backendParameters(): string[] | undefined {
    return this.config.resources?.backendParameters ?? this.advertised.backendParameters;
  }

  /**
   * The metadata the chain sees: the configuration, plus what the node advertises. A new object
   * each time, never the configuration's own (candidates get copies of it anyway).
   */
  private compose(): NodeMetadata {
    const { location, region, storage, resources, tags, weight = 1 } = this.config;
    const backendParameters = this.backendParameters;
    const advertisedStorage = this.advertised.storage;
    return {
      location,
      region,
      storage:
        storage || advertisedStorage
          ? { ...storage, ...(advertisedStorage && { advertised: advertisedStorage }) }
          : undefined,
      resources:
        resources || backendParameters
          ? { ...resources, ...(backendParameters && { backendParameters }) }
          : undefined,
      tags,
      weight,
      tesVersion: this.tesVersion,
    };
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

  /** Whether the node would take a call now (without taking its half-open trial). */
  admits(name: string): boolean {
    return this.nodes.get(name)?.breaker.admits ?? false;
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

  /** Unfinished tasks per node (a node without any may be absent), as `candidates` counts them. */
  nodeLoads(): Promise<ReadonlyMap<string, number>> {
    return this.currentLoads();
  }

  /** Counts a task the node accepted, until the next read of the loads from the store. */
  forwarded(name: string): void {
    this.loads.set(name, (this.loads.get(name) ?? 0) + 1);
  }

  /** Every node with its health, what is known of it, its breaker and load. */
  async status(): Promise<NodeStatus[]> {
    const loads = await this.currentLoads();
    return [...this.nodes.values()].map((node) => ({
      name: node.name,
      ...node.health,
      location: node.metadata.location,
      region: node.metadata.region,
      storage: node.storage,
      backendParameters: node.backendParameters,
      breaker: node.breaker.state,
      failures: node.breaker.consecutiveFailures,
      load: loads.get(node.name) ?? 0,
    }));
  }

  /**
   * What the nodes support together (each node: configured, else advertised), whatever their
   * health: the storage locations and backend parameter keys of the gateway's own service-info.
   */
  advertised(): AdvertisedFacts {
    const nodes = [...this.nodes.values()];
    return {
      storage: sortedUnique(nodes.flatMap((node) => node.storage ?? [])),
      backendParameters: sortedUnique(
        nodes.flatMap((node) => node.backendParameters ?? []),
        (key) => key.toLowerCase(),
      ),
    };
  }

  /**
   * Unfinished tasks per node, counted by the store from an index (never by reading the tasks) at
   * most once per LOAD_TTL_MS.
   */
  private async currentLoads(): Promise<ReadonlyMap<string, number>> {
    if (Date.now() - this.loadsAt >= LOAD_TTL_MS) {
      this.loadsRead ??= this.store
        .countActiveByNode()
        .then((loads) => {
          this.loads = loads;
          this.loadsAt = Date.now();
        })
        .finally(() => (this.loadsRead = undefined));
      await this.loadsRead;
    }
    return this.loads;
  }

  /**
   * Probes the node's service-info (reading its TES version, storage locations and backend
   * parameter keys; a failed probe keeps what the last one read) whenever its breaker lets a call
   * through; an open breaker is probed again the moment its cool-down ends, as its trial call.
   */
  private async probe(node: RegisteredNode): Promise<void> {
    if (node.breaker.tryAcquire()) {
      try {
        node.learn(await node.client.serviceInfo());
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

/**
 * The application's NodeRegistry, found when first asked for: it belongs to DistributionModule,
 * which plugins' modules do not import (a process without one knows no node).
 */
export function lazyNodeRegistry(moduleRef: ModuleRef): () => NodeRegistry | undefined {
  let registry: NodeRegistry | null | undefined;
  return () => {
    if (registry === undefined) {
      try {
        registry = moduleRef.get(NodeRegistry, { strict: false });
      } catch {
        registry = null;
      }
    }
    return registry ?? undefined;
  };
}
