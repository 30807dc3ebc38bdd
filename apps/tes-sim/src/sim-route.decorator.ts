import { Reflector } from '@nestjs/core';
import type { SimRouteName } from './sim-stats.service';

/**
 * Marks a handler as a TES route: counted in the stats, delayed by the configured latency and
 * answered 503 during an error outage. The /sim control routes carry no mark and are never
 * delayed or failed, so a test can always reach them.
 */
export const SimRoute = Reflector.createDecorator<SimRouteName>();
