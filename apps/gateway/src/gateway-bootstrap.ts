import type { LogLevel } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Authenticator } from '@protes/auth';
import { loadConfig, type ProtesConfig } from '@protes/config';
import { createHttpApp, listen, processLogger } from '@protes/server';
import { installHardening } from './common/http-hardening';
import { installApiDocs } from './docs/api-docs-ui';
import { GatewayModule } from './gateway.module';

/** Builds the gateway (not yet listening) from a configuration, for main.ts and for tests. */
export async function createGateway(
  config: ProtesConfig = loadConfig(),
): Promise<NestFastifyApplication> {
  const app = await createHttpApp(GatewayModule.forRoot(config), {
    logger: processLogger('proTES', { json: config.log.json, level: config.log.level as LogLevel }),
    bodyLimit: config.server.bodyLimitBytes,
    maxJsonDepth: config.server.maxJsonDepth,
  });
  const authenticator = app.get(Authenticator);
  await installHardening(app, config.server, (request) => authenticator.callerKey(request.headers));
  await installApiDocs(app);
  return app;
}

/** Starts the gateway and resolves with the URL it listens on. */
export async function startGateway(
  config: ProtesConfig = loadConfig(),
): Promise<{ app: NestFastifyApplication; url: string }> {
  const app = await createGateway(config);
  const { url } = await listen(app, config.server.host, config.server.port);
  return { app, url };
}
