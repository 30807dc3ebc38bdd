import { Inject, Injectable, Optional } from '@nestjs/common';
import type { TesTaskRequest } from '@protes/tes';
import {
  type GeoPoint,
  MiddlewareError,
  type TaskContext,
  type TaskMiddleware,
} from '../middleware';
import { haversineKm, nodeLocation, parseRegions, type Regions } from './geo';
import { CachedLookup, HOST_LOOKUP, type HostLookup, systemLookup } from './host-lookup';
import { ascending, healthyFirst } from './ordering';
import { booleanSetting, checkKeys, type Settings, settingError } from './settings';
import { remoteInputs } from './task-urls';
import { type LocationRule, parseRules, UrlLocator } from './url-location';

/** Task tag prefix giving an input's size in bytes: `protes.size:<input path>` = "1048576". */
const SIZE_TAG_PREFIX = 'protes.size:';

interface DistanceSettings {
  rules: LocationRule[];
  regions: Regions;
  geoipDatabase?: string;
  weightBySize: boolean;
}

function parseSettings(settings: Settings): DistanceSettings {
  checkKeys(settings, ['rules', 'regions', 'geoipDatabase', 'weightBySize']);
  const regions = parseRegions(settings.regions);
  const { geoipDatabase } = settings;
  if (geoipDatabase !== undefined && (typeof geoipDatabase !== 'string' || !geoipDatabase)) {
    throw settingError('geoipDatabase', 'must be the path of a MaxMind database file');
  }
  return {
    rules: parseRules(settings.rules, regions),
    regions,
    geoipDatabase,
    weightBySize: booleanSetting(settings, 'weightBySize', false),
  };
}

function sizeOf(task: TesTaskRequest, path: string): number | undefined {
  const size = task.tags?.[`${SIZE_TAG_PREFIX}${path}`];
  return size && /^\d+$/.test(size) ? Number(size) : undefined;
}

interface LocatedInput {
  at: GeoPoint;
  weight: number;
}

/**
 * Brings compute to the data: ranks the candidates by the total great-circle distance from the
 * node to each of the task's remote inputs (inline inputs are ignored), optionally weighted by the
 * inputs' sizes. Nearest first; nodes without a location after all located ones; equal totals keep
 * their incoming order; healthy nodes before unhealthy ones.
 */
@Injectable()
export class DistanceMiddleware implements TaskMiddleware {
  readonly name = 'distance';
  private readonly locator: UrlLocator;

  constructor(@Optional() @Inject(HOST_LOOKUP) lookup: HostLookup = systemLookup) {
    this.locator = new UrlLocator(new CachedLookup(lookup));
  }

  async handle(context: TaskContext): Promise<TaskContext> {
    const settings = parseSettings(context.settings);
    const inputs = await this.locateInputs(context.task, settings);
    if (!inputs.length) throw new MiddlewareError('no input of the task could be located');
    const ranked = context.candidates.map((candidate) => {
      const at = nodeLocation(candidate, settings.regions);
      const total = at
        ? inputs.reduce((sum, input) => sum + input.weight * haversineKm(at, input.at), 0)
        : Infinity;
      return { candidate, total };
    });
    if (ranked.length && ranked.every((r) => r.total === Infinity)) {
      throw new MiddlewareError('no candidate node has a location');
    }
    ranked.sort((a, b) => ascending(a.total, b.total));
    return { ...context, candidates: healthyFirst(ranked.map((r) => r.candidate)) };
  }

  /**
   * Inputs that could be located, with their weights: 1 each, or with `weightBySize` their size
   * from the task's `protes.size:<path>` tags (TES inputs carry no size), an input of unknown size
   * weighing as much as the average known one.
   */
  private async locateInputs(
    task: TesTaskRequest,
    settings: DistanceSettings,
  ): Promise<LocatedInput[]> {
    const inputs = remoteInputs(task);
    const places = await Promise.all(
      inputs.map((i) => this.locator.locate(i.url, settings.rules, settings.geoipDatabase)),
    );
    const located = inputs.flatMap((input, i) => {
      const at = places[i];
      return at ? [{ at, size: settings.weightBySize ? sizeOf(task, input.path) : undefined }] : [];
    });
    const known = located.flatMap(({ size }) => (size === undefined ? [] : [size]));
    const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
    return located.map(({ at, size }) => ({ at, weight: size ?? fallback }));
  }
}
