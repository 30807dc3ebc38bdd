import type { Type } from '@nestjs/common';
import { Public } from '@protes/auth';
import { HealthController, MetricsController } from '@protes/server';
import { DocsController } from '../docs/docs.controller';
import { ServiceInfoController } from '../service-info/service-info.controller';
import { StatusPageController } from '../status-page/status-page.controller';

/**
 * Everything the gateway answers without credentials, in one list to review: probes (`/health`,
 * `/health/live`) that Kubernetes and load balancers call without tokens, the Prometheus scrape
 * (`/metrics`: node names, health and load, counts of tasks and requests, no task and no caller), service-info (public in TES
 * practice: clients read it before they authenticate, and it names no caller's data), the
 * OpenAPI document, and the status page (`/`, `/status-page/status.js`, `/status-page/status.css`:
 * static files; the page asks for credentials and sends them to the APIs it reads, which keep
 * their own checks). Every other route, and every route added later, needs a caller.
 *
 * The API docs (`/docs`, `/docs/json`, `/docs/yaml`, `/docs/static/*`: swagger-ui and the same
 * document) are public too, though not listed here: they are Fastify routes that Nest's guard never
 * sees (docs/api-docs-ui.ts).
 */
export const PUBLIC_CONTROLLERS: readonly Type[] = [
  HealthController,
  MetricsController,
  ServiceInfoController,
  DocsController,
  StatusPageController,
];

/** Marks them as @Public() would, from here rather than in each controller. */
export function markPublicControllers(): void {
  for (const controller of PUBLIC_CONTROLLERS) Public()(controller);
}
