import { Injectable } from '@nestjs/common';
import { BREAKER_STATES, NodeRegistry } from '@protes/distribution';
import { Metrics } from '@protes/server';

/**
 * Each node's health, circuit-breaker state, consecutive failures and load, read from the node
 * registry when /metrics is scraped.
 */
@Injectable()
export class NodeMetrics {
  constructor(nodes: NodeRegistry, metrics: Metrics) {
    // One read of the registry per scrape, shared by the four gauges.
    let scrape: Promise<void> | undefined;
    const collect = () =>
      (scrape ??= nodes
        .status()
        .then((status) => {
          for (const node of status) {
            healthy.set({ node: node.name }, node.healthy ? 1 : 0);
            failures.set({ node: node.name }, node.failures);
            load.set({ node: node.name }, node.load);
            for (const state of BREAKER_STATES) {
              breaker.set({ node: node.name, state }, node.breaker === state ? 1 : 0);
            }
          }
        })
        .finally(() => (scrape = undefined)));
    const healthy = metrics.gauge(
      'protes_node_healthy',
      '1 when the TES node answers, else 0',
      ['node'],
      collect,
    );
    const breaker = metrics.gauge(
      'protes_node_breaker_state',
      "1 for the node's current circuit-breaker state, 0 for the others",
      ['node', 'state'],
      collect,
    );
    const failures = metrics.gauge(
      'protes_node_consecutive_failures',
      'calls to the node that failed in a row',
      ['node'],
      collect,
    );
    const load = metrics.gauge(
      'protes_node_load',
      'tasks forwarded to the node and not finished yet',
      ['node'],
      collect,
    );
  }
}
