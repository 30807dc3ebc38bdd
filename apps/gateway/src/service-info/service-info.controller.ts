import { Controller, Get, Inject } from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import { NodeRegistry, type NodeStatus } from '@protes/distribution';
import type { TesServiceInfo } from '@protes/tes';

/** The federation as a client may see it: node names and health, never URLs or credentials. */
export interface FederationInfo {
  nodes: NodeStatus[];
}

export const GATEWAY_VERSION = '0.1.0';

@Controller('ga4gh/tes/v1')
export class ServiceInfoController {
  private readonly startedAt = new Date().toISOString();

  constructor(
    @Inject(protesConfig.KEY) private readonly config: ProtesConfig,
    private readonly registry: NodeRegistry,
  ) {}

  @Get('service-info')
  async serviceInfo(): Promise<TesServiceInfo & { protes: FederationInfo }> {
    const { service } = this.config;
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
      storage: service.storage,
      protes: { nodes: await this.registry.status() },
    };
  }
}
