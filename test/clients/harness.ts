import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, startSimulator, type Started } from '../../scripts/processes';

/**
 * Three simulated TES nodes and the compiled gateway (`npm run build` first), each a real process
 * on an ephemeral port, as the e2e suites start them.
 */

export const NODE_NAMES = ['alpha', 'beta', 'gamma'] as const;
/** The one backend parameter any node supports (declared for alpha only). */
export const SUPPORTED_BACKEND_PARAMETER = 'VmSize';
/** The spec's minimum for inline content; the gateway is run at exactly that limit. */
export const MAX_CONTENT_BYTES = 131_072;
/**
 * Tasks run 2 s on a node unless their tags say otherwise (`sim.run_ms`): long enough that a task a
 * client cancels at once is still running, short enough for shapes that carry no tags
 * (Snakemake's) to complete within a test.
 */
export const DEFAULT_RUN_MS = 2000;
const SIM_ARGS = [
  '--queued-ms',
  '20',
  '--initializing-ms',
  '20',
  '--running-ms',
  String(DEFAULT_RUN_MS),
];

export interface Environment {
  dir: string;
  sims: Map<string, Started>;
  gateway?: Started;
}

export function newEnvironment(): Environment {
  return { dir: mkdtempSync(join(tmpdir(), 'protes-clients-')), sims: new Map() };
}

export async function startEnvironment(env: Environment): Promise<Started> {
  const started = await Promise.allSettled(
    NODE_NAMES.map((name) => startSimulator({ name, args: SIM_ARGS })),
  );
  started.forEach((result, i) => {
    if (result.status === 'fulfilled') env.sims.set(NODE_NAMES[i], result.value);
  });
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;

  const nodes = NODE_NAMES.map((name) => ({
    name,
    url: `${env.sims.get(name)?.url}/ga4gh/tes/v1`,
    ...(name === 'alpha' && { resources: { backendParameters: [SUPPORTED_BACKEND_PARAMETER] } }),
  }));
  env.gateway = await startGateway({
    PROTES_CONFIG: '',
    PROTES_STORE__DRIVER: 'sqlite',
    PROTES_SERVER__PORT: '0',
    PROTES_STORE__SQLITE_PATH: join(env.dir, 'protes.db'),
    PROTES_NODES: JSON.stringify(nodes),
    PROTES_TRACKER__MIN_POLL_MS: '50',
    PROTES_TRACKER__MAX_POLL_MS: '200',
    PROTES_FORWARDING__TIMEOUT_MS: '2000',
    PROTES_TASKS__MAX_CONTENT_BYTES: String(MAX_CONTENT_BYTES),
    PROTES_LOG__LEVEL: 'error',
  });
  return env.gateway;
}

export async function stopEnvironment(env: Environment): Promise<void> {
  await env.gateway?.stop();
  await Promise.all([...env.sims.values()].map((sim) => sim.stop()));
  rmSync(env.dir, { recursive: true, force: true });
}
