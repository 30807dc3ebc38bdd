import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { configKeys, envNameOf, loadConfig, type ProtesConfig } from '@protes/config';
import { HealthController, MetricsController } from '@protes/server';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import { TES_BASE_PATHS } from '../../apps/gateway/src/common/tes-base-paths';
import {
  CHART,
  chartYaml,
  defaultValues,
  type K8sObject,
  renderChart,
  templateFiles,
  type Values,
} from './helm-chart';
import { imageUid, read, RELEASE_IMAGE, ROOT } from './repo-files';

/**
 * The Helm chart, rendered for each mode by test/deploy/go-template.ts (Helm does not run here)
 * and held against the apps: every object is a valid Kubernetes object, every variable and
 * configuration key is one the apps accept and their configuration loads, probes call the apps'
 * health routes on the port they listen on, and only the TES API leaves the cluster.
 */

// ---- the kinds the chart makes, and their schemas

interface Validatable {
  validate(): void;
}
type Model = new (data: never) => Validatable;
const MODELS: Record<string, Model> = {
  'v1/ConfigMap': coreV1.ConfigMap,
  'v1/Secret': coreV1.Secret,
  'v1/Service': coreV1.Service,
  'v1/PersistentVolumeClaim': coreV1.PersistentVolumeClaim,
  'apps/v1/Deployment': appsV1.Deployment,
  'apps/v1/StatefulSet': appsV1.StatefulSet,
  'policy/v1/PodDisruptionBudget': policyV1.PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscalingV2.HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': networkingV1.Ingress,
};
/** Kinds of operators' custom resources, which kubernetes-models has no schema of: their fields. */
const CUSTOM_KINDS: Record<string, string[]> = {
  'route.openshift.io/v1/Route': ['spec.to.name', 'spec.path', 'spec.port.targetPort'],
  'monitoring.coreos.com/v1/ServiceMonitor': ['spec.selector.matchLabels', 'spec.endpoints'],
};

const at = (object: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);

// ---- what the pods of gateway and tracker run

interface Container {
  name: string;
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  securityContext?: { readOnlyRootFilesystem?: boolean };
  readinessProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
  startupProbe?: { httpGet: { path: string; port: string } };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
  securityContext: { runAsUser: number; runAsNonRoot: boolean };
  terminationGracePeriodSeconds: number;
  affinity?: { podAffinity?: unknown };
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    strategy?: { type: string };
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (objects: K8sObject[], kind: string, suffix: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
const appWorkloads = (objects: K8sObject[]) =>
  byKind(objects, 'Deployment').map((o) => o as Workload);
const appContainer = (workload: Workload) => workload.spec.template.spec.containers[0];
const envOf = (container: Container) =>
  Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));

const CONFIG_VARIABLES = new Set(configKeys().map(({ path }) => envNameOf(path)));

/**
 * The configuration an app container starts with: the ConfigMap's file, its variables, and the
 * files of the Secrets it mounts, as the configuration loader reads them.
 */
function containerConfig(objects: K8sObject[], workload: Workload): ProtesConfig {
  const dir = mkdtempSync(join(tmpdir(), 'protes-chart-'));
  try {
    const pod = workload.spec.template.spec;
    const container = appContainer(workload);
    const files = new Map<string, string>();
    for (const mount of container.volumeMounts ?? []) {
      const volume = pod.volumes.find((v) => v.name === mount.name);
      const configMap = at(volume, 'configMap.name');
      const secret = at(volume, 'secret.secretName');
      if (typeof configMap === 'string') {
        const data = named(objects, 'ConfigMap', configMap)?.data as Record<string, string>;
        files.set(mount.mountPath, data[mount.subPath ?? '']);
      } else if (typeof secret === 'string') {
        const object = named(objects, 'Secret', secret);
        const data = (object?.data ?? {}) as Record<string, string>;
        for (const [key, value] of Object.entries(data))
          files.set(`${mount.mountPath}/${key}`, Buffer.from(value, 'base64').toString('utf8'));
        const stringData = (object?.stringData ?? {}) as Record<string, string>;
        for (const [key, value] of Object.entries(stringData))
          files.set(`${mount.mountPath}/${key}`, value);
      }
    }
    /** A copy of a mounted file on this machine; the configuration file names copies too. */
    const local = (path: string) => {
      let content = files.get(path);
      if (content === undefined) throw new Error(`${path} is not in a mounted ConfigMap or Secret`);
      if (path === envOf(container).PROTES_CONFIG) {
        for (const other of files.keys())
          if (other !== path) content = content.split(other).join(local(other));
      }
      const copy = join(dir, path.replace(/\//g, '_'));
      writeFileSync(copy, content);
      return copy;
    };
    const env = envOf(container);
    for (const [name, value] of Object.entries(env)) {
      if (name === 'PROTES_CONFIG' || name.endsWith('_FILE')) env[name] = local(value);
    }
    return loadConfig(env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the modes

const AUTH_ON = {
  auth: {
    enabled: true,
    issuers: [{ issuer: 'https://login.example.org/realms/ga4gh', audience: 'protes' }],
  },
};
const NODES = [{ name: 'eu-1', url: 'http://tes.example.org/ga4gh/tes/v1' }];
const NODES_WITH_TOKEN_FILE = [
  { ...NODES[0], credentials: { bearerFile: '/etc/protes/node-credentials/eu-1-token' } },
];

const MODES: Record<string, Values> = {
  default: {},
  standalone: { mode: 'standalone', config: { nodes: NODES } },
  external: {
    mongodb: { enabled: false, externalUrl: 'mongodb://protes:pw@mongo.example.org:27017/protes' },
    rabbitmq: { enabled: false, externalUrl: 'amqps://protes:pw@mq.example.org:5671/tes' },
    gateway: { autoscaling: { enabled: true } },
    serviceMonitor: { enabled: true },
  },
  openshift: {
    clusterType: 'openshift',
    applicationDomain: 'tes.apps.example.org',
    config: { ...AUTH_ON, nodes: NODES_WITH_TOKEN_FILE },
    nodeCredentials: { files: { 'eu-1-token': 'secret-token' } },
    plugins: { packages: ['protes-middleware-example@0.1.0'] },
  },
  ingress: {
    applicationDomain: 'tes.example.org',
    ingress: { className: 'nginx', tls: { enabled: true } },
    config: AUTH_ON,
  },
};

const rendered = Object.fromEntries(
  Object.entries(MODES).map(([mode, values]) => [mode, renderChart(values).objects]),
);

describe.each(Object.keys(MODES))('the chart, %s', (mode) => {
  const objects = rendered[mode];

  it('makes only valid objects of known kinds, with unique names per kind', () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const kind = `${object.apiVersion}/${object.kind}`;
      const model = MODELS[kind];
      if (model) {
        expect(() => new model(object as never).validate()).not.toThrow();
      } else {
        expect([kind, Object.keys(CUSTOM_KINDS)]).toEqual([kind, expect.arrayContaining([kind])]);
        for (const field of CUSTOM_KINDS[kind])
          expect([kind, field, at(object, field)]).not.toEqual([kind, field, undefined]);
      }
      expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sets only variables the apps accept, and a configuration that loads', () => {
    for (const workload of appWorkloads(objects)) {
      for (const name of Object.keys(envOf(appContainer(workload)))) {
        const key = name.replace(/_FILE$/, '');
        const known = ['PROTES_CONFIG', 'NODE_OPTIONS'].includes(name) || CONFIG_VARIABLES.has(key);
        expect([name, known]).toEqual([name, true]);
      }
      const config = containerConfig(objects, workload);
      expect(config.server.host).toBe('0.0.0.0');
      expect(config.store.driver).toBe(mode === 'standalone' ? 'sqlite' : 'mongo');
      expect(config.bus.driver).toBe(mode === 'standalone' ? 'in-process' : 'rabbitmq');
    }
  });

  it('sizes the V8 heap of every app well inside its container memory limit', () => {
    for (const workload of appWorkloads(objects)) {
      const container = appContainer(workload);
      const options = envOf(container).NODE_OPTIONS ?? '';
      const mb = (flag: string) => Number(new RegExp(`--${flag}=(\\d+)`).exec(options)?.[1]);
      const limit = Number(/^(\d+)Mi$/.exec(String(at(container, 'resources.limits.memory')))?.[1]);
      const heap = mb('max-old-space-size') + 3 * mb('max-semi-space-size');
      // Both flags given (else NaN), and a limit in Mi.
      const name = workload.metadata.name;
      expect([name, Number.isFinite(heap), Number.isFinite(limit)]).toEqual([name, true, true]);
      // The rest of the limit is SQLite's cache, the sockets' buffers and the code.
      expect(heap).toBeLessThanOrEqual(0.8 * limit);
    }
  });

  it('probes the health routes of the apps on the port they listen on', () => {
    const prefix = Reflect.getMetadata('path', HealthController) as string;
    const live = Reflect.getMetadata('path', HealthController.prototype.live) as string;
    const readiness = `/${prefix}`;
    const liveness = `/${prefix}/${live}`;
    for (const workload of appWorkloads(objects)) {
      const container = appContainer(workload);
      const config = containerConfig(objects, workload);
      const port = container.ports?.find((p) => p.name === 'http')?.containerPort;
      expect(port).toBe(config.server.port);
      expect(container.readinessProbe?.httpGet).toEqual({ path: readiness, port: 'http' });
      expect(container.livenessProbe?.httpGet).toEqual({ path: liveness, port: 'http' });
      expect(container.startupProbe?.httpGet).toEqual({ path: liveness, port: 'http' });
    }
  });

  it('gives a stopping tracker longer than its lease to release its tasks', () => {
    for (const workload of appWorkloads(objects)) {
      const { leaseMs } = containerConfig(objects, workload).tracker;
      expect(workload.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
        leaseMs,
      );
    }
  });

  it('runs the released image as its numeric non-root user, read-only but for mounted paths', () => {
    for (const workload of appWorkloads(objects)) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUid() });
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(at(container, 'image')).toBe(`${RELEASE_IMAGE}:${chartYaml.appVersion}`);
        expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
        for (const mount of container.volumeMounts ?? [])
          expect(pod.volumes.map((v) => v.name)).toContain(mount.name);
      }
      const writable = (appContainer(workload).volumeMounts ?? []).filter((m) => !m.readOnly);
      expect(writable.map((m) => m.mountPath)).toContain('/tmp');
      const config = containerConfig(objects, workload);
      if (config.store.driver === 'sqlite') {
        const mount = writable.find((m) => m.mountPath === dirname(config.store.sqlitePath));
        const volume = pod.volumes.find((v) => v.name === mount?.name);
        expect(at(volume, 'persistentVolumeClaim.claimName')).toBeDefined();
      }
    }
  });

  it('runs one gateway deployment and trackers only with the RabbitMQ bus', () => {
    const apps = appWorkloads(objects).map((w) => appContainer(w).args?.[0]);
    expect(apps.filter((a) => a === 'gateway')).toHaveLength(1);
    const trackers = appWorkloads(objects).filter((w) => appContainer(w).args?.[0] === 'tracker');
    if (mode === 'standalone') expect(trackers).toEqual([]);
    else expect(trackers.map((t) => t.spec.replicas)).toEqual([2]);
  });

  it('has Services, budgets and autoscalers that select the pods they are for', () => {
    const pods = [...byKind(objects, 'Deployment'), ...byKind(objects, 'StatefulSet')].map(
      (o) => (o as Workload).spec.template,
    );
    const selects = (selector: Record<string, string>) =>
      pods.filter((p) => Object.entries(selector).every(([k, v]) => p.metadata.labels[k] === v));
    for (const service of byKind(objects, 'Service')) {
      const selected = selects(at(service, 'spec.selector') as Record<string, string>);
      expect([service.metadata.name, selected.length]).toEqual([service.metadata.name, 1]);
      for (const port of at(service, 'spec.ports') as { targetPort: string }[]) {
        const ports = selected[0].spec.containers.flatMap((c) => c.ports ?? []);
        expect(ports.map((p) => p.name)).toContain(port.targetPort);
      }
    }
    for (const pdb of byKind(objects, 'PodDisruptionBudget'))
      expect(selects(at(pdb, 'spec.selector.matchLabels') as Record<string, string>)).toHaveLength(
        1,
      );
    for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
      const target = at(hpa, 'spec.scaleTargetRef.name') as string;
      const deployment = named(objects, 'Deployment', target) as Workload;
      expect(deployment.spec.replicas).toBeUndefined();
    }
  });

  it('exposes the TES API alone, on every base path the gateway serves it at', () => {
    const tesPaths = TES_BASE_PATHS.map((p) => `/${p}`).sort();
    const gatewayService = named(objects, 'Service', '-gateway')?.metadata.name;
    const ingresses = byKind(objects, 'Ingress');
    const routes = byKind(objects, 'Route');
    if (mode === 'openshift') {
      expect(ingresses).toEqual([]);
      expect(routes.map((r) => at(r, 'spec.path')).sort()).toEqual(tesPaths);
      for (const route of routes) expect(at(route, 'spec.to.name')).toBe(gatewayService);
    } else if (mode === 'ingress') {
      expect(routes).toEqual([]);
      const [rule] = at(ingresses[0], 'spec.rules') as {
        host: string;
        http: { paths: { path: string; backend: unknown }[] };
      }[];
      expect(rule.host).toBe('tes.example.org');
      expect(rule.http.paths.map((p) => p.path).sort()).toEqual(tesPaths);
      for (const path of rule.http.paths)
        expect(path.backend).toEqual({ service: { name: gatewayService, port: { name: 'http' } } });
      expect(at(ingresses[0], 'spec.ingressClassName')).toBe('nginx');
      expect(at(ingresses[0], 'spec.tls')).toEqual([
        { hosts: ['tes.example.org'], secretName: 'protes-tls' },
      ]);
    } else {
      expect([...ingresses, ...routes]).toEqual([]);
    }
    // Nothing else of the gateway is reachable from outside: ClusterIP Services only.
    for (const service of byKind(objects, 'Service'))
      expect(at(service, 'spec.type') ?? 'ClusterIP').toBe('ClusterIP');
  });

  it('rolls the pods when the configuration changes', () => {
    const checksum = (workloads: Workload[]) =>
      workloads[0].spec.template.metadata.annotations?.['checksum/config'];
    const changed = renderChart({
      ...MODES[mode],
      config: mergeConfig(MODES[mode], { log: { level: 'debug' } }),
    }).objects;
    expect(checksum(appWorkloads(objects))).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(appWorkloads(changed))).not.toBe(checksum(appWorkloads(objects)));
  });
});

const mergeConfig = (values: Values, extra: Values) => ({
  ...((values.config as Values | undefined) ?? {}),
  ...extra,
});

describe('the chart, by mode', () => {
  it('runs standalone as one gateway replaced, not rolled, on a volume kept with the node', () => {
    const objects = rendered.standalone;
    const [gateway] = appWorkloads(objects);
    expect(gateway.spec.replicas).toBe(1);
    expect(gateway.spec.strategy).toEqual({ type: 'Recreate' });
    expect(at(named(objects, 'PersistentVolumeClaim', '-data'), 'spec.accessModes')).toEqual([
      'ReadWriteOnce',
    ]);
    expect(at(gateway.spec.template.spec.affinity, 'podAffinity')).toBeDefined();
    expect(byKind(objects, 'StatefulSet')).toEqual([]);
    expect(byKind(objects, 'PodDisruptionBudget')).toEqual([]);
    // Without ReadWriteOnce, no pod affinity is needed.
    const rwx = renderChart({ mode: 'standalone', persistence: { accessMode: 'ReadWriteMany' } });
    expect(appWorkloads(rwx.objects)[0].spec.template.spec.affinity).toBeUndefined();
  });

  it('points the apps at its own MongoDB and RabbitMQ, with the passwords those start with', () => {
    const objects = rendered.default;
    const config = containerConfig(objects, appWorkloads(objects)[0]);
    const secret = byKind(objects, 'Secret')[0].data as Record<string, string>;
    const decoded = (key: string) => Buffer.from(secret[key], 'base64').toString('utf8');
    const mongo = new URL(config.store.mongoUrl ?? '');
    const amqp = new URL(config.bus.url ?? '');
    expect(named(objects, 'Service', mongo.hostname)).toBeDefined();
    expect(named(objects, 'Service', amqp.hostname)).toBeDefined();
    expect([mongo.port, amqp.port]).toEqual(['27017', '5672']);
    expect(decodeURIComponent(mongo.password)).toBe(decoded('mongodb-password'));
    expect(decodeURIComponent(amqp.password)).toBe(decoded('rabbitmq-password'));
    expect(decoded('mongodb-password')).toMatch(/^[A-Za-z0-9]{32}$/);
    const password = renderChart({ mongodb: { auth: { rootPassword: 'p@ss word+/:x' } } });
    const url = containerConfig(password.objects, appWorkloads(password.objects)[0]).store.mongoUrl;
    expect(decodeURIComponent(new URL(url ?? '').password)).toBe('p@ss word+/:x');
  });

  it('uses the URLs of external services, and runs none itself', () => {
    const objects = rendered.external;
    const config = containerConfig(objects, appWorkloads(objects)[0]);
    expect(config.store.mongoUrl).toBe('mongodb://protes:pw@mongo.example.org:27017/protes');
    expect(config.bus.url).toBe('amqps://protes:pw@mq.example.org:5671/tes');
    expect(byKind(objects, 'StatefulSet')).toEqual([]);
  });

  it('takes the URLs from an existing Secret instead of making one', () => {
    const { objects } = renderChart({ secrets: { existingSecret: 'protes-db' } });
    expect(byKind(objects, 'Secret')).toEqual([]);
    for (const workload of appWorkloads(objects)) {
      expect(
        workload.spec.template.spec.volumes.find((v) => v.name === 'secrets')?.secret,
      ).toMatchObject({ secretName: 'protes-db' });
    }
  });

  it('mounts node credentials as files the configuration can name', () => {
    const objects = rendered.openshift;
    const secret = named(objects, 'Secret', '-node-credentials');
    expect(at(secret, 'stringData')).toEqual({ 'eu-1-token': 'secret-token' });
    const mount = appContainer(appWorkloads(objects)[0]).volumeMounts?.find(
      (m) => m.name === 'node-credentials',
    );
    expect(mount).toMatchObject({ mountPath: '/etc/protes/node-credentials', readOnly: true });
    // The gateway reads the token from the mounted file the node's credentials name.
    const config = containerConfig(objects, appWorkloads(objects)[0]);
    expect(config.nodes[0].credentials).toEqual({ bearer: 'secret-token' });
  });

  it('installs plugins with an init container into the plugins directory', () => {
    const pod = appWorkloads(rendered.openshift)[0].spec.template.spec;
    const [init] = pod.initContainers ?? [];
    expect(at(init, 'args')).toEqual(['protes-middleware-example@0.1.0']);
    const plugins = appContainer(appWorkloads(rendered.openshift)[0]).volumeMounts?.find(
      (m) => m.name === 'plugins',
    );
    // The directory README "Custom middleware" names, read-only for the gateway.
    expect(plugins).toMatchObject({ mountPath: '/opt/protes/plugins', readOnly: true });
    expect(read('README.md')).toContain('/opt/protes/plugins');
  });

  it('scrapes the metrics route of gateways and trackers when asked', () => {
    const [monitor] = byKind(rendered.external, 'ServiceMonitor');
    const route = Reflect.getMetadata('path', MetricsController.prototype.scrape) as string;
    expect(at(monitor, 'spec.endpoints')).toEqual([
      { port: 'http', path: `/${route}`, interval: '30s' },
    ]);
    expect(byKind(rendered.default, 'ServiceMonitor')).toEqual([]);
  });

  it.each([
    ['the API exposed without authentication', { applicationDomain: 'tes.example.org' }, /auth/],
    ['OpenShift without authentication', { clusterType: 'openshift' }, /auth/],
    ['an external MongoDB without its URL', { mongodb: { enabled: false } }, /mongodb.externalUrl/],
    ['an unknown mode', { mode: 'cluster' }, /mode: must be/],
  ])('refuses %s, saying why', (_case, values, message) => {
    expect(() => renderChart(values)).toThrow(message);
  });

  it('names objects after the release, with the chart name once', () => {
    const names = (release: string) =>
      renderChart({}, release).objects.map((o) => o.metadata.name.split('-')[0]);
    expect(new Set(names('protes'))).toEqual(new Set(['protes']));
    expect(renderChart({}, 'tes').objects[0].metadata.name).toMatch(/^tes-protes-/);
  });

  it('writes notes that name the Service and warn about what is missing', () => {
    const { notes } = renderChart();
    expect(notes).toContain('svc/protes-gateway');
    expect(notes).toContain('No TES node is configured');
    expect(notes).toContain('Authentication is off');
    expect(renderChart(MODES.ingress).notes).toContain('https://tes.example.org/ga4gh/tes/v1');
  });
});

describe('helm/values.yaml', () => {
  /** `.Values.a.b`, `$values.a.b` and, for gateway and tracker, `$settings.a`. */
  const used = (pattern: RegExp) =>
    new Set(Object.values(templateFiles).flatMap((t) => [...t.matchAll(pattern)].map((m) => m[1])));

  const paths = [
    ...used(/\.Values\.([\w.]+)/g),
    ...used(/\$values\.([\w.]+)/g),
    ...[...used(/\$settings\.([\w.]+)/g)].flatMap((p) => [`gateway.${p}`, `tracker.${p}`]),
  ];

  it('has every value the templates read', () => {
    expect(paths.length).toBeGreaterThan(20);
    for (const path of paths)
      expect([path, at(defaultValues, path)]).not.toEqual([path, undefined]);
  });

  it('has no value that no template reads', () => {
    const params = [...read('helm/values.yaml').matchAll(/^## @param (\S+)/gm)].map((m) => m[1]);
    expect(params.length).toBeGreaterThan(20);
    // A value is read when a template reads it, a value inside it, or the object holding it.
    const unread = params.filter(
      (param) =>
        !paths.some((p) => p === param || p.startsWith(`${param}.`) || param.startsWith(`${p}.`)),
    );
    expect(unread).toEqual([]);
  });

  it('gives the configuration keys the apps know, and the image the release publishes', () => {
    const config = defaultValues.config as Values;
    const keys = new Set(configKeys().map(({ path }) => path[0]));
    expect(Object.keys(config).filter((k) => !keys.has(k))).toEqual([]);
    expect(at(defaultValues, 'image.repository')).toBe(RELEASE_IMAGE);
    const version = (JSON.parse(read('package.json')) as { version: string }).version;
    expect(chartYaml.appVersion).toBe(version);
  });
});

describe('helm/README.md', () => {
  it('has the parameter table readme-generator makes from values.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'protes-readme-'));
    try {
      const copy = join(dir, 'README.md');
      copyFileSync(join(CHART, 'README.md'), copy);
      const generator = join(ROOT, 'node_modules/@bitnami/readme-generator-for-helm/bin/index.js');
      execFileSync(process.execPath, [generator, '-v', join(CHART, 'values.yaml'), '-r', copy], {
        stdio: 'pipe',
      });
      expect(readFileSync(join(CHART, 'README.md'), 'utf8')).toBe(readFileSync(copy, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells how to install, upgrade and uninstall', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    for (const command of ['helm install', 'helm upgrade', 'helm uninstall'])
      expect(readme).toContain(command);
  });
});
