import { Logger, type LogLevel } from '@nestjs/common';
import type { CustomStrategy } from '@nestjs/microservices';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, envNameOf, loadConfig, type ProtesConfig } from '@protes/config';
import { createHttpApp, listen, processLogger } from '@protes/server';
import { TrackerService } from '@protes/tracking';
import { TaskEventServer } from './task-event.server';
import { TrackerAppModule } from './tracker-app.module';

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
  const app = await createHttpApp(TrackerAppModule.forRoot(config), {
    logger: processLogger('proTES tracker', {
      json: config.log.json,
      level: config.log.level as LogLevel,
    }),
  });
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
  const { url } = await listen(app, config.server.host, config.server.port);
  app.startAllMicroservices().catch((error: unknown) => {
    // With unlimited connection attempts (the default) this does not happen; if it does, the
    // tracker still works from the store and /health reports the bus down.
    new Logger('TaskEventServer').error(`the task-event consumer stopped: ${String(error)}`);
  });
  return {
    app,
    url,
    owner: app.get(TrackerService).owner,
  };
}
