import { TES_BASE_PATHS } from '../common/tes-base-paths';
import { Controller, Get, Inject } from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import { NodeRegistry } from '@protes/distribution';
import type { TesServiceInfo } from '@protes/tes';

export const GATEWAY_VERSION = '0.1.0';

const union = (...lists: (readonly string[] | undefined)[]): string[] =>
  [...new Set(lists.flatMap((list) => list ?? []))].sort();

/**
 * The service-info of GA4GH service-info 1.0 with TES 1.1's additions, and nothing else: strict
 * clients (py-tes) refuse an answer with a field they do not know. What proTES knows of its nodes
 * is at /protes/v1/nodes.
 */
@Controller(TES_BASE_PATHS)
export class ServiceInfoController {
  private readonly startedAt = new Date().toISOString();

  constructor(
    @Inject(protesConfig.KEY) private readonly config: ProtesConfig,
    private readonly registry: NodeRegistry,
  ) {}

  @Get('service-info')
  serviceInfo(): TesServiceInfo {
    const { service } = this.config;
    // What the federation can read and write, and the backend parameters some node supports.
    const advertised = this.registry.advertised();
    return {
      id: service.id,
      name: service.name,
      type: { group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' },
      description: service.description,
      organization: { name: service.organizationName, url: service.organizationUrl },
      ...(service.contactUrl && { contactUrl: service.contactUrl }),
      ...(service.documentationUrl && { documentationUrl: service.documentationUrl }),
      ...(service.environment && { environment: service.environment }),
      createdAt: this.startedAt,
      updatedAt: this.startedAt,
      version: GATEWAY_VERSION,
      storage: union(service.storage, advertised.storage),
      tesResources_backend_parameters: advertised.backendParameters,
    };
  }
}
