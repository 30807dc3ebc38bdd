import type { ModuleRef } from '@nestjs/core';
import { lazyNodeRegistry } from '../../node-registry';
import { MiddlewareRejection } from '../middleware';

/** A configured node as NodeAvailability shows it: where it is, not how to reach it. */
export interface AvailableNode {
  name: string;
  region?: string;
  tags?: Readonly<Record<string, string>>;
}

/** What a middleware may know of the configured nodes beyond its candidates. */
export interface NodeAvailability {
  /** Every configured node, with its region and tags. */
  nodes(): readonly AvailableNode[];
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
      (find()?.all() ?? []).map(({ name, metadata }) => ({
        name,
        region: metadata.region,
        tags: metadata.tags,
      })),
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

/**
 * A refusal of a task no candidate can take: 503 with Retry-After (the seconds until the first of
 * them takes calls again) when a configured node that `fits` is down right now, since the same task
 * may be taken then; otherwise `status`. `the node` says in the message what the node is to the
 * task (e.g. "a node it accepts").
 */
export function refusalFor(
  availability: NodeAvailability | undefined,
  fits: (node: AvailableNode) => boolean,
  refusal: { message: string; field: string; status: number; theNode: string },
): MiddlewareRejection {
  const { message, field, status, theNode } = refusal;
  const downForMs = (availability?.nodes() ?? [])
    .filter(fits)
    .flatMap(({ name }) => availability?.downForMs(name) ?? []);
  if (!downForMs.length) return new MiddlewareRejection(message, status, field);
  const seconds = Math.max(1, Math.ceil(Math.min(...downForMs) / 1000));
  return new MiddlewareRejection(
    `${message}: ${theNode} is down right now (retry in ${seconds} s)`,
    503,
    field,
    seconds,
  );
}
