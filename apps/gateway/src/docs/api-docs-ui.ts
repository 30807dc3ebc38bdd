import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifySwagger, { type StaticDocumentSpec } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { openApiDocument } from './openapi';
import { sameOriginCsp } from './same-origin-csp';

/**
 * The one `<style>` element swagger-ui (5.x, as @fastify/swagger-ui 6 ships it) writes itself, by
 * its hash; everything else it loads is a file. The Chromium test (test/e2e/status-page) fails on
 * any other inline style a newer swagger-ui would add.
 */
const SWAGGER_UI_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/** The policy of the docs pages: the gateway's own, and swagger-ui's one style element. */
export const DOCS_CSP = sameOriginCsp([SWAGGER_UI_STYLE]);

/** Where the browsable API docs are: the page, and the document as `json` and `yaml` below it. */
export const DOCS_PATH = '/docs';

/**
 * Serves swagger-ui at /docs with the gateway's OpenAPI document (@fastify/swagger in static mode:
 * the document is ours, not derived from routes). These are Fastify routes beside Nest's, so no
 * Nest guard sees them: they are public, as they name no caller's data (see public-routes.ts).
 * Registered through Nest's adapter before the application is initialized, like the gateway's
 * other Fastify plugins: a plugin awaited from inside Nest's start-up would boot Fastify's plugin
 * tree before Nest installs its error handler, and parse errors would lose the TES error body.
 */
export async function installApiDocs(app: NestFastifyApplication): Promise<void> {
  await app.register(fastifySwagger, {
    mode: 'static',
    // The plugin's type knows OpenAPI 3.0 documents only; it serves a 3.1 one as it is.
    specification: { document: openApiDocument() as unknown as StaticDocumentSpec['document'] },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PATH,
    // Its scripts are files (no inline script): same-origin, and its one style element.
    staticCSP: DOCS_CSP,
    uiConfig: { deepLinking: true, docExpansion: 'list', tryItOutEnabled: false },
  });
}
