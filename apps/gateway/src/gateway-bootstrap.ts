import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, type ProtesConfig } from '@protes/config';
import { installProtocol, protocolOptions } from './common/http-protocol';
import { GatewayModule } from './gateway.module';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Builds the gateway (not yet listening) from a configuration, for main.ts and for tests. */
export async function createGateway(
  config: ProtesConfig = loadConfig(),
): Promise<NestFastifyApplication> {
  const logger = new ConsoleLogger('proTES', {
    json: config.log.json,
    logLevels: LEVELS.slice(0, LEVELS.indexOf(config.log.level as LogLevel) + 1),
  });
  const adapter = new FastifyAdapter(protocolOptions(config.server.bodyLimitBytes));
  // Before Nest registers its routes and parsers: the gateway's own body parser and 405 handling.
  installProtocol(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(config),
    adapter,
    { logger, bodyParser: false },
  );
  app.enableShutdownHooks();
  return app;
}

/** Starts the gateway and resolves with the URL it listens on. */
export async function startGateway(
  config: ProtesConfig = loadConfig(),
): Promise<{ app: NestFastifyApplication; url: string }> {
  const app = await createGateway(config);
  await app.listen(config.server.port, config.server.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  return { app, url: `http://${config.server.host}:${port}` };
}
