import type { Type } from '@nestjs/common';
import { Public } from '@protes/auth';
import { HealthController, MetricsController } from '@protes/server';
import { DocsController } from '../docs/docs.controller';
import { ServiceInfoController } from '../service-info/service-info.controller';

/**
 * Everything the gateway answers without credentials, in one list to review: probes (`/health`,
 * `/health/live`) that Kubernetes and load balancers call without tokens, the Prometheus scrape
 * (`/metrics`: node names, health and load, counts of tasks and requests, no task and no
 * caller), service-info (public in TES
 * practice: clients read it before they authenticate, and it names no caller's data) and the
 * OpenAPI document. Every other route, and every route added later, needs a caller.
 */
export const PUBLIC_CONTROLLERS: readonly Type[] = [
  HealthController,
  MetricsController,
  ServiceInfoController,
  DocsController,
];

/** Marks them as @Public() would, from here rather than in each controller. */
export function markPublicControllers(): void {
  for (const controller of PUBLIC_CONTROLLERS) Public()(controller);
}
