import { BREAKER_STATES } from '@protes/distribution';
import { type TSchema, Type } from '@sinclair/typebox';

/**
 * proTES's own API (management and operations) as JSON Schema, for the OpenAPI document only: the
 * answers are built by NodeRegistry, ChainService and Terminus, and openapi.spec.ts holds their
 * real answers against these schemas so that the two cannot drift apart.
 */

const literals = (values: readonly string[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );
const settings = Type.Record(Type.String(), Type.Unknown(), {
  description: "The middleware's settings, checked against the schema it declares.",
});
const onFailure = literals(
  ['fail', 'skip'],
  'When every member fails: `fail` the task, or `skip` the group and go on.',
);

const GeoPointSchema = Type.Object({
  latitude: Type.Number({ minimum: -90, maximum: 90 }),
  longitude: Type.Number({ minimum: -180, maximum: 180 }),
});

const NodeStatusSchema = Type.Object({
  name: Type.String(),
  healthy: Type.Boolean({ description: 'Whether the last call (probe, forward, poll) succeeded.' }),
  checkedAt: Type.Optional(Type.String({ format: 'date-time' })),
  reason: Type.Optional(Type.String({ description: "The last failure's reason while unhealthy." })),
  tesVersion: Type.Optional(Type.String()),
  location: Type.Optional(GeoPointSchema),
  region: Type.Optional(Type.String()),
  storage: Type.Optional(Type.Array(Type.String())),
  backendParameters: Type.Optional(Type.Array(Type.String())),
  breaker: literals(BREAKER_STATES, 'Circuit breaker: `open` sends the node no task.'),
  failures: Type.Integer({ minimum: 0, description: 'Calls that failed in a row.' }),
  load: Type.Integer({ minimum: 0, description: 'Tasks forwarded to it and not finished.' }),
});

const ChainMiddlewareSchema = Type.Object({
  name: Type.String(),
  settings,
  enabled: Type.Boolean(),
});
const ChainGroupSchema = Type.Object({
  fallback: Type.Array(ChainMiddlewareSchema),
  onFailure,
  enabled: Type.Boolean(),
});

/** An entry as a client writes it: a name, a name with settings, or a fallback group. */
const middlewareInput = Type.Union([
  Type.String({ description: 'A registered middleware name.' }),
  Type.Object({
    name: Type.String(),
    settings: Type.Optional(settings),
    enabled: Type.Optional(Type.Boolean()),
  }),
]);
const ChainEntryInputSchema = Type.Union([
  middlewareInput,
  Type.Object({
    fallback: Type.Array(middlewareInput, { minItems: 1 }),
    onFailure: Type.Optional(onFailure),
    enabled: Type.Optional(Type.Boolean()),
  }),
]);

const HealthCheckSchema = Type.Object({
  status: literals(['ok', 'error', 'shutting_down']),
  info: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
  error: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
  details: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
});

/** Every model of proTES's own API, by the name the document gives it. */
export const MANAGEMENT_SCHEMAS: Readonly<Record<string, TSchema>> = {
  geoPoint: GeoPointSchema,
  nodeStatus: NodeStatusSchema,
  nodeList: Type.Object({ nodes: Type.Array(NodeStatusSchema) }),
  chainMiddleware: ChainMiddlewareSchema,
  chainGroup: ChainGroupSchema,
  chainView: Type.Object({
    source: literals(
      ['configuration', 'store'],
      '`store` once the chain was set through this API, else `configuration`.',
    ),
    updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
    chain: Type.Array(Type.Union([ChainMiddlewareSchema, ChainGroupSchema])),
    registered: Type.Array(Type.String(), { description: 'Every name a chain may use.' }),
    storedChainError: Type.Optional(Type.String()),
  }),
  chainEntryInput: ChainEntryInputSchema,
  chainReplacement: Type.Object({ chain: Type.Array(ChainEntryInputSchema) }),
  chainEntryPatch: Type.Object(
    {
      enabled: Type.Optional(Type.Boolean()),
      settings: Type.Optional(settings),
      onFailure: Type.Optional(onFailure),
    },
    { minProperties: 1, additionalProperties: false },
  ),
  healthCheck: HealthCheckSchema,
};
