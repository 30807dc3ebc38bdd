import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TesTask } from '@protes/tes';
import { startGateway, startSimulator, startTracker, type Started } from '../../scripts/processes';
import { CheckedApi, e2eGatewayEnv, metadataOf, simCall, TES_PATH } from './helpers';

/*
 * What the outbox suites share: simulator nodes and gateways started for real (the compiled apps,
 * `npm run build`), each scenario on its own store, and the copies of a task counted on the nodes
 * themselves by the `protes_id` tag the gateway puts on every task it forwards.
 *
 * A node is made "slower than any timeout" by pausing its process (SIGSTOP): it accepts
 * connections but answers nothing until it is resumed (SIGCONT), and then handles what it was sent
 * meanwhile, as a slow node does.
 */

const GATEWAY_ID_TAG = 'protes_id';
export const SIM_ARGS = ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '100'];
/** Keeps a task RUNNING on its node for the length of a scenario. */
export const LONG = { 'sim.run_ms': '600000' };
export const SCENARIO_MS = 120_000;
/** Breakers that close soon after a paused node is resumed, so that it is asked again soon. */
const HEALTH = { probeIntervalMs: 500, failureThreshold: 3, coolDownMs: 1000 };

export interface Node {
  name: string;
  started: Started;
}

/** A history entry as `protes_history` shows it. */
export interface HistoryEntry {
  event: string;
  to: string;
  node?: string;
  note?: string;
  by: { kind: string; id?: string };
}

/** Pauses or resumes the node's process: paused, it answers nothing, yet keeps every request. */
export const pause = (node: Node) => node.started.child.kill('SIGSTOP');
export const resume = (node: Node) => node.started.child.kill('SIGCONT');

export const historyOf = (task: TesTask): HistoryEntry[] =>
  JSON.parse(metadataOf(task).protes_history ?? '[]') as HistoryEntry[];

/** The node's copies of a gateway task (found by its tag), in any state. */
export async function copiesOn(node: Node, id: string): Promise<TesTask[]> {
  const { status, body } = await simCall<{ tasks: TesTask[] }>(
    `${node.started.url}${TES_PATH}/tasks?view=MINIMAL&tag_key=${GATEWAY_ID_TAG}&tag_value=${id}`,
  );
  expect(status).toBe(200);
  return body.tasks;
}

/** Copies of the task over all nodes that were not canceled: what runs, or ran, for it. */
export async function liveCopies(nodes: Node[], id: string): Promise<TesTask[]> {
  const all = await Promise.all(nodes.map((n) => copiesOn(n, id)));
  return all.flat().filter((t) => t.state !== 'CANCELED' && t.state !== 'CANCELING');
}

/**
 * The processes of one suite, in a scratch folder made by open(): started through it, stopped by
 * close().
 */
export class OutboxLab {
  private dir = '';
  private readonly processes: Started[] = [];
  readonly gateways: Started[] = [];

  constructor(private readonly simArgs = SIM_ARGS) {}

  open(): void {
    this.dir = mkdtempSync(join(tmpdir(), 'protes-outbox-'));
  }

  async node(name: string, args: string[] = []): Promise<Node> {
    const started = await startSimulator({ name, args: [...this.simArgs, ...args] });
    this.processes.push(started);
    return { name, started };
  }

  /** A gateway over `nodes` (in this order: the empty chain keeps it), on the store `label`. */
  async gateway(
    label: string,
    nodes: Node[],
    extra: Record<string, string> = {},
  ): Promise<{ gateway: Started; api: CheckedApi }> {
    const gateway = await startGateway(this.env(label, nodes, extra));
    this.processes.push(gateway);
    this.gateways.push(gateway);
    return { gateway, api: new CheckedApi(gateway.url) };
  }

  /** A tracker process beside such a gateway (distributed mode: `extra` names the bus). */
  async tracker(label: string, nodes: Node[], extra: Record<string, string>): Promise<Started> {
    const tracker = await startTracker(this.env(label, nodes, extra));
    this.processes.push(tracker);
    return tracker;
  }

  private env(label: string, nodes: Node[], extra: Record<string, string>) {
    return e2eGatewayEnv(
      this.dir,
      nodes.map((n) => ({ name: n.name, url: `${n.started.url}${TES_PATH}`, health: HEALTH })),
      {
        PROTES_STORE__SQLITE_PATH: join(this.dir, `${label}.db`),
        PROTES_MIDDLEWARE__CHAIN: '[]',
        PROTES_TRACKER__LEASE_MS: '2000',
        PROTES_FORWARDING__TIMEOUT_MS: '1000',
        ...extra,
      },
    );
  }

  /** Resumes paused nodes (a stopped process ignores SIGTERM), stops everything, removes the folder. */
  async close(): Promise<void> {
    for (const p of this.processes) if (p.child.exitCode === null) p.child.kill('SIGCONT');
    await Promise.all(this.gateways.map((g) => g.stop()));
    await Promise.all(this.processes.map((p) => p.stop()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The lab of the suite that calls this at its top: opened before its tests, closed after them. */
export function suiteLab(): OutboxLab {
  const lab = new OutboxLab();
  beforeAll(() => lab.open());
  afterAll(() => lab.close(), 30_000);
  return lab;
}
