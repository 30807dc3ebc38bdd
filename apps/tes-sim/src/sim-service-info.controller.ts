import { Controller, Get, Inject } from '@nestjs/common';
import type { TesServiceInfo } from '@protes/tes';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { SimRoute } from './sim-route.decorator';
import { TES_BASE_PATH } from './sim-tasks.controller';

export const SIM_VERSION = '0.1.0';

/** service-info plus where the node is, for the gateway's distance-based placement. */
export type SimServiceInfo = TesServiceInfo & {
  location?: { latitude: number; longitude: number };
};

@Controller(TES_BASE_PATH)
export class SimServiceInfoController {
  private readonly startedAt = new Date().toISOString();

  constructor(@Inject(SIM_CONFIG) private readonly config: SimConfig) {}

  @Get('service-info')
  @SimRoute('GET /service-info')
  serviceInfo(): SimServiceInfo {
    const { latitude, longitude } = this.config;
    const info: SimServiceInfo = {
      id: this.config.id,
      name: this.config.name,
      type: { group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' },
      description: `proTES TES node simulator "${this.config.name}": runs no containers`,
      organization: { name: 'proTES', url: 'https://github.com/elixir-cloud-aai/proTES' },
      createdAt: this.startedAt,
      updatedAt: this.startedAt,
      environment: 'simulator',
      version: SIM_VERSION,
      storage: ['file:///sim'],
    };
    if (latitude !== undefined && longitude !== undefined) info.location = { latitude, longitude };
    return info;
  }
}
