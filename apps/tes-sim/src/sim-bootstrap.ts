import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp, listen, logLevelsFrom } from '@protes/server';
import { resolveSimConfig, type SimConfig, type SimOptions } from './sim-config';
import { SimOutageService } from './sim-outage.service';
import { SimModule } from './sim.module';

export interface SimulatorHandle {
  /** Base URL of the node, e.g. `http://127.0.0.1:41234`; TES lives under `/ga4gh/tes/v1`. */
  url: string;
  /** The TES base URL: `${url}/ga4gh/tes/v1`. */
  tesUrl: string;
  host: string;
  port: number;
  config: SimConfig;
  app: NestFastifyApplication;
  /** Resolves once the node accepts connections: at once, or after a `refuseMs` outage at start. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Close on SIGTERM/SIGINT (the CLI wants this; a test does not). */
  shutdownHooks?: boolean;
}

/**
 * Starts a simulated TES node in this process and resolves once its port is bound. Used by the CLI
 * and by tests alike. Options are checked as the flags are; a bad one throws a SimConfigError.
 */
export async function startSimulator(
  options: SimOptions | SimConfig = {},
  start: StartOptions = {},
): Promise<SimulatorHandle> {
  const config = resolveSimConfig(options);
  const app = await createHttpApp(SimModule.forRoot(config), {
    logger: logLevelsFrom(config.logLevel),
    shutdownSignals: start.shutdownHooks ? ['SIGTERM', 'SIGINT'] : false,
  });

  const outage = app.get(SimOutageService);
  let bound: { url: string; port: number };
  try {
    outage.error(config.errorMs);
    bound = await listen(app, config.host, config.port);
    outage.refuse(config.refuseMs);
  } catch (error) {
    await app.close();
    throw error;
  }

  const { url, port } = bound;
  let closing: Promise<void> | undefined;
  return {
    url,
    tesUrl: `${url}/ga4gh/tes/v1`,
    host: config.host,
    port,
    config,
    app,
    ready: outage.whenAccepting(),
    close: () => (closing ??= app.close()),
  };
}

/** The line the CLI prints once the node accepts connections; tests and the demo parse it. */
export const listeningLine = (handle: Pick<SimulatorHandle, 'config' | 'url'>): string =>
  `tes-sim ${handle.config.name} listening on ${handle.url}`;
