import { Injectable } from '@nestjs/common';
import type { TesTaskRequest } from '@protes/tes';
import { NodeRegistry, type TesNode } from './node-registry';

/**
 * Orders the nodes a task may be forwarded to, best first. This is the plain random strategy over
 * the healthy nodes, followed by the unhealthy ones as a last resort (a node marked unhealthy may
 * have recovered since); the middleware chain replaces it with configurable strategies.
 */
@Injectable()
export class NodeSelector {
  constructor(private readonly registry: NodeRegistry) {}

  candidates(_task: TesTaskRequest, exclude: ReadonlySet<string> = new Set()): TesNode[] {
    const usable = this.registry.all().filter((n) => !exclude.has(n.name));
    const healthy = shuffle(usable.filter((n) => n.health.healthy));
    const unhealthy = shuffle(usable.filter((n) => !n.health.healthy));
    return [...healthy, ...unhealthy];
  }

  /** Feeds a forwarding result back into the node's health. */
  report(node: string, failure?: string): void {
    this.registry.report(node, failure);
  }
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
