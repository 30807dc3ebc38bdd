import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder with a package.json, from source or from dist/. */
function repoRoot(dir = __dirname): string {
  return existsSync(join(dir, 'package.json')) ? dir : repoRoot(dirname(dir));
}

/** Where the compiled apps are (`npm run build`): tests and the demo run them as users do. */
export const DIST = join(repoRoot(), 'dist');
export const GATEWAY_MAIN = join(DIST, 'apps/gateway/src/main.js');
export const SIM_MAIN = join(DIST, 'apps/tes-sim/src/main.js');
export const TRACKER_MAIN = join(DIST, 'apps/tracker/src/main.js');

export interface Started {
  child: ChildProcess;
  /** The URL the process printed when it began listening. */
  url: string;
  /** The whole line it printed then (the tracker's names its lease owner). */
  readyLine: string;
  /** Everything it wrote to stderr so far, for failure messages. */
  stderr: () => string;
  /** Everything it wrote to stdout so far (its log lines below error). */
  stdout: () => string;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * Starts a Node program and resolves once it prints a line containing a URL that matches `ready`
 * (the apps print one such line when they listen). Rejects if it exits first or takes too long.
 */
export function startNode(
  main: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    ready: RegExp;
    timeoutMs?: number;
    inheritOutput?: boolean;
    /** Options for Node itself, e.g. `--cpu-prof` (which NODE_OPTIONS does not accept). */
    nodeArgs?: string[];
  },
): Promise<Started> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), main, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (options.inheritOutput) process.stderr.write(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop('SIGKILL');
      reject(
        new Error(`${main} did not start within ${options.timeoutMs ?? 20_000} ms:\n${stderr}`),
      );
    }, options.timeoutMs ?? 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (options.inheritOutput) process.stdout.write(chunk);
      stdout += chunk.toString();
      const match = options.ready.exec(stdout);
      if (match) {
        clearTimeout(timer);
        const readyLine = stdout.slice(stdout.lastIndexOf('\n', match.index) + 1).split('\n')[0];
        resolve({
          child,
          url: match[1],
          readyLine,
          stderr: () => stderr,
          stdout: () => stdout,
          stop,
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${main} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

export const SIM_READY = /tes-sim \S+ listening on (http:\/\/\S+)/;
export const GATEWAY_READY = /proTES gateway listening on (http:\/\/\S+)/;
/** `proTES tracker <owner> listening on <url>`; the URL serves /health. */
export const TRACKER_READY = /proTES tracker \S+ listening on (http:\/\/\S+)/;

export interface SimOptions {
  name: string;
  latitude?: number;
  longitude?: number;
  /** Run the tasks' commands as local processes (`--execute`; see apps/tes-sim/README.md). */
  execute?: boolean;
  /** With `execute`: where the task directories go (`--work-dir`). */
  workDir?: string;
  args?: string[];
}

export function startSimulator(sim: SimOptions, port = 0): Promise<Started> {
  const args = ['--name', sim.name, '--port', String(port)];
  if (sim.latitude !== undefined) args.push('--latitude', String(sim.latitude));
  if (sim.longitude !== undefined) args.push('--longitude', String(sim.longitude));
  if (sim.execute) args.push('--execute');
  if (sim.workDir !== undefined) args.push('--work-dir', sim.workDir);
  return startNode(SIM_MAIN, [...args, ...(sim.args ?? [])], { ready: SIM_READY });
}

/** Starts the gateway; configuration comes as PROTES_* variables (see the README). */
export function startGateway(
  env: NodeJS.ProcessEnv,
  inheritOutput = false,
  nodeArgs: string[] = [],
): Promise<Started> {
  // Authentication and the rate limit are on by default; the demo, benchmarks and tests that do
  // not test them run without (they send thousands of requests from one address), unless the
  // caller or the shell turns them on.
  env = {
    PROTES_AUTH__ENABLED: process.env.PROTES_AUTH__ENABLED ?? 'false',
    PROTES_SERVER__RATE_LIMIT__ENABLED: process.env.PROTES_SERVER__RATE_LIMIT__ENABLED ?? 'false',
    ...env,
  };
  return startNode(GATEWAY_MAIN, [], { env, ready: GATEWAY_READY, inheritOutput, nodeArgs });
}

/**
 * Starts a tracker process (distributed mode: needs PROTES_BUS__DRIVER=rabbitmq and a URL);
 * configuration comes as PROTES_* variables, as for the gateway.
 */
export function startTracker(env: NodeJS.ProcessEnv, inheritOutput = false): Promise<Started> {
  return startNode(TRACKER_MAIN, [], { env, ready: TRACKER_READY, inheritOutput });
}

/**
 * The PROTES_NODES value for a set of running simulators; a node's location, when given, goes in
 * its configuration (where the gateway reads locations from).
 */
export function nodesEnv(
  nodes: { name: string; url: string; location?: { latitude: number; longitude: number } }[],
): string {
  return JSON.stringify(
    nodes.map((n) => ({
      name: n.name,
      url: `${n.url}/ga4gh/tes/v1`,
      ...(n.location && { location: n.location }),
    })),
  );
}
