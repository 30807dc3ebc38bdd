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
    // Files holding the token or password (a mounted Kubernetes Secret, a Docker secret), so that
    // the node list itself holds no secret. The loader reads them at start and puts their content
    // in `bearer` and `password`: the loaded configuration never has these two.
    bearerFile: Type.Optional(Type.String({ minLength: 1 })),
    passwordFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const strict = { additionalProperties: false } as const;
const Names = Type.Array(Type.String({ minLength: 1 }));

/** When a node is probed and how its circuit breaker trips; unset fields take these defaults. */
export const NODE_HEALTH_DEFAULTS = {
  probeIntervalMs: 15_000,
  failureThreshold: 3,
  coolDownMs: 30_000,
};

export const NodeConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    url: Type.String({ format: 'uri', pattern: '^https?://' }),
    credentials: Type.Optional(Credentials),
    // What the middleware chain knows of the node (NodeMetadata); defaults are applied where the
    // node registry reads them, so that a node is stored here exactly as configured.
    location: Type.Optional(
      Type.Object(
        {
          latitude: Type.Number({ minimum: -90, maximum: 90 }),
          longitude: Type.Number({ minimum: -180, maximum: 180 }),
        },
        strict,
      ),
    ),
    region: Type.Optional(Type.String({ minLength: 1 })),
    storage: Type.Optional(
      Type.Object({ read: Type.Optional(Names), write: Type.Optional(Names) }, strict),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          cpuCores: Type.Optional(Type.Integer({ minimum: 1 })),
          ramGb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          diskGb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          preemptible: Type.Optional(Type.Boolean()),
          zones: Type.Optional(Names),
          backendParameters: Type.Optional(Names),
        },
        strict,
      ),
    ),
    tags: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    weight: Type.Optional(Type.Number({ minimum: 0 })),
    health: Type.Optional(
      Type.Object(
        {
          probeIntervalMs: Type.Optional(Type.Integer({ minimum: 100 })),
          failureThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
          coolDownMs: Type.Optional(Type.Integer({ minimum: 100 })),
        },
        strict,
      ),
    ),
  },
  strict,
);
export type NodeConfig = Static<typeof NodeConfigSchema>;

// The unions below are written as if/then/else rather than anyOf, so that validation reports only
// the errors of the form a value has taken (a name, a middleware object, a group).
const ChainMiddlewareObject = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    enabled: Type.Optional(Type.Boolean()),
  },
  strict,
);
const ChainMiddlewareSchema = Type.Unsafe<string | Static<typeof ChainMiddlewareObject>>({
  if: { type: 'string' },
  then: { type: 'string', minLength: 1 },
  else: ChainMiddlewareObject,
});
const FallbackGroupSchema = Type.Object(
  {
    fallback: Type.Array(ChainMiddlewareSchema, { minItems: 1 }),
    onFailure: Type.Optional(Type.Union([Type.Literal('fail'), Type.Literal('skip')])),
    enabled: Type.Optional(Type.Boolean()),
  },
  strict,
);

/**
 * An entry of the middleware chain: a middleware's registered name, the name with `settings` and
 * `enabled`, or a fallback group whose members are tried in order until one does not fail.
 */
export const ChainEntrySchema = Type.Unsafe<
  Static<typeof ChainMiddlewareSchema> | Static<typeof FallbackGroupSchema>
>({
  if: { type: 'object', required: ['fallback'] },
  then: FallbackGroupSchema,
  else: ChainMiddlewareSchema,
});
export type ChainEntryConfig = Static<typeof ChainEntrySchema>;
export const MiddlewareChainSchema = Type.Array(ChainEntrySchema);

/**
 * The signature algorithms a token may use. Asymmetric only: a symmetric (HS*) key would have to
 * be shared with every verifier, and a public key handed to an HMAC check is the classic forgery;
 * `none` is no signature. EdDSA is left out because the verifier (jsonwebtoken) does not know it.
 */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** A claim value a rule asks for: equal to it, or one of the items when the claim is a list. */
const ClaimRules = Type.Record(Type.String({ minLength: 1 }), Type.String());

export const IssuerConfigSchema = Type.Object(
  {
    // The `iss` of its tokens, exactly. A URL, and never with `|`, which joins issuer and subject
    // into a task owner id.
    issuer: Type.String({ pattern: '^https?://[^|\\s]+$' }),
    // Where its signing keys are; absent: read from the issuer's OpenID discovery document.
    jwksUri: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://' })),
    // Tokens must name this service (or one of these) in `aud`.
    audience: Type.Union([
      Type.String({ minLength: 1 }),
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    ]),
    algorithms: Type.Optional(
      Type.Array(Type.Union(JWT_ALGORITHMS.map((a) => Type.Literal(a))), { minItems: 1 }),
    ),
    requiredScopes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    requiredClaims: Type.Optional(ClaimRules),
  },
  strict,
);
export type IssuerConfig = Static<typeof IssuerConfigSchema>;

/** An issuer of GA4GH Passport visas whose ControlledAccessGrants the gateway takes. */
export const VisaIssuerConfigSchema = Type.Object(
  {
    // The `iss` of its visas, exactly.
    issuer: Type.String({ pattern: '^https?://\\S+$' }),
    // Where its signing keys are. Never the `jku` a visa names: that would let a visa choose them.
    jwksUri: Type.String({ format: 'uri', pattern: '^https?://' }),
    algorithms: Type.Optional(
      Type.Array(Type.Union(JWT_ALGORITHMS.map((a) => Type.Literal(a))), { minItems: 1 }),
    ),
  },
  strict,
);
export type VisaIssuerConfig = Static<typeof VisaIssuerConfigSchema>;

export const BasicUserConfigSchema = Type.Object(
  {
    // Basic credentials are `user:password`: a user name cannot hold a colon.
    username: Type.String({ pattern: '^[^:\\s]+$' }),
    // `$scrypt$n=…,r=…,p=…$salt$hash` as `npm run auth:hash-password` prints it; never the password.
    passwordHash: Type.String({ pattern: '^\\$scrypt\\$' }),
  },
  strict,
);
export type BasicUserConfig = Static<typeof BasicUserConfigSchema>;

const AuthSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    clockSkewSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
    issuers: Type.Array(IssuerConfigSchema, { default: [] }),
    // Trusted issuers of the GA4GH Passport visas a token carries (`ga4gh_passport_v1`): visas of
    // any other issuer are ignored. None: no visa is taken.
    visaIssuers: Type.Array(VisaIssuerConfigSchema, { default: [] }),
    jwks: Type.Object(
      {
        // Keys are fetched again after this long, and on a key id not seen before, but never
        // sooner than `cooldownMs` after the last fetch.
        maxAgeMs: Type.Integer({ minimum: 1000, default: 600_000 }),
        cooldownMs: Type.Integer({ minimum: 1000, default: 30_000 }),
        timeoutMs: Type.Integer({ minimum: 100, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Verified credentials kept (until the token expires) so that a client polling with the same
    // token is verified once; 0 verifies every request.
    cacheSize: Type.Integer({ minimum: 0, default: 10_000 }),
    basic: Type.Object(
      { users: Type.Array(BasicUserConfigSchema, { default: [] }) },
      { additionalProperties: false, default: {} },
    ),
    admin: Type.Object(
      {
        claim: Type.Optional(Type.String({ minLength: 1 })),
        value: Type.Optional(Type.String({ minLength: 1 })),
        subjects: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      },
      {
        additionalProperties: false,
        default: {},
        dependencies: { claim: ['value'], value: ['claim'] },
      },
    ),
    forwardHeaders: Type.Array(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), {
      default: [],
    }),
    exposeClaims: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  },
  { additionalProperties: false, default: {} },
);
export type AuthConfig = Static<typeof AuthSchema>;

/**
 * Most of each part of a task a request may hold, checked in one pass over the body before any
 * other work (400 naming the field and the limit beyond). The defaults sit far above what real
 * clients send (one executor, a few hundred inputs) and far below what hurts the process.
 */
const TaskLimitsSchema = Type.Object(
  {
    executors: Type.Integer({ minimum: 1, default: 100 }),
    inputs: Type.Integer({ minimum: 0, default: 10_000 }),
    outputs: Type.Integer({ minimum: 0, default: 10_000 }),
    volumes: Type.Integer({ minimum: 0, default: 1000 }),
    tags: Type.Integer({ minimum: 0, default: 1000 }),
    // Per executor.
    envEntries: Type.Integer({ minimum: 0, default: 1000 }),
    commandArgs: Type.Integer({ minimum: 1, default: 10_000 }),
    // Characters of any string and any key (ids, names, URLs, paths, arguments), inline `content`
    // excepted (maxContentBytes bounds it). Linux refuses longer single arguments (MAX_ARG_STRLEN),
    // so no command a container could run is refused.
    stringLength: Type.Integer({ minimum: 1024, default: 128 * 1024 }),
  },
  { additionalProperties: false, default: {} },
);
export type TaskLimitsConfig = Static<typeof TaskLimitsSchema>;

/**
 * Requests per window per identity (the caller's credential, else its address); 429 with
 * Retry-After beyond. The default lets a client poll 1,000 tasks every second (Nextflow polls each
 * running task once a second, py-tes twice) with half as much again for submissions and reads.
 */
const RateLimitSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    max: Type.Integer({ minimum: 1, default: 15_000 }),
    windowMs: Type.Integer({ minimum: 100, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);

/** Cross-origin requests from browsers: off (no CORS headers) unless origins are listed. */
const CorsSchema = Type.Object(
  {
    // Exact origins (`https://app.example.org`), or `*` for any.
    origins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^/\\s]+)$' }), { default: [] }),
    // Whether browsers may send cookies and Authorization along.
    credentials: Type.Boolean({ default: false }),
    // How long browsers may keep a preflight answer.
    maxAgeSeconds: Type.Integer({ minimum: 0, default: 600 }),
  },
  { additionalProperties: false, default: {} },
);

export const ProtesConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        bodyLimitBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024 }),
        // Deepest nesting of arrays and objects in a JSON body (400 beyond). A TES task nests
        // about six deep; thousands of levels would overflow the stack of every recursive step.
        maxJsonDepth: Type.Integer({ minimum: 8, maximum: 1000, default: 64 }),
        rateLimit: RateLimitSchema,
        cors: CorsSchema,
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
        limits: TaskLimitsSchema,
      },
      { additionalProperties: false, default: {} },
    ),
    nodes: Type.Array(NodeConfigSchema, { default: [] }),
    middleware: Type.Object(
      {
        chain: Type.Array(ChainEntrySchema, { default: ['random'] }),
        modules: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        // Directories (relative to the working directory) that files named in middleware
        // settings (the distance middleware's geoipDatabase) may be read from; absent: none.
        fileDirs: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
      },
      { additionalProperties: false, default: {} },
    ),
    forwarding: Type.Object(
      {
        timeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
        // Creates in flight at once to one node; more tasks for it wait in the outbox (the store).
        concurrencyPerNode: Type.Integer({ minimum: 1, default: 8 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tracker: Type.Object(
      {
        minPollMs: Type.Integer({ minimum: 10, default: 500 }),
        maxPollMs: Type.Integer({ minimum: 10, default: 10_000 }),
        concurrency: Type.Integer({ minimum: 1, default: 16 }),
        leaseMs: Type.Integer({ minimum: 1000, default: 30_000 }),
        // New tasks one tracker takes per round, on top of those it holds: small, so that several
        // trackers share new work evenly (the first to claim does not take everything free).
        claimBatch: Type.Integer({ minimum: 1, default: 100 }),
        maxResubmissions: Type.Integer({ minimum: 0, default: 2 }),
        exposePreempted: Type.Boolean({ default: false }),
        // A node unreachable this long has lost its active tasks: they are resubmitted elsewhere,
        // and the copies it still holds are canceled when it returns.
        nodeLostAfterMs: Type.Integer({ minimum: 1000, default: 600_000 }),
        // How long a stopping tracker (SIGTERM) waits for its sends under way to be recorded; what
        // is not sent stays in the outbox. At most leaseMs: the tasks in flight are held that long.
        shutdownGraceMs: Type.Integer({ minimum: 0, default: 25_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    // Distributed mode: gateways publish task events to RabbitMQ and tracker processes
    // (apps/tracker) consume them; with in-process, the gateway runs the tracker itself.
    bus: Type.Object(
      {
        driver: Type.Union([Type.Literal('in-process'), Type.Literal('rabbitmq')], {
          default: 'in-process',
        }),
        url: Type.Optional(Type.String({ pattern: '^amqps?://' })),
        queue: Type.String({ minLength: 1, maxLength: 255, default: 'protes.tasks' }),
        prefetch: Type.Integer({ minimum: 1, maximum: 65535, default: 32 }),
      },
      {
        additionalProperties: false,
        default: {},
        if: { properties: { driver: { const: 'rabbitmq' } }, required: ['driver'] },
        then: { required: ['url'] },
      },
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
    // Who may call the API (README, "Security"); the tracker process reads none of it.
    auth: AuthSchema,
  },
  { additionalProperties: false },
);
export type ProtesConfig = Static<typeof ProtesConfigSchema>;
