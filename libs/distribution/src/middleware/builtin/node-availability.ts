import type { ModuleRef } from '@nestjs/core';
import { lazyNodeRegistry } from '../../node-registry';

/** What a middleware may know of the configured nodes beyond its candidates. */
export interface NodeAvailability {
  /** Every configured node, with its region. */
  nodes(): readonly { name: string; region?: string }[];
  /** Milliseconds until the node takes calls again; undefined when it takes them now. */
  downForMs(name: string): number | undefined;
}
export const NODE_AVAILABILITY = Symbol('NODE_AVAILABILITY');

/**
 * NodeAvailability over the application's NodeRegistry, found when first asked for (the registry
 * belongs to the module that imports the middlewares' module; a process without one knows no node).
 * A node is down while its circuit breaker takes no call: open until its cool-down ends, or
 * half-open with its one trial call under way, which ends within `trialMs` (the call timeout).
 */
export function registryAvailability(moduleRef: ModuleRef, trialMs: number): NodeAvailability {
  const find = lazyNodeRegistry(moduleRef);
  return {
    nodes: () =>
      (find()?.all() ?? []).map(({ name, metadata }) => ({ name, region: metadata.region })),
    downForMs: (name) => {
      const nodes = find();
      if (!nodes?.unavailable().includes(name)) return undefined;
      // The registry shows nodes as TesNode; the breaker's remaining cool-down, when it has one.
      const { breaker } = (nodes.get(name) ?? {}) as {
        breaker?: { remainingCoolDownMs?: unknown };
      };
      const remaining = breaker?.remainingCoolDownMs;
      return typeof remaining === 'number' && remaining > 0 ? remaining : trialMs;
    },
  };
}
