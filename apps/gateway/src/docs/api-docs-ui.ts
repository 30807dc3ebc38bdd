import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import fastifySwagger, { type StaticDocumentSpec } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from './openapi';
import { SAME_ORIGIN_CSP_HEADER } from './same-origin-csp';

/** Where the browsable API docs are: the page, and the document as `json` and `yaml` below it. */
export const DOCS_PATH = '/docs';

/**
 * Serves swagger-ui at /docs with the gateway's OpenAPI document (@fastify/swagger in static mode:
 * the document is ours, not derived from routes). These are Fastify routes beside Nest's, so no
 * Nest guard sees them: they are public, as they name no caller's data (see public-routes.ts).
 */
@Injectable()
export class ApiDocsUi implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async onModuleInit(): Promise<void> {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    await fastify.register(fastifySwagger, {
      mode: 'static',
      // The plugin's type knows OpenAPI 3.0 documents only; it serves a 3.1 one as it is.
      specification: { document: openApiDocument() as unknown as StaticDocumentSpec['document'] },
    });
    await fastify.register(fastifySwaggerUi, {
      routePrefix: DOCS_PATH,
      // Its scripts are files (no inline script), so the gateway's same-origin policy suffices.
      staticCSP: SAME_ORIGIN_CSP_HEADER,
      uiConfig: { deepLinking: true, docExpansion: 'list', tryItOutEnabled: false },
    });
  }
}
