import { Controller, Get, Header } from '@nestjs/common';
import { BREAKER_STATES, NodeRegistry } from '@protes/distribution';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics: the process's own (heap, event loop lag, ...) and, read at scrape time from
 * the node registry, each node's health, circuit-breaker state, consecutive failures and load.
 */
@Controller()
export class MetricsController {
  private readonly registry = new Registry();

  constructor(nodes: NodeRegistry) {
    collectDefaultMetrics({ register: this.registry, prefix: 'protes_' });
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
    const gauge = (name: string, help: string, labelNames: string[] = ['node']) =>
      new Gauge({ name, help, labelNames, registers: [this.registry], collect });
    const healthy = gauge('protes_node_healthy', '1 when the TES node answers, else 0');
    const breaker = gauge(
      'protes_node_breaker_state',
      "1 for the node's current circuit-breaker state, 0 for the others",
      ['node', 'state'],
    );
    const failures = gauge(
      'protes_node_consecutive_failures',
      'calls to the node that failed in a row',
    );
    const load = gauge('protes_node_load', 'tasks forwarded to the node and not finished yet');
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
