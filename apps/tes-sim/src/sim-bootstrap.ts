import { LOG_LEVELS, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import type { AddressInfo } from 'node:net';
import { resolveSimConfig, type SimConfig, type SimLogLevel, type SimOptions } from './sim-config';
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

/** Nest's levels from the given one up; `silent` turns the logger off. */
export function nestLogLevels(level: SimLogLevel): LogLevel[] | false {
  if (level === 'silent') return false;
  return LOG_LEVELS.slice(LOG_LEVELS.indexOf(level));
}

const hostForUrl = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * Starts a simulated TES node in this process and resolves once its port is bound. Used by the CLI
 * and by tests alike. Options are checked as the flags are; a bad one throws a SimConfigError.
 */
export async function startSimulator(
  options: SimOptions | SimConfig = {},
  start: StartOptions = {},
): Promise<SimulatorHandle> {
  const config = resolveSimConfig(options);
  const app = await NestFactory.create<NestFastifyApplication>(
    SimModule.forRoot(config),
    new FastifyAdapter({ logger: false }),
    { logger: nestLogLevels(config.logLevel), abortOnError: false },
  );
  if (start.shutdownHooks) app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  acceptEmptyJsonBodies(app);

  const outage = app.get(SimOutageService);
  let port: number;
  try {
    outage.error(config.errorMs);
    await app.listen(config.port, config.host);
    ({ port } = app.getHttpServer().address() as AddressInfo);
    outage.refuse(config.refuseMs);
  } catch (error) {
    await app.close();
    throw error;
  }

  const url = `http://${hostForUrl(config.host)}:${port}`;
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

/**
 * Clients differ on cancel: some post no body, some an empty one labelled application/json, which
 * Fastify refuses by default. TES servers accept both, so the simulator does too; anything else
 * goes to Fastify's own JSON parser, prototype-poisoning checks included.
 */
function acceptEmptyJsonBodies(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser<RawServerDefault>('application/json', {}, (request, body, done) => {
    if (body.length === 0) done(null, undefined);
    // Fastify's default parser is synchronous: it answers through `done`.
    else void parseJson(request, body.toString('utf8'), done);
  });
}

/** The line the CLI prints once the node accepts connections; tests and the demo parse it. */
export const listeningLine = (handle: Pick<SimulatorHandle, 'config' | 'url'>): string =>
  `tes-sim ${handle.config.name} listening on ${handle.url}`;
