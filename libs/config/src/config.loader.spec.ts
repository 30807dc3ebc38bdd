import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configKeys, envNameOf, loadConfig } from './config.loader';

const DEFAULTS = {
  server: {
    host: '127.0.0.1',
    port: 8080,
    bodyLimitBytes: 16 * 1024 * 1024,
    maxJsonDepth: 64,
    rateLimit: { enabled: true, max: 15_000, windowMs: 10_000 },
    cors: { origins: [], credentials: false, maxAgeSeconds: 600 },
  },
  service: {
    id: 'org.example.protes',
    name: 'proTES',
    description: 'GA4GH TES gateway federating TES nodes',
    organizationName: 'proTES operators',
    organizationUrl: 'https://example.org',
    storage: [],
  },
  store: { driver: 'sqlite', sqlitePath: './var/protes.db' },
  tasks: {
    maxContentBytes: 1024 * 1024,
    limits: {
      executors: 100,
      inputs: 10_000,
      outputs: 10_000,
      volumes: 1000,
      tags: 1000,
      envEntries: 1000,
      commandArgs: 10_000,
      stringLength: 128 * 1024,
    },
  },
  nodes: [],
  middleware: { chain: ['random'], modules: [] },
  forwarding: { timeoutMs: 10_000, concurrencyPerNode: 8 },
  tracker: {
    minPollMs: 500,
    maxPollMs: 10_000,
    concurrency: 16,
    leaseMs: 30_000,
    claimBatch: 100,
    maxResubmissions: 2,
    exposePreempted: false,
    nodeLostAfterMs: 600_000,
    shutdownGraceMs: 25_000,
  },
  log: { level: 'log', json: true },
  bus: { driver: 'in-process', queue: 'protes.tasks', prefetch: 32 },
  auth: {
    enabled: true,
    clockSkewSeconds: 30,
    issuers: [],
    visaIssuers: [],
    jwks: { maxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 5000 },
    cacheSize: 10_000,
    basic: { users: [] },
    admin: { subjects: [] },
    forwardHeaders: [],
    exposeClaims: [],
  },
};

/** The ConfigError a load throws (failing the test if it does not throw one). */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

/**
 * A temporary folder for the describe block it is called in: `file` writes one file there and
 * returns its path, `at` names a path there without writing it.
 */
function scratchDir(prefix: string): {
  file: (name: string, content: string) => string;
  at: (name: string) => string;
} {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const at = (name: string) => join(dir, name);
  return {
    at,
    file: (name, content) => {
      writeFileSync(at(name), content);
      return at(name);
    },
  };
}

describe('loadConfig', () => {
  const { file, at } = scratchDir('protes-config-');

  it('gives every default when nothing is set', () => {
    expect(loadConfig({})).toEqual(DEFAULTS);
  });

  it('ignores variables that are not PROTES_ ones, and an empty PROTES_CONFIG', () => {
    expect(loadConfig({ PATH: '/bin', HOME: '/root', PROTES_CONFIG: '' })).toEqual(DEFAULTS);
  });

  it('gives fresh defaults each time', () => {
    const a = loadConfig({});
    a.nodes.push({ name: 'x', url: 'http://x' });
    a.server.port = 1;
    expect(loadConfig({})).toEqual(DEFAULTS);
  });

  it('reads the YAML file named by PROTES_CONFIG and fills in the rest', () => {
    const path = file(
      'partial.yaml',
      [
        'server:',
        '  port: 9000',
        'store:',
        '  driver: mongo',
        '  mongoUrl: mongodb://db:27017/protes',
        'nodes:',
        '  - name: node-a',
        '    url: http://127.0.0.1:8091/ga4gh/tes/v1',
        '    credentials: { bearer: token }',
        'log:',
        '  json: false',
      ].join('\n'),
    );
    expect(loadConfig({ PROTES_CONFIG: path })).toEqual({
      ...DEFAULTS,
      server: { ...DEFAULTS.server, port: 9000 },
      store: { ...DEFAULTS.store, driver: 'mongo', mongoUrl: 'mongodb://db:27017/protes' },
      nodes: [
        {
          name: 'node-a',
          url: 'http://127.0.0.1:8091/ga4gh/tes/v1',
          credentials: { bearer: 'token' },
        },
      ],
      log: { level: 'log', json: false },
    });
  });

  it('reads an empty file as all defaults', () => {
    expect(loadConfig({ PROTES_CONFIG: file('empty.yaml', '# nothing\n') })).toEqual(DEFAULTS);
  });

  it('reads the example file shipped with the project', () => {
    const example = join(__dirname, '../../../config/protes.example.yaml');
    const config = loadConfig({ PROTES_CONFIG: example });
    expect(config.nodes).toEqual([{ name: 'node-a', url: 'http://127.0.0.1:8091/ga4gh/tes/v1' }]);
    expect({ ...config, nodes: [] }).toEqual(DEFAULTS);
  });

  it('lets environment variables override the file, key by key', () => {
    const path = file(
      'base.yaml',
      'server:\n  host: 0.0.0.0\n  port: 9000\nlog:\n  level: debug\n',
    );
    const config = loadConfig({ PROTES_CONFIG: path, PROTES_SERVER__PORT: '9100' });
    expect(config.server).toEqual({ ...DEFAULTS.server, host: '0.0.0.0', port: 9100 });
    expect(config.log.level).toBe('debug');
  });

  it('reads numbers, booleans and lists from variables, and keeps strings as strings', () => {
    const nodes = [
      { name: 'a', url: 'http://a:8000/ga4gh/tes/v1' },
      { name: 'b', url: 'https://b/ga4gh/tes/v1', credentials: { username: 'u', password: 'p' } },
    ];
    const config = loadConfig({
      PROTES_SERVER__PORT: '0',
      PROTES_SERVER__BODY_LIMIT_BYTES: '2048',
      PROTES_LOG__JSON: 'false',
      PROTES_LOG__LEVEL: 'verbose',
      PROTES_NODES: JSON.stringify(nodes),
      PROTES_SERVICE__STORAGE: '["s3://bucket", "file:///data"]',
      PROTES_SERVICE__NAME: '12345',
      PROTES_SERVICE__ENVIRONMENT: 'true',
      PROTES_SERVICE__CONTACT_URL: 'mailto:ops@example.org',
      PROTES_STORE__SQLITE_PATH: '/tmp/x.db',
      PROTES_TRACKER__CONCURRENCY: '4',
    });
    expect(config.server.port).toBe(0);
    expect(config.server.bodyLimitBytes).toBe(2048);
    expect(config.log).toEqual({ level: 'verbose', json: false });
    expect(config.nodes).toEqual(nodes);
    expect(config.service.storage).toEqual(['s3://bucket', 'file:///data']);
    expect(config.service.name).toBe('12345');
    expect(config.service.environment).toBe('true');
    expect(config.service.contactUrl).toBe('mailto:ops@example.org');
    expect(config.store.sqlitePath).toBe('/tmp/x.db');
    expect(config.tracker.concurrency).toBe(4);
  });

  it.each([
    ['PROTES_NODES', '[{"name":"a","url":"http://a"}'],
    ['PROTES_SERVICE__STORAGE', '["s3://a", '],
    ['PROTES_SERVER__PORT', '{8080'],
  ])('names a variable %s whose value is not valid YAML or JSON', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toContain(name);
  });

  it('does not repeat a malformed PROTES_NODES value, which may hold credentials', () => {
    const error = configError({
      PROTES_NODES: '[{"name":"a","url":"http://a","credentials":{"bearer":"TOPSECRET"}}',
    });
    expect(error.message).toContain('PROTES_NODES');
    expect(error.message).not.toContain('TOPSECRET');
  });

  it('names an unknown PROTES_ variable', () => {
    const error = configError({ PROTES_SERVER__PROT: '80' });
    expect(error.message).toContain('PROTES_SERVER__PROT');
  });

  it.each(['PROTES_PORT', 'PROTES_SERVER_PORT', 'PROTES_SERVICE__HOST', 'PROTES_NODE', 'PROTES_'])(
    'names the unknown variable %s',
    (name) => {
      expect(configError({ [name]: '9000' }).message).toContain(name);
    },
  );

  it('ignores the service variables Kubernetes puts in pods next to a Service named protes*', () => {
    // What a pod sees with Services `protes` (port 8080) and `protes-mongodb` in its namespace.
    const kubernetes = {
      PROTES_SERVICE_HOST: '10.96.0.11',
      PROTES_SERVICE_PORT: '8080',
      PROTES_SERVICE_PORT_HTTP: '8080',
      PROTES_PORT: 'tcp://10.96.0.11:8080',
      PROTES_PORT_8080_TCP: 'tcp://10.96.0.11:8080',
      PROTES_PORT_8080_TCP_PROTO: 'tcp',
      PROTES_PORT_8080_TCP_PORT: '8080',
      PROTES_PORT_8080_TCP_ADDR: '10.96.0.11',
      PROTES_MONGODB_SERVICE_HOST: '10.96.0.12',
      PROTES_MONGODB_SERVICE_PORT: '27017',
      PROTES_MONGODB_PORT: 'tcp://10.96.0.12:27017',
      PROTES_MONGODB_PORT_27017_TCP: 'tcp://10.96.0.12:27017',
      PROTES_MONGODB_PORT_27017_TCP_PROTO: 'tcp',
      PROTES_MONGODB_PORT_27017_TCP_PORT: '27017',
      PROTES_MONGODB_PORT_27017_TCP_ADDR: '10.96.0.12',
    };
    expect(loadConfig(kubernetes)).toEqual(DEFAULTS);
    expect(loadConfig({ ...kubernetes, PROTES_SERVER__PORT: '9000' }).server.port).toBe(9000);
  });

  it.each([
    ['unknown top-level key', 'color: blue\n', /\bcolor: unknown key/],
    ['unknown key in a section', 'server:\n  prot: 80\n', /server\.prot: unknown key/],
    [
      'unknown key in a node',
      'nodes:\n  - name: a\n    url: http://a\n    token: x\n',
      /nodes\.0\.token: unknown key/,
    ],
    [
      'unknown key in node credentials',
      'nodes:\n  - name: a\n    url: http://a\n    credentials: { apiKey: x }\n',
      /nodes\.0\.credentials\.apiKey: unknown key/,
    ],
  ])('names an %s in the file', (_case, yaml, message) => {
    const path = file('unknown.yaml', yaml);
    const error = configError({ PROTES_CONFIG: path });
    expect(error.message).toMatch(message);
    expect(error.message).toContain(path);
  });

  it.each([
    ['port 70000', { PROTES_SERVER__PORT: '70000' }, 'server.port'],
    ['port not a number', { PROTES_SERVER__PORT: 'eighty' }, 'server.port'],
    ['port not an integer', { PROTES_SERVER__PORT: '80.5' }, 'server.port'],
    ['driver foo', { PROTES_STORE__DRIVER: 'foo' }, 'store.driver'],
    [
      'maxContentBytes below 128 KiB',
      { PROTES_TASKS__MAX_CONTENT_BYTES: '131071' },
      'tasks.maxContentBytes',
    ],
    ['log level', { PROTES_LOG__LEVEL: 'info' }, 'log.level'],
    ['log json not a boolean', { PROTES_LOG__JSON: 'yes please' }, 'log.json'],
    [
      'organization url',
      { PROTES_SERVICE__ORGANIZATION_URL: 'not a url' },
      'service.organizationUrl',
    ],
    [
      'mongo url',
      { PROTES_STORE__DRIVER: 'mongo', PROTES_STORE__MONGO_URL: 'http://db' },
      'store.mongoUrl',
    ],
    ['nodes not a list', { PROTES_NODES: '{"name":"a"}' }, 'nodes'],
    ['node url scheme', { PROTES_NODES: '[{"name":"a","url":"ftp://a/tes"}]' }, 'nodes.0.url'],
    ['node without url', { PROTES_NODES: '[{"name":"a"}]' }, 'nodes.0'],
    [
      'empty bearer',
      { PROTES_NODES: '[{"name":"a","url":"http://a","credentials":{"bearer":""}}]' },
      'nodes.0.credentials.bearer',
    ],
    [
      'node latitude',
      { PROTES_NODES: '[{"name":"a","url":"http://a","location":{"latitude":91,"longitude":0}}]' },
      'nodes.0.location.latitude',
    ],
    [
      'node failure threshold',
      { PROTES_NODES: '[{"name":"a","url":"http://a","health":{"failureThreshold":0}}]' },
      'nodes.0.health.failureThreshold',
    ],
    ['chain not a list', { PROTES_MIDDLEWARE__CHAIN: 'random' }, 'middleware.chain'],
    [
      'chain entry',
      { PROTES_MIDDLEWARE__CHAIN: '[{"fallback":[]}]' },
      'middleware.chain.0.fallback',
    ],
  ])('names the key of a bad value: %s', (_case, env, key) => {
    const error = configError(env);
    expect(error.message).toContain(`${key}:`);
  });

  it('accepts maxContentBytes of exactly 128 KiB', () => {
    expect(loadConfig({ PROTES_TASKS__MAX_CONTENT_BYTES: '131072' }).tasks.maxContentBytes).toBe(
      131072,
    );
  });

  it('refuses two nodes with the same name', () => {
    const error = configError({
      PROTES_NODES: JSON.stringify([
        { name: 'a', url: 'http://a1' },
        { name: 'b', url: 'http://b' },
        { name: 'a', url: 'http://a2' },
      ]),
    });
    expect(error.message).toMatch(/nodes: .*\ba\b.*twice/);
  });

  it('requires mongoUrl with the mongo driver, naming the key and its variable', () => {
    const error = configError({ PROTES_STORE__DRIVER: 'mongo' });
    expect(error.message).toContain('store.mongoUrl');
    expect(error.message).toContain('PROTES_STORE__MONGO_URL');
  });

  it('refuses a maximum poll interval below the minimum', () => {
    const error = configError({
      PROTES_TRACKER__MIN_POLL_MS: '1000',
      PROTES_TRACKER__MAX_POLL_MS: '999',
    });
    expect(error.message).toContain('tracker.maxPollMs');
  });

  it('names a file that cannot be read', () => {
    const missing = at('does-not-exist.yaml');
    const error = configError({ PROTES_CONFIG: missing });
    expect(error.message).toContain(missing);
  });

  it('names a file that is not YAML', () => {
    const path = file('broken.yaml', 'server: [unclosed\n');
    expect(configError({ PROTES_CONFIG: path }).message).toContain(path);
  });

  it('refuses a file whose top level is not a mapping', () => {
    const path = file('list.yaml', '- a\n- b\n');
    expect(configError({ PROTES_CONFIG: path }).message).toMatch(/mapping/);
  });
});

describe('secrets from files', () => {
  const { file, at } = scratchDir('protes-secrets-');

  it('reads PROTES_<KEY>_FILE as the value of PROTES_<KEY>, without its final line end', () => {
    const config = loadConfig({
      PROTES_STORE__DRIVER: 'mongo',
      PROTES_STORE__MONGO_URL_FILE: file('mongo-url', 'mongodb://u:p%40ss@db:27017/protes\n'),
      PROTES_BUS__DRIVER: 'rabbitmq',
      PROTES_BUS__URL_FILE: file('amqp-url', 'amqp://u:secret@mq:5672'),
      PROTES_SERVER__PORT_FILE: file('port', '9000\n'),
    });
    expect(config.store.mongoUrl).toBe('mongodb://u:p%40ss@db:27017/protes');
    expect(config.bus.url).toBe('amqp://u:secret@mq:5672');
    expect(config.server.port).toBe(9000);
  });

  it('reads lists from a file as from the variable, and validates what it read', () => {
    const nodes = file('nodes.json', '[{"name":"a","url":"http://a:8000/ga4gh/tes/v1"}]\n');
    expect(loadConfig({ PROTES_NODES_FILE: nodes }).nodes).toEqual([
      { name: 'a', url: 'http://a:8000/ga4gh/tes/v1' },
    ]);
    const bad = file('bad-nodes.json', '[{"name":"a","url":"ftp://a"}]');
    expect(configError({ PROTES_NODES_FILE: bad }).message).toContain('nodes.0.url:');
  });

  it('refuses a key set both directly and from a file', () => {
    const error = configError({
      PROTES_BUS__URL: 'amqp://a',
      PROTES_BUS__URL_FILE: file('url', 'amqp://b'),
    });
    expect(error.message).toContain('PROTES_BUS__URL and PROTES_BUS__URL_FILE');
  });

  it('names the variable and the path of a file it cannot read', () => {
    const missing = at('nope');
    const error = configError({ PROTES_BUS__URL_FILE: missing });
    expect(error.message).toContain('PROTES_BUS__URL_FILE');
    expect(error.message).toContain(missing);
    expect(error.message).toContain('ENOENT');
  });

  it('refuses _FILE of a variable that is no key, and never reads PROTES_CONFIG_FILE', () => {
    const path = file('x', '1');
    expect(configError({ PROTES_SERVER__PROT_FILE: path }).message).toContain(
      'PROTES_SERVER__PROT_FILE',
    );
    expect(configError({ PROTES_CONFIG_FILE: path }).message).toContain('PROTES_CONFIG_FILE');
  });

  it("reads each node's token and password from the files its credentials name", () => {
    const yaml = file(
      'nodes.yaml',
      [
        'nodes:',
        '  - name: a',
        '    url: http://a/ga4gh/tes/v1',
        `    credentials: { bearerFile: ${file('a-token', 'tok-a\n')} }`,
        '  - name: b',
        '    url: http://b/ga4gh/tes/v1',
        `    credentials: { username: ops, passwordFile: ${file('b-password', 'pw-b')} }`,
        '  - name: c',
        '    url: http://c/ga4gh/tes/v1',
        '    credentials: { bearer: inline }',
      ].join('\n'),
    );
    expect(loadConfig({ PROTES_CONFIG: yaml }).nodes.map((n) => n.credentials)).toEqual([
      { bearer: 'tok-a' },
      { username: 'ops', password: 'pw-b' },
      { bearer: 'inline' },
    ]);
  });

  it.each([
    [
      'both a token and its file',
      { bearer: 'x', bearerFile: 'token' },
      'nodes.0.credentials.bearerFile: set either bearer or bearerFile',
    ],
    ['an empty token file', { bearerFile: 'empty' }, 'nodes.0.credentials.bearerFile:'],
    ['a password file that is missing', { passwordFile: 'nope' }, 'ENOENT'],
  ])('refuses a node with %s', (_case, credentials, message) => {
    const paths: Record<string, string> = {
      token: file('token', 'tok'),
      empty: file('empty', '\n'),
      nope: at('missing'),
    };
    const resolved = Object.fromEntries(
      Object.entries(credentials).map(([k, v]) => [k, k.endsWith('File') ? paths[v] : v]),
    );
    const nodes = JSON.stringify([{ name: 'a', url: 'http://a', credentials: resolved }]);
    expect(configError({ PROTES_NODES: nodes }).message).toContain(message);
  });
});

describe('auth', () => {
  const issuer = {
    issuer: 'https://login.example.org/realms/protes',
    audience: 'protes',
  };
  const HASH =
    '$scrypt$n=16384,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5';

  it('reads issuers, Basic users, the admin rule and the allow-lists from variables', () => {
    const config = loadConfig({
      PROTES_AUTH__ISSUERS: JSON.stringify([
        { ...issuer, algorithms: ['ES256'], requiredScopes: ['tes'], requiredClaims: { a: 'b' } },
        {
          issuer: 'http://127.0.0.1:9000',
          jwksUri: 'http://127.0.0.1:9000/jwks',
          audience: ['x', 'y'],
        },
      ]),
      PROTES_AUTH__BASIC__USERS: JSON.stringify([{ username: 'alice', passwordHash: HASH }]),
      PROTES_AUTH__ADMIN__CLAIM: 'groups',
      PROTES_AUTH__ADMIN__VALUE: 'protes-admin',
      PROTES_AUTH__ADMIN__SUBJECTS: '["basic|ops"]',
      PROTES_AUTH__FORWARD_HEADERS: '["user-agent"]',
      PROTES_AUTH__EXPOSE_CLAIMS: '["groups"]',
      PROTES_AUTH__CLOCK_SKEW_SECONDS: '5',
      PROTES_AUTH__JWKS__COOLDOWN_MS: '10000',
      PROTES_AUTH__CACHE_SIZE: '0',
    });
    expect(config.auth.issuers).toHaveLength(2);
    expect(config.auth.issuers[0].algorithms).toEqual(['ES256']);
    expect(config.auth.basic.users[0].username).toBe('alice');
    expect(config.auth.admin).toEqual({
      claim: 'groups',
      value: 'protes-admin',
      subjects: ['basic|ops'],
    });
    expect(config.auth.clockSkewSeconds).toBe(5);
    expect(config.auth.jwks.cooldownMs).toBe(10_000);
    expect(config.auth.cacheSize).toBe(0);
  });

  it('turns authentication off with PROTES_AUTH__ENABLED=false', () => {
    expect(loadConfig({ PROTES_AUTH__ENABLED: 'false' }).auth.enabled).toBe(false);
  });

  it.each(['HS256', 'HS512', 'none', 'EdDSA', 'rs256'])('refuses the algorithm %s', (alg) => {
    const error = configError({
      PROTES_AUTH__ISSUERS: JSON.stringify([{ ...issuer, algorithms: [alg] }]),
    });
    expect(error.message).toContain('auth.issuers.0.algorithms.0:');
  });

  it.each([
    ['an issuer that is no URL', { issuer: 'login', audience: 'a' }, 'auth.issuers.0.issuer:'],
    [
      'an issuer with |, which joins owner ids',
      { issuer: 'https://a|b', audience: 'a' },
      'auth.issuers.0.issuer:',
    ],
    ['an issuer without audience', { issuer: 'https://a' }, 'auth.issuers.0:'],
    ['an empty audience list', { issuer: 'https://a', audience: [] }, 'auth.issuers.0.audience'],
    ['an unknown key', { ...issuer, secret: 'x' }, 'auth.issuers.0.secret: unknown key'],
  ])('refuses %s', (_case, entry, message) => {
    expect(configError({ PROTES_AUTH__ISSUERS: JSON.stringify([entry]) }).message).toContain(
      message,
    );
  });

  it('refuses a Basic user with a colon in the name or a password instead of a hash', () => {
    expect(
      configError({
        PROTES_AUTH__BASIC__USERS: JSON.stringify([{ username: 'a:b', passwordHash: HASH }]),
      }).message,
    ).toContain('auth.basic.users.0.username:');
    const error = configError({
      PROTES_AUTH__BASIC__USERS: JSON.stringify([{ username: 'a', passwordHash: 'hunter2' }]),
    });
    expect(error.message).toContain('auth.basic.users.0.passwordHash:');
    expect(error.message).not.toContain('hunter2');
  });

  it('wants both claim and value of the admin rule', () => {
    expect(configError({ PROTES_AUTH__ADMIN__CLAIM: 'groups' }).message).toContain('auth.admin');
  });
});

describe('configKeys and envNameOf', () => {
  it('name variables PROTES_ + the key path in upper snake case, sections joined by __', () => {
    expect(envNameOf(['store', 'sqlitePath'])).toBe('PROTES_STORE__SQLITE_PATH');
    expect(envNameOf(['server', 'bodyLimitBytes'])).toBe('PROTES_SERVER__BODY_LIMIT_BYTES');
    expect(envNameOf(['nodes'])).toBe('PROTES_NODES');
  });

  it('list every leaf key, with lists as leaves', () => {
    const keys = configKeys().map((k) => k.path.join('.'));
    expect(keys).toContain('server.port');
    expect(keys).toContain('service.contactUrl');
    expect(keys).toContain('store.driver');
    expect(keys).toContain('nodes');
    expect(keys.some((k) => k.startsWith('nodes.'))).toBe(false);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('every key can be set from its variable', () => {
    for (const { path } of configKeys()) {
      // An unknown variable throws; a known one at most fails validation naming its key.
      try {
        loadConfig({ [envNameOf(path)]: 'x' });
      } catch (error) {
        expect((error as Error).message).not.toMatch(/unknown environment variable/);
      }
    }
  });
});

describe('README configuration table', () => {
  const readme = readFileSync(join(__dirname, '../../..', 'README.md'), 'utf8');
  /** Rows of the table under "## Configuration": key → environment variable. */
  const rows = new Map(
    readme
      .slice(readme.indexOf('## Configuration'))
      .split('\n')
      .map((line) => /^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );

  it('lists every configuration key with its environment variable', () => {
    const expected = configKeys().map(({ path }) => [path.join('.'), envNameOf(path)]);
    expect(expected.length).toBeGreaterThan(0);
    for (const [key, variable] of expected) {
      expect([key, rows.get(key)]).toEqual([key, variable]);
    }
  });

  it('lists no key that does not exist', () => {
    const keys = new Set(configKeys().map(({ path }) => path.join('.')));
    expect([...rows.keys()].filter((k) => !keys.has(k))).toEqual([]);
  });
});
