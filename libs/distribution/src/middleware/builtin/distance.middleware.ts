import { Injectable } from '@nestjs/common';
import { type Static, Type } from '@sinclair/typebox';
import type { TesTaskRequest } from '@protes/tes';
import {
  type GeoPoint,
  MiddlewareError,
  SettingsError,
  type SettingsFiles,
  type TaskContext,
} from '../middleware';
import { geoPointSchema, haversineKm, nodeLocation, type Regions } from './geo';
import { HostLookup, type LookupReport, LookupSettingsSchema } from './host-lookup';
import { ascending, healthyFirst } from './ordering';
import type { BuiltinMiddleware, Settings } from './settings';
import { remoteInputs, normalizeUrl } from './task-urls';
import {
  type GeoipDatabase,
  globToRegExp,
  type LocationRule,
  locateAddress,
  openGeoipDatabase,
  placeUrl,
  type UrlPlace,
  URL_MATCH_PROPERTIES,
} from './url-location';

/** Task tag prefix giving an input's size in bytes: `protes.size:<input path>` = "1048576". */
const SIZE_TAG_PREFIX = 'protes.size:';

const RuleSchema = Type.Object(
  {
    ...URL_MATCH_PROPERTIES,
    location: Type.Optional(geoPointSchema('Where that data is.')),
    region: Type.Optional(
      Type.String({ minLength: 1, description: 'Where that data is: a name from `regions`.' }),
    ),
  },
  {
    additionalProperties: false,
    anyOf: [{ required: ['prefix'] }, { required: ['host'] }],
    oneOf: [{ required: ['location'] }, { required: ['region'] }],
    description:
      'Matches with `prefix`, `host` or both (then both must match), and places with `location` or `region` (one of them).',
  },
);

const DistanceSettingsSchema = Type.Object(
  {
    rules: Type.Optional(
      Type.Array(RuleSchema, {
        default: [],
        description:
          'Where data lives. For each remote input, the first rule that matches its URL gives its place.',
      }),
    ),
    regions: Type.Optional(
      Type.Record(Type.String(), geoPointSchema(), {
        default: {},
        description:
          'Named places: for rules (`region`), and for nodes that are configured with a `region` and no `location`.',
      }),
    ),
    geoipDatabase: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'A MaxMind database file (GeoIP2 or GeoLite2 City, `.mmdb`) that places inputs no rule matches, by the address of their host (http, https, ftp, ftps and sftp URLs; host names are looked up as `lookup` says). It is read once, when the chain is set, and only from a directory listed in `middleware.fileDirs`.',
      }),
    ),
    lookup: Type.Optional(LookupSettingsSchema),
    weightBySize: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Weigh each input by its size, from the `protes.size:<path>` tags, instead of counting each input once.',
      }),
    ),
  },
  { additionalProperties: false },
);
type DistanceSettings = Static<typeof DistanceSettingsSchema>;

const DistanceTagsSchema = Type.Object(
  {},
  {
    patternProperties: {
      [`^${SIZE_TAG_PREFIX.replace(/\./g, '\\.')}`]: Type.String({
        title: `${SIZE_TAG_PREFIX}<path>`,
        pattern: '^\\d+$',
        description:
          'The size in bytes of the input whose `path` follows the colon, e.g. `protes.size:/data/in.bam` = `"1048576"` (TES inputs carry no size). Read only with `weightBySize`; an input without a usable size weighs as much as the average input of known size.',
      }),
    },
  },
);

/** The settings as each task uses them, made once per chain. */
export interface DistancePrepared {
  rules: LocationRule[];
  regions: Regions;
  geoip?: GeoipDatabase;
  /** Shared by every task of the chain: its limits hold across them. */
  hosts: HostLookup;
  weightBySize: boolean;
}

function sizeOf(task: TesTaskRequest, path: string): number | undefined {
  const size = task.tags?.[`${SIZE_TAG_PREFIX}${path}`];
  return size && /^\d+$/.test(size) ? Number(size) : undefined;
}

interface LocatedInput {
  at: GeoPoint;
  weight: number;
}

/** What the task was decided without, for the decision's reason; undefined when nothing. */
function lookupNote({ skipped, unanswered }: LookupReport, hosts: HostLookup): string | undefined {
  const without = [
    ...(skipped
      ? [`${skipped} not looked up (over lookup.maxHostsPerTask, ${hosts.options.maxHostsPerTask})`]
      : []),
    ...(unanswered ? [`${unanswered} not answered within ${hosts.deadlineMs} ms`] : []),
  ];
  return without.length
    ? `decided without ${skipped + unanswered} input hosts: ${without.join(', ')}`
    : undefined;
}

/**
 * Brings compute to the data: ranks the candidates by the total great-circle distance from the
 * node to each of the task's remote inputs (inline inputs are ignored), optionally weighted by the
 * inputs' sizes. Nearest first; nodes without a location after all located ones; equal totals keep
 * their incoming order; healthy nodes before unhealthy ones.
 */
@Injectable()
export class DistanceMiddleware implements BuiltinMiddleware<DistancePrepared> {
  readonly name = 'distance';
  readonly description =
    "Brings compute to the data: ranks the candidates by the total great-circle distance from each node to the task's remote inputs (inline inputs do not count), nearest first. An input is placed by the first rule that matches its URL, else by the GeoIP database; a node by its configured `location`, else by its `region` in `regions`. Nodes without a place come after all placed ones, equal totals keep their incoming order, and healthy nodes come before unhealthy ones. It fails (so that a fallback may run) when no input or no node can be placed.";
  readonly settingsSchema = DistanceSettingsSchema;
  readonly taskTagsSchema = DistanceTagsSchema;

  /**
   * Resolves regions in rules, compiles host patterns, opens the GeoIP database once, and sets up
   * the host lookups (resolvers, limits, cache) that all tasks of the chain share.
   */
  async prepare(settings: Settings, files: SettingsFiles): Promise<DistancePrepared> {
    const {
      rules = [],
      regions = {},
      geoipDatabase,
      lookup,
      weightBySize = false,
    } = settings as DistanceSettings;
    const places: Regions = new Map(Object.entries(regions));
    const errors: { field: string; reason: string }[] = [];
    const located = rules.flatMap((rule, i): LocationRule[] => {
      const location =
        rule.location ?? (rule.region === undefined ? undefined : places.get(rule.region));
      if (!location) {
        errors.push({
          field: `rules[${i}].region`,
          reason: 'names a region that setting "regions" does not define',
        });
        return [];
      }
      return [
        {
          ...(rule.prefix !== undefined && { prefix: normalizeUrl(rule.prefix) }),
          ...(rule.host !== undefined && { host: globToRegExp(rule.host) }),
          location,
        },
      ];
    });
    let geoip: GeoipDatabase | undefined;
    if (geoipDatabase !== undefined) {
      try {
        geoip = openGeoipDatabase(await files.read('geoipDatabase', geoipDatabase));
      } catch (error) {
        if (error instanceof SettingsError) errors.push(...error.errors);
        else errors.push({ field: 'geoipDatabase', reason: 'is not a MaxMind database (.mmdb)' });
      }
    }
    let hosts: HostLookup | undefined;
    try {
      hosts = new HostLookup(lookup);
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      errors.push(...error.errors);
    }
    if (errors.length || !hosts) throw new SettingsError(errors);
    return { rules: located, regions: places, geoip, hosts, weightBySize };
  }

  async handle(context: TaskContext<DistancePrepared>): Promise<TaskContext<DistancePrepared>> {
    const settings = context.prepared;
    if (!settings) throw new MiddlewareError('its settings were not prepared');
    const { inputs, note } = await this.locateInputs(context.task, settings);
    if (!inputs.length) {
      throw new MiddlewareError(`no input of the task could be located${note ? ` (${note})` : ''}`);
    }
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
    return {
      ...context,
      candidates: healthyFirst(ranked.map((r) => r.candidate)),
      ...(note && { reason: note }),
    };
  }

  /**
   * Inputs that could be located, with their weights: 1 each, or with `weightBySize` their size
   * from the task's `protes.size:<path>` tags (TES inputs carry no size), an input of unknown size
   * weighing as much as the average known one. Their hosts are looked up together, within the
   * lookup limits; `note` says which hosts the task was decided without.
   */
  private async locateInputs(
    task: TesTaskRequest,
    settings: DistancePrepared,
  ): Promise<{ inputs: LocatedInput[]; note?: string }> {
    const inputs = remoteInputs(task);
    const places = inputs.map((i) => placeUrl(i.url, settings.rules, settings.geoip));
    const hosts = places.flatMap((place) => (place && 'host' in place ? [place.host] : []));
    const report = hosts.length ? await settings.hosts.resolveAll(hosts) : undefined;
    const locate = (place: UrlPlace): GeoPoint | undefined => {
      if (!place || 'location' in place) return place?.location;
      const address = report?.addresses.get(place.host);
      return address === undefined || !settings.geoip
        ? undefined
        : locateAddress(settings.geoip, address);
    };
    const located = inputs.flatMap((input, i) => {
      const at = locate(places[i]);
      return at ? [{ at, size: settings.weightBySize ? sizeOf(task, input.path) : undefined }] : [];
    });
    const known = located.flatMap(({ size }) => (size === undefined ? [] : [size]));
    const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
    return {
      inputs: located.map(({ at, size }) => ({ at, weight: size ?? fallback })),
      note: report && lookupNote(report, settings.hosts),
    };
  }
}
