import type { HttpService } from '@nestjs/axios';
import type { ModuleRef } from '@nestjs/core';
import { loadConfig } from '@protes/config';
import type { TaskStore } from '@protes/persistence';
import axios from 'axios';
import { NodeRegistry } from '../../node-registry';
import { registryAvailability } from './node-availability';

/** A real registry (never probing: not bootstrapped) with two nodes; `a` fails on one failure. */
function registry(): NodeRegistry {
  const config = loadConfig({
    PROTES_NODES: JSON.stringify([
      {
        name: 'a',
        url: 'http://127.0.0.1:9/ga4gh/tes/v1',
        region: 'eu',
        health: { failureThreshold: 1, coolDownMs: 60_000 },
      },
      { name: 'b', url: 'http://127.0.0.1:9/ga4gh/tes/v1' },
    ]),
  });
  const http = { axiosRef: axios.create() } as unknown as HttpService;
  return new NodeRegistry(config, http, {} as TaskStore);
}

const refOf = (found: unknown): ModuleRef =>
  ({
    get: () => {
      if (found === undefined) throw new Error('not found');
      return found;
    },
  }) as unknown as ModuleRef;

describe('registryAvailability', () => {
  it('lists the configured nodes with their regions, and none is down at first', () => {
    const nodes = registryAvailability(refOf(registry()), 10_000);
    expect(nodes.nodes()).toEqual([
      { name: 'a', region: 'eu' },
      { name: 'b', region: undefined },
    ]);
    expect(nodes.downForMs('a')).toBeUndefined();
    expect(nodes.downForMs('ghost')).toBeUndefined();
  });

  it('gives a node whose breaker is open the time left of its cool-down', () => {
    const nodes = registry();
    nodes.report('a', 'connection refused');
    const ms = registryAvailability(refOf(nodes), 10_000).downForMs('a');
    expect(ms).toBeGreaterThan(59_000);
    expect(ms).toBeLessThanOrEqual(60_000);
  });

  it('gives the call timeout while a half-open trial is under way', () => {
    let now = 0;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const nodes = registry();
      nodes.report('a', 'connection refused');
      now = 60_000; // half-open
      expect(nodes.admit('a')).toBe(true); // the trial
      expect(registryAvailability(refOf(nodes), 7_000).downForMs('a')).toBe(7_000);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('knows no node in a process without a registry', () => {
    const nodes = registryAvailability(refOf(undefined), 10_000);
    expect(nodes.nodes()).toEqual([]);
    expect(nodes.downForMs('a')).toBeUndefined();
  });
});
