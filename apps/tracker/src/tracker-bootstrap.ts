import { ConsoleLogger, Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { CustomStrategy } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, envNameOf, loadConfig, type ProtesConfig } from '@protes/config';
import { TrackerService } from '@protes/tracking';
import { TaskEventServer } from './task-event.server';
import { TrackerAppModule } from './tracker-app.module';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Builds the tracker (not yet started) from a configuration, for main.ts and for tests. It serves
 * HTTP (health only) on `server.host`/`server.port`, like the gateway in its own container.
 */
export async function createTracker(
  config: ProtesConfig = loadConfig(),
): Promise<NestFastifyApplication> {
  if (config.bus.driver !== 'rabbitmq') {
    throw new ConfigError(
      `bus.driver: the tracker process needs rabbitmq (${envNameOf(['bus', 'driver'])}); ` +
        'with the in-process bus the gateway runs the tracker itself',
    );
  }
  const logger = new ConsoleLogger('proTES tracker', {
    json: config.log.json,
    logLevels: LEVELS.slice(0, LEVELS.indexOf(config.log.level as LogLevel) + 1),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    TrackerAppModule.forRoot(config),
    new FastifyAdapter(),
    { logger },
  );
  app.enableShutdownHooks();
  app.connectMicroservice<CustomStrategy>({ strategy: app.get(TaskEventServer) });
  return app;
}

export interface StartedTracker {
  app: NestFastifyApplication;
  /** Where /health is served. */
  url: string;
  /** The tracker's name in task leases. */
  owner: string;
}

/**
 * Starts the tracker: its rounds over the store begin, HTTP listens, and the queue is consumed as
 * soon as RabbitMQ answers. It does not wait for RabbitMQ: the store is what it works from, the
 * events only make it faster, and /health says whether they arrive.
 */
export async function startTracker(config: ProtesConfig = loadConfig()): Promise<StartedTracker> {
  const app = await createTracker(config);
  await app.listen(config.server.port, config.server.host);
  app.startAllMicroservices().catch((error: unknown) => {
    // With unlimited connection attempts (the default) this does not happen; if it does, the
    // tracker still works from the store and /health reports the bus down.
    new Logger('TaskEventServer').error(`the task-event consumer stopped: ${String(error)}`);
  });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  return {
    app,
    url: `http://${config.server.host}:${port}`,
    owner: app.get(TrackerService).owner,
  };
}
