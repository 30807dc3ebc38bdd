import type { Type } from '@nestjs/common';
import { ClientPreferenceMiddleware } from './client-preference.middleware';
import { DataAccessMiddleware } from './data-access.middleware';
import { DataUseMiddleware } from './data-use.middleware';
import { DistanceMiddleware } from './distance.middleware';
import { LeastLoadedMiddleware } from './least-loaded.middleware';
import { RandomMiddleware } from './random.middleware';
import { ResourcesMiddleware } from './resources.middleware';
import { RoundRobinMiddleware } from './round-robin.middleware';
import { TesCompatMiddleware } from './tes-compat.middleware';
import type { BuiltinMiddleware } from './settings';
import { WeightedMiddleware } from './weighted.middleware';

export {
  ClientPreferenceMiddleware,
  DataAccessMiddleware,
  DataUseMiddleware,
  DistanceMiddleware,
  LeastLoadedMiddleware,
  RandomMiddleware,
  ResourcesMiddleware,
  RoundRobinMiddleware,
  TesCompatMiddleware,
  WeightedMiddleware,
};
export {
  NODE_AVAILABILITY,
  type NodeAvailability,
  registryAvailability,
} from './node-availability';
export { RANDOM_SOURCE, type RandomSource } from './ordering';
export type { BuiltinMiddleware } from './settings';

/**
 * Every built-in, to register as providers; each is found by its `name`. Each can also be made
 * with `new` alone (every dependency is optional), as the reference generator does.
 */
export const BUILTIN_MIDDLEWARES: readonly Type<BuiltinMiddleware>[] = [
  RandomMiddleware,
  RoundRobinMiddleware,
  WeightedMiddleware,
  LeastLoadedMiddleware,
  DistanceMiddleware,
  DataAccessMiddleware,
  DataUseMiddleware,
  ResourcesMiddleware,
  ClientPreferenceMiddleware,
  TesCompatMiddleware,
];
