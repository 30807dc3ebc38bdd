import { Injectable } from '@nestjs/common';

/** The TES routes, by the names `GET /sim/stats` counts them under. */
export const SIM_ROUTES = [
  'GET /service-info',
  'POST /tasks',
  'GET /tasks',
  'GET /tasks/:id',
  'POST cancel',
] as const;
export type SimRouteName = (typeof SIM_ROUTES)[number];

/** Requests the node received per TES route, including those it answered with an error. */
@Injectable()
export class SimStatsService {
  private counts = SimStatsService.zero();

  count(route: SimRouteName): void {
    this.counts[route] += 1;
  }

  requests(): Record<SimRouteName, number> {
    return { ...this.counts };
  }

  reset(): void {
    this.counts = SimStatsService.zero();
  }

  private static zero(): Record<SimRouteName, number> {
    return Object.fromEntries(SIM_ROUTES.map((r) => [r, 0])) as Record<SimRouteName, number>;
  }
}
