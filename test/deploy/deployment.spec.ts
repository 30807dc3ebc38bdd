import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configKeys, envNameOf, loadConfig, type ProtesConfig } from '@protes/config';
import { load as parseYaml } from 'js-yaml';

/**
 * The deployment files checked against the code. No Docker engine runs where this project is
 * developed, so nothing here builds the image or starts the compose project; instead every name
 * the files use (stages, apps, configuration keys, variables, services, ports) must be one the
 * code and the other files define, and each container's configuration must load.
 */
const ROOT = resolve(__dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Apps the image can run: folders under apps/ with a main.ts. */
const APPS = readdirSync(join(ROOT, 'apps')).filter((app) =>
  existsSync(join(ROOT, 'apps', app, 'src/main.ts')),
);

// ---- Dockerfile

interface Stage {
  image: string;
  name?: string;
  lines: string[];
}

function dockerfileStages(text: string): Stage[] {
  // Continuation lines joined, comments dropped.
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ image: from[1], name: from[2]?.toLowerCase(), lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

const dockerfile = read('Dockerfile');
const stages = dockerfileStages(dockerfile);
const stageNames = stages.map((s) => s.name).filter((n): n is string => !!n);

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

/** `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR` names used for interpolation. */
const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
const interpolated = new Set(
  [...composeText.replace(/\$\$/g, '').matchAll(INTERPOLATION)].map((m) => m[1] ?? m[3]),
);

/** A value as compose would see it with nothing set in the environment: the defaults. */
const withDefaults = (value: string) =>
  value
    .replace(/\$\$/g, '\0')
    .replace(INTERPOLATION, (_m, _name: string, fallback?: string) => fallback ?? '')
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

/** The ports of the URLs a healthcheck calls on the container itself. */
const healthPorts = (service: ComposeService): number[] =>
  [...healthTest(service).matchAll(/https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)/g)].map((m) =>
    Number(m[1]),
  );

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

  it('runs on a Node.js that package.json allows', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    const major = Number(/(\d+)/.exec(engines.node)?.[1]);
    const image = /ARG NODE_IMAGE=node:(\d+)/.exec(dockerfile)?.[1];
    expect(Number(image)).toBeGreaterThanOrEqual(major);
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

  it('checks health on the ports the services listen on', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, healthTest(service)]).not.toEqual([name, '']);
    }
    for (const [name, sim] of serviceRunning('tes-sim')) {
      expect([name, healthPorts(sim)]).toEqual([name, [Number(flag(commandOf(sim), '--port'))]]);
    }
    for (const [name, service] of [...serviceRunning('gateway'), ...serviceRunning('tracker')]) {
      const config = configOf(name, service);
      expect(config.server.host).toBe('0.0.0.0');
      expect([name, healthPorts(service)]).toEqual([name, [config.server.port]]);
      expect(healthTest(service)).toContain('/health');
    }
  });

  it('publishes the gateway on its configured port', () => {
    const [[name, gateway]] = serviceRunning('gateway');
    const published = (gateway.ports ?? []).map((p) => Number(withDefaults(p).split(':').at(-1)));
    expect(published).toEqual([configOf(name, gateway).server.port]);
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
