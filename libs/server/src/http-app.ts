import { type DynamicModule, type LoggerService, type LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { installProtocol, protocolOptions } from './http-protocol';
import { Metrics, MetricsModule } from './metrics';
import { installRequestLog, requestIdOf } from './request-log';

export interface HttpAppOptions {
  /** A logger, the levels for Nest's default one, or false for none. */
  logger: LoggerService | LogLevel[] | false;
  /** Largest request body accepted, in bytes (413 beyond). Fastify's default (1 MiB) if absent. */
  bodyLimit?: number;
  /** Deepest nesting of a JSON body (400 beyond); MAX_JSON_DEPTH if absent. */
  maxJsonDepth?: number;
  /** Close the application on these signals (a CLI wants this; a test does not). */
  shutdownSignals?: string[] | boolean;
}

/**
 * A Nest application on Fastify that speaks HTTP as every proTES process does (http-protocol.ts:
 * bodies read as JSON whatever their content type, 405 with Allow, JSON refusals), not yet
 * listening, with a request id, an access log line and HTTP metrics for every request, and the
 * process's Prometheus metrics at `/metrics` (request-log.ts, metrics.ts). The gateway, the
 * tracker and the simulator are all built by it.
 */
export async function createHttpApp(
  module: DynamicModule,
  { logger, bodyLimit = 1024 * 1024, maxJsonDepth, shutdownSignals = true }: HttpAppOptions,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ ...protocolOptions(bodyLimit), genReqId: requestIdOf });
  const metrics = new Metrics();
  // Before Nest registers its routes and parsers.
  installProtocol(adapter.getInstance(), maxJsonDepth);
  installRequestLog(adapter.getInstance(), metrics);
  // The app's module, with the process's metrics (and /metrics) beside it.
  @Module({ imports: [module, MetricsModule.forRoot(metrics)] })
  class HttpAppModule {}
  const app = await NestFactory.create<NestFastifyApplication>(HttpAppModule, adapter, {
    logger,
    bodyParser: false,
    abortOnError: false,
  });
  if (shutdownSignals === true) app.enableShutdownHooks();
  else if (Array.isArray(shutdownSignals)) app.enableShutdownHooks(shutdownSignals);
  return app;
}

/** `host` as it goes in a URL: IPv6 addresses in brackets. */
export const hostForUrl = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** Listens on `host`:`port` (0: a free port) and resolves with the base URL and the bound port. */
export async function listen(
  app: NestFastifyApplication,
  host: string,
  port: number,
): Promise<{ url: string; port: number }> {
  await app.listen(port, host);
  const bound = (app.getHttpServer().address() as AddressInfo).port;
  return { url: `http://${hostForUrl(host)}:${bound}`, port: bound };
}
