import { Controller, Get, Inject } from '@nestjs/common';
import type { TesServiceInfo } from '@protes/tes';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { SimRoute } from './sim-route.decorator';
import { TES_BASE_PATH } from './sim-tasks.controller';

export const SIM_VERSION = '0.1.0';

/**
 * GA4GH service-info 1.0 with TES's additions (`storage`, `tesResources_backend_parameters`) and
 * nothing else: the node's location is not shown (service-info has no field for it; proTES takes
 * node locations from its own configuration). `type.version` is the TES version the node speaks;
 * a 1.0 node has no backend parameters to declare (the configuration refuses them).
 */
export type SimServiceInfo = TesServiceInfo;

@Controller(TES_BASE_PATH)
export class SimServiceInfoController {
  private readonly startedAt = new Date().toISOString();

  constructor(@Inject(SIM_CONFIG) private readonly config: SimConfig) {}

  @Get('service-info')
  @SimRoute('GET /service-info')
  serviceInfo(): SimServiceInfo {
    const { name, execute, backendParameters } = this.config;
    const info: SimServiceInfo = {
      id: this.config.id,
      name,
      type: { group: 'org.ga4gh', artifact: 'tes', version: this.config.tesVersion },
      description: execute
        ? `proTES TES node simulator "${name}": runs task commands as local processes, without containers`
        : `proTES TES node simulator "${name}": runs no containers`,
      organization: { name: 'proTES', url: 'https://github.com/elixir-cloud-aai/proTES' },
      createdAt: this.startedAt,
      updatedAt: this.startedAt,
      environment: 'simulator',
      version: SIM_VERSION,
      storage: [...this.config.storage],
    };
    // Absent unless configured: a node that declares nothing differs from one that declares none.
    if (backendParameters !== undefined) {
      info.tesResources_backend_parameters = [...backendParameters];
    }
    return info;
  }
}
