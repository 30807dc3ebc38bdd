import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configKeys, envNameOf, loadConfig, type ProtesConfig } from '@protes/config';
import { load as parseYaml } from 'js-yaml';
import {
  APPS,
  dockerfile,
  imageUid,
  read,
  release,
  RELEASE_IMAGE,
  ROOT,
  stageNames,
  stages,
} from './repo-files';

/**
 * The deployment files checked against the code. No Docker engine runs where this project is
 * developed, so nothing here builds the image or starts the compose project; instead every name
 * the files use (stages, apps, configuration keys, variables, services, ports) must be one the
 * code and the other files define, and each container's configuration must load.
 */

/** COPY sources from the build context (not from a stage), per stage. */
const contextCopies = stages.flatMap((stage) =>
  stage.lines
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/i.test(l))
    .flatMap((l) => {
      const words = l.split(/\s+/).slice(1);
      const args = words.filter((w) => !w.startsWith('--'));
      return args.slice(0, -1);
    }),
);

/** The apps the image's entry point accepts (its `case` list). */
const entrypoint = read('docker/entrypoint.sh');
const entrypointApps = (/case "\$app" in\s*\n\s*([^)]+)\)/.exec(entrypoint)?.[1] ?? '')
  .split('|')
  .map((a) => a.trim())
  .filter(Boolean);

// ---- docker-compose.yml

interface ComposeService {
  image?: string;
  build?: { context?: string; target?: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  env_file?: unknown;
  volumes?: string[];
  ports?: string[];
  container_name?: string;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string };
  deploy?: { replicas?: number };
}

const composeText = read('docker-compose.yml');
const compose = parseYaml(composeText) as { services: Record<string, ComposeService> };
const services = compose.services;

/**
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR`: the name,
 * the operator (`-` or `?`) and the default or error message.
 */
const INTERPOLATION =
  /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
const interpolations = [...composeText.replace(/\$\$/g, '').matchAll(INTERPOLATION)];
const interpolated = new Set(interpolations.map((m) => m[1] ?? m[4]));
/** Variables compose refuses to start without (`${VAR:?…}`): they have no default. */
const required = new Set(interpolations.filter((m) => m[2] === '?').map((m) => m[1]));

/**
 * What an operator puts in .env for a required variable: a URL-safe sample, as .env.example asks.
 */
const sampleOf = (name: string) => `sample-${name.toLowerCase()}`;

/**
 * A value as compose would see it with nothing set in the environment but the required
 * variables: the defaults, and a sample of each required one.
 */
const withDefaults = (value: string) =>
  value
    .replace(/\$\$/g, '\0')
    .replace(INTERPOLATION, (_m, name: string, operator?: string, fallback?: string) =>
      operator === '?' ? sampleOf(name) : (fallback ?? ''),
    )
    .replace(/\0/g, '$');

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  const pairs: [string, string][] = Array.isArray(env)
    ? env.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')])
    : Object.entries(env).map(([k, v]) => [k, String(v)]);
  return Object.fromEntries(pairs.map(([k, v]) => [k, withDefaults(v)]));
}

const commandOf = (service: ComposeService): string[] =>
  typeof service.command === 'string'
    ? service.command.split(/\s+/)
    : (service.command ?? []).map(String);

/** Value of a `--flag value` argument. */
const flag = (args: string[], name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const healthTest = (service: ComposeService): string =>
  [service.healthcheck?.test ?? []].flat().join(' ');

/** The healthcheck script of the image: it calls the container's own network address. */
const HEALTHCHECK = 'dist/scripts/container-healthcheck.js';

/** The port and path a healthcheck calls, from its `node <HEALTHCHECK> <port> <path>`. */
function healthTarget(service: ComposeService): { port: number; path: string } | undefined {
  const test = [service.healthcheck?.test ?? []].flat();
  const at = test.indexOf(HEALTHCHECK);
  if (at < 0 || test[at - 1] !== 'node') return undefined;
  return { port: Number(test[at + 1]), path: test[at + 2] };
}

/** Services that run one of the apps of this repository. */
const appServices = Object.entries(services).filter(([, s]) => APPS.includes(commandOf(s)[0]));
const serviceRunning = (app: string) => appServices.filter(([, s]) => commandOf(s)[0] === app);

/** The configuration a gateway or tracker container starts with: its file and its variables. */
function configOf(name: string, service: ComposeService): ProtesConfig {
  const env = environmentOf(service);
  const inContainer = env.PROTES_CONFIG;
  const mount = (service.volumes ?? [])
    .map((v) => v.split(':'))
    .find(([, target]) => target === inContainer);
  if (!mount) throw new Error(`${name}: PROTES_CONFIG ${inContainer} is not a mounted file`);
  return loadConfig({ ...env, PROTES_CONFIG: join(ROOT, mount[0]) });
}

// ---- .env.example

const envExample = read('.env.example');
const exampleVariables = [...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
const CONFIG_VARIABLES = new Set(configKeys().map(({ path }) => envNameOf(path)));
/** Read by the loader itself, and by tests only. */
const OTHER_VARIABLES = new Set(['PROTES_CONFIG', 'MONGO_URL', 'TEST_AMQP_URL']);

describe('Dockerfile', () => {
  it('has named stages, and copies only from earlier ones', () => {
    expect(stageNames).toEqual(expect.arrayContaining(['build', 'runtime']));
    stages.forEach((stage, i) => {
      for (const line of stage.lines) {
        const from = /--from=(\S+)/i.exec(line)?.[1];
        if (from) expect(stages.slice(0, i).map((s) => s.name)).toContain(from);
      }
    });
  });

  it('copies from the build context only what exists and .dockerignore lets through', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(contextCopies.length).toBeGreaterThan(0);
    for (const source of contextCopies) {
      expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
      expect(ignored).not.toContain(source.split('/')[0]);
    }
    // The image compiles from source: what the host built or installed must not leak in.
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.env']));
  });

  it('compiles what `npm run build` compiles', () => {
    const build = parseYaml(read('tsconfig.build.json')) as { include: string[] };
    const folders = new Set(build.include.map((glob) => glob.split('/')[0]));
    for (const folder of folders) {
      if (existsSync(join(ROOT, folder))) expect(contextCopies).toContain(folder);
    }
    expect(contextCopies).toEqual(expect.arrayContaining(['tsconfig.json', 'tsconfig.build.json']));
  });

  it('carries the files the gateway serves from source into the runtime stage', () => {
    // The status page is read from apps/gateway/status-page at start (not compiled into dist/).
    expect(existsSync(join(ROOT, 'apps/gateway/status-page/index.html'))).toBe(true);
    expect(stages.at(-1)?.lines).toContain(
      'COPY --from=build /app/apps/gateway/status-page apps/gateway/status-page',
    );
  });

  it('runs on a Node.js that package.json allows', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    const major = Number(/(\d+)/.exec(engines.node)?.[1]);
    const image = /ARG NODE_IMAGE=node:(\d+)/.exec(dockerfile)?.[1];
    expect(Number(image)).toBeGreaterThanOrEqual(major);
  });

  it('runs as a numeric, non-root user that owns the SQLite folder', () => {
    const uid = imageUid();
    expect(uid).toBeGreaterThan(0);
    expect(stages.at(-1)?.lines.join('\n')).toContain(`chown ${uid}:${uid} var`);
  });

  it('is built by the release workflow for amd64 and arm64 on a version tag', () => {
    expect(release.on.push.tags).toEqual(['v*']);
    const steps = release.jobs.image.steps;
    const build = steps.find((s) => s.uses?.startsWith('docker/build-push-action@'))?.with;
    expect(build).toMatchObject({ file: 'Dockerfile', target: 'runtime', push: true });
    expect(String(build?.platforms).split(',').sort()).toEqual(['linux/amd64', 'linux/arm64']);
    expect(stageNames).toContain(build?.target);
    const meta = steps.find((s) => s.uses?.startsWith('docker/metadata-action@'))?.with;
    expect(meta?.images).toBe('${{ env.IMAGE }}');
    // Tag v1.2.3 publishes 1.2.3: the version the chart's appVersion names.
    expect(String(meta?.tags)).toContain('type=semver,pattern={{version}}');
    expect(RELEASE_IMAGE).toMatch(/^ghcr\.io\/[a-z0-9-]+\/protes$/);
  });

  it('starts the app its first argument names, gateway by default', () => {
    expect(stages.at(-1)?.lines).toEqual(
      expect.arrayContaining(['ENTRYPOINT ["protes"]', 'CMD ["gateway"]']),
    );
    expect(dockerfile).toContain('docker/entrypoint.sh /usr/local/bin/protes');
    expect([...entrypointApps].sort()).toEqual([...APPS].sort());
  });

  it('has an entry point that refuses an unknown app and runs a known one', () => {
    const bad = spawnSync('sh', ['docker/entrypoint.sh', 'nope'], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage: protes gateway|tracker|tes-sim');
    if (!existsSync(join(ROOT, 'dist/apps/tes-sim/src/main.js'))) {
      console.warn('no build (npm run build): the entry point was not run with an app');
      return;
    }
    const help = execFileSync('sh', ['docker/entrypoint.sh', 'tes-sim', '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(help).toContain('--name');
  });
});

describe('docker-compose.yml', () => {
  it('builds every target from a stage of the Dockerfile', () => {
    const built = Object.values(services).filter((s) => s.build);
    expect(built.length).toBeGreaterThan(0);
    for (const service of built) {
      expect(stageNames).toContain(service.build?.target);
      expect(existsSync(join(ROOT, service.build?.context ?? '.', 'Dockerfile'))).toBe(true);
    }
  });

  it('runs apps that exist, from the image it builds', () => {
    expect(appServices.map(([, s]) => commandOf(s)[0]).sort()).toEqual(
      expect.arrayContaining(['gateway', 'tes-sim', 'tracker']),
    );
    for (const [, service] of appServices) expect(service.build?.target).toBe('runtime');
    for (const [name, service] of Object.entries(services)) {
      if (service.build)
        expect([name, APPS]).toEqual([name, expect.arrayContaining([commandOf(service)[0]])]);
    }
    expect(serviceRunning('tes-sim')).toHaveLength(3);
  });

  it('sets only PROTES_ variables that are configuration keys', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const variable of Object.keys(environmentOf(service))) {
        if (!variable.startsWith('PROTES_') || OTHER_VARIABLES.has(variable)) continue;
        expect([name, variable, CONFIG_VARIABLES.has(variable)]).toEqual([name, variable, true]);
      }
    }
  });

  it('gives gateway and tracker a configuration that loads: MongoDB and RabbitMQ, the same', () => {
    const [[gatewayName, gateway]] = serviceRunning('gateway');
    const [[trackerName, tracker]] = serviceRunning('tracker');
    const gatewayConfig = configOf(gatewayName, gateway);
    const trackerConfig = configOf(trackerName, tracker);
    expect(gatewayConfig.store.driver).toBe('mongo');
    expect(gatewayConfig.bus.driver).toBe('rabbitmq');
    expect(trackerConfig.store).toEqual(gatewayConfig.store);
    expect(trackerConfig.bus).toEqual(gatewayConfig.bus);
    expect(trackerConfig.nodes).toEqual(gatewayConfig.nodes);
  });

  it('points the store and the bus at its mongo and rabbitmq services, with their credentials', () => {
    const [[name, gateway]] = serviceRunning('gateway');
    const config = configOf(name, gateway);
    const mongo = new URL(config.store.mongoUrl ?? '');
    expect(services[mongo.hostname]?.image).toMatch(/^mongo:/);
    expect(mongo.port || '27017').toBe('27017');
    const mongoEnv = environmentOf(services[mongo.hostname]);
    expect(decodeURIComponent(mongo.username)).toBe(mongoEnv.MONGO_INITDB_ROOT_USERNAME);
    expect(decodeURIComponent(mongo.password)).toBe(mongoEnv.MONGO_INITDB_ROOT_PASSWORD);
    // The root user is defined in the admin database.
    expect(mongo.searchParams.get('authSource')).toBe('admin');
    const amqp = new URL(config.bus.url ?? '');
    const rabbitmq = services[amqp.hostname];
    expect(rabbitmq?.image).toMatch(/^rabbitmq:/);
    expect(amqp.port || '5672').toBe('5672');
    const rabbitEnv = environmentOf(rabbitmq);
    expect(decodeURIComponent(amqp.username)).toBe(rabbitEnv.RABBITMQ_DEFAULT_USER);
    expect(decodeURIComponent(amqp.password)).toBe(rabbitEnv.RABBITMQ_DEFAULT_PASS);
  });

  it('names as nodes the tes-sim services, on the ports they listen on', () => {
    const [[name, gateway]] = serviceRunning('gateway');
    const config = configOf(name, gateway);
    const sims = serviceRunning('tes-sim');
    expect(config.nodes.map((n) => new URL(n.url).hostname).sort()).toEqual(
      sims.map(([simName]) => simName).sort(),
    );
    for (const node of config.nodes) {
      const url = new URL(node.url);
      const args = commandOf(services[url.hostname]);
      expect([node.name, url.port]).toEqual([node.name, flag(args, '--port')]);
      expect(flag(args, '--host')).toBe('0.0.0.0');
      expect(url.pathname).toBe('/ga4gh/tes/v1');
    }
  });

  it('checks health on the ports the services listen on, from outside loopback', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, healthTest(service)]).not.toEqual([name, '']);
    }
    // The script is compiled into dist/ by `npm run build`, which the image runs.
    expect(existsSync(join(ROOT, HEALTHCHECK.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(
      true,
    );
    for (const [name, sim] of serviceRunning('tes-sim')) {
      expect([name, healthTarget(sim)]).toEqual([
        name,
        { port: Number(flag(commandOf(sim), '--port')), path: '/ga4gh/tes/v1/service-info' },
      ]);
    }
    for (const [name, service] of [...serviceRunning('gateway'), ...serviceRunning('tracker')]) {
      const config = configOf(name, service);
      expect(config.server.host).toBe('0.0.0.0');
      expect([name, healthTarget(service)]).toEqual([
        name,
        { port: config.server.port, path: '/health' },
      ]);
    }
  });

  it('publishes the gateway on its configured port, on the host loopback unless asked', () => {
    const [[name, gateway]] = serviceRunning('gateway');
    const published = (gateway.ports ?? []).map((p) => withDefaults(p).split(':'));
    expect(published.map((p) => Number(p.at(-1)))).toEqual([configOf(name, gateway).server.port]);
    expect(published.map((p) => p.length === 3 && p[0])).toEqual(['127.0.0.1']);
  });

  it('has no default for any password: compose refuses to start without one', () => {
    const secrets = [...interpolated].filter((v) => /PASSWORD|SECRET|TOKEN/.test(v));
    expect(secrets.length).toBeGreaterThan(0);
    expect(secrets.filter((v) => !required.has(v))).toEqual([]);
    // Nor does the example env file give one that a copy would keep.
    for (const secret of secrets) expect(envExample).toMatch(new RegExp(`^${secret}=$`, 'm'));
  });

  it('runs the image the release workflow publishes', () => {
    for (const [name, service] of appServices) {
      expect([name, withDefaults(service.image ?? '').split(':')[0]]).toEqual([
        name,
        RELEASE_IMAGE,
      ]);
    }
  });

  it('lets trackers scale: no fixed container name, no published port', () => {
    for (const [, tracker] of serviceRunning('tracker')) {
      expect(tracker.container_name).toBeUndefined();
      expect(tracker.ports).toBeUndefined();
    }
    for (const service of Object.values(services)) expect(service.container_name).toBeUndefined();
  });

  it('waits only on services that say when they are healthy', () => {
    for (const [name, service] of Object.entries(services)) {
      const dependsOn = service.depends_on ?? {};
      if (Array.isArray(dependsOn)) continue;
      for (const [dependency, { condition }] of Object.entries(dependsOn)) {
        expect([name, dependency, dependency in services]).toEqual([name, dependency, true]);
        if (condition === 'service_healthy') expect(healthTest(services[dependency])).not.toBe('');
      }
    }
  });
});

describe('.env.example', () => {
  it('lists every configuration variable', () => {
    const listed = new Set(exampleVariables);
    expect([...CONFIG_VARIABLES].filter((v) => !listed.has(v))).toEqual([]);
  });

  it('lists every variable docker-compose.yml reads', () => {
    const listed = new Set(exampleVariables);
    expect(interpolated.size).toBeGreaterThan(0);
    expect([...interpolated].filter((v) => !listed.has(v))).toEqual([]);
  });

  it('lists no variable that nothing reads', () => {
    const known = new Set([...CONFIG_VARIABLES, ...OTHER_VARIABLES, ...interpolated]);
    expect(exampleVariables.filter((v) => !known.has(v))).toEqual([]);
    expect(new Set(exampleVariables).size).toBe(exampleVariables.length);
  });

  it('gives compose-only variables names the configuration loader does not refuse', () => {
    // .env reaches gateway and trackers (env_file); an unknown PROTES_ variable stops them.
    for (const variable of interpolated) {
      if (variable.startsWith('PROTES_')) expect(CONFIG_VARIABLES.has(variable)).toBe(true);
    }
  });
});
