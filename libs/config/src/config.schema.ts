import { type Static, Type } from '@sinclair/typebox';

/**
 * Every configuration key, its type and default, in one place. The loader validates the merged
 * YAML file and environment against it; the README's configuration reference is written from it.
 */
const Credentials = Type.Object(
  {
    bearer: Type.Optional(Type.String({ minLength: 1 })),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const NodeConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    url: Type.String({ format: 'uri', pattern: '^https?://' }),
    credentials: Type.Optional(Credentials),
  },
  { additionalProperties: false },
);
export type NodeConfig = Static<typeof NodeConfigSchema>;

export const ProtesConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        bodyLimitBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    service: Type.Object(
      {
        id: Type.String({ default: 'org.example.protes' }),
        name: Type.String({ default: 'proTES' }),
        description: Type.String({ default: 'GA4GH TES gateway federating TES nodes' }),
        organizationName: Type.String({ default: 'proTES operators' }),
        organizationUrl: Type.String({ format: 'uri', default: 'https://example.org' }),
        contactUrl: Type.Optional(Type.String({ format: 'uri' })),
        documentationUrl: Type.Optional(Type.String({ format: 'uri' })),
        environment: Type.Optional(Type.String()),
        storage: Type.Array(Type.String(), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    store: Type.Object(
      {
        driver: Type.Union([Type.Literal('sqlite'), Type.Literal('mongo')], { default: 'sqlite' }),
        sqlitePath: Type.String({ minLength: 1, default: './var/protes.db' }),
        mongoUrl: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://' })),
      },
      { additionalProperties: false, default: {} },
    ),
    tasks: Type.Object(
      {
        maxContentBytes: Type.Integer({ minimum: 128 * 1024, default: 1024 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    nodes: Type.Array(NodeConfigSchema, { default: [] }),
    forwarding: Type.Object(
      {
        timeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tracker: Type.Object(
      {
        minPollMs: Type.Integer({ minimum: 10, default: 500 }),
        maxPollMs: Type.Integer({ minimum: 10, default: 10_000 }),
        concurrency: Type.Integer({ minimum: 1, default: 16 }),
        leaseMs: Type.Integer({ minimum: 1000, default: 30_000 }),
        claimBatch: Type.Integer({ minimum: 1, default: 1000 }),
        maxResubmissions: Type.Integer({ minimum: 0, default: 2 }),
        exposePreempted: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'].map((l) => Type.Literal(l)),
          { default: 'log' },
        ),
        json: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type ProtesConfig = Static<typeof ProtesConfigSchema>;
