import { HttpService } from '@nestjs/axios';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { type NodeConfig, protesConfig, type ProtesConfig } from '@protes/config';
import { TesNodeClient } from '@protes/tes';

/** What the gateway knows of a node's health, from probes and from forwarding. */
export interface NodeHealth {
  healthy: boolean;
  /** When the node last answered or failed, RFC 3339. */
  checkedAt?: string;
  /** The last failure's reason while unhealthy. */
  reason?: string;
  /** The TES version the node reports in its service-info. */
  tesVersion?: string;
}

export interface TesNode {
  name: string;
  url: string;
  client: TesNodeClient;
  health: NodeHealth;
}

const PROBE_INTERVAL_MS = 15_000;

/**
 * The configured TES nodes with one client each. Health is refreshed by a service-info probe on an
 * interval and by every forwarding result, so choosing a node never waits on a probe.
 */
@Injectable()
export class NodeRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(NodeRegistry.name);
  private readonly nodes: Map<string, TesNode>;
  private timer?: NodeJS.Timeout;

  constructor(@Inject(protesConfig.KEY) config: ProtesConfig, http: HttpService) {
    this.nodes = new Map(
      config.nodes.map((node: NodeConfig) => [
        node.name,
        {
          name: node.name,
          url: node.url,
          client: new TesNodeClient(http.axiosRef, node, config.forwarding.timeoutMs),
          health: { healthy: true },
        },
      ]),
    );
  }

  onApplicationBootstrap(): void {
    void this.probeAll();
    this.timer = setInterval(() => void this.probeAll(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
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
    if (node.health.healthy !== healthy) {
      this.logger.warn(
        healthy ? `node ${name} is healthy again` : `node ${name} is unhealthy: ${failure}`,
      );
    }
    node.health = { ...node.health, healthy, checkedAt: new Date().toISOString(), reason: failure };
  }

  private async probeAll(): Promise<void> {
    await Promise.all(
      this.all().map(async (node) => {
        try {
          const info = await node.client.serviceInfo();
          node.health.tesVersion = info.type?.version;
          this.report(node.name);
        } catch (error) {
          this.report(node.name, (error as Error).message);
        }
      }),
    );
  }
}
