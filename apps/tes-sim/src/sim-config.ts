import { parseArgs } from 'node:util';

/**
 * The simulator's configuration: from command-line flags, with `SIM_*` environment variables as
 * fallbacks, or from an options object when started in-process. Every value is checked here, and a
 * bad one names the flag (or variable, or option) it came from.
 */

export const SIM_FAILURE_KINDS = ['EXECUTOR_ERROR', 'SYSTEM_ERROR', 'PREEMPTED'] as const;
export type SimFailureKind = (typeof SIM_FAILURE_KINDS)[number];

/** The TES versions the simulator speaks: 1.1 (the default) or, as an older node, 1.0. */
export const SIM_TES_VERSIONS = ['1.1.0', '1.0.0'] as const;
export type SimTesVersion = (typeof SIM_TES_VERSIONS)[number];

export const SIM_LOG_LEVELS = [
  'silent',
  'fatal',
  'error',
  'warn',
  'log',
  'debug',
  'verbose',
] as const;
export type SimLogLevel = (typeof SIM_LOG_LEVELS)[number];

export interface SimConfig {
  /** Shown in the listening line, service-info and task metadata. */
  name: string;
  /** service-info `id`; defaults to `org.ga4gh.tes-sim.<name>`. */
  id: string;
  host: string;
  /** 0 picks a free port; the real one is printed. */
  port: number;
  /** Accepted and checked for older scripts; GA4GH service-info has no place to show it. */
  latitude?: number;
  longitude?: number;
  queuedMs: number;
  initializingMs: number;
  runningMs: number;
  /** Share of tasks (0..1) that end in `failureKind` instead of COMPLETE. */
  failureRate: number;
  failureKind: SimFailureKind;
  /** Added to every TES request before it is answered. */
  latencyMs: number;
  /** At start, do not accept connections for this long. */
  refuseMs: number;
  /** At start, answer 503 on every TES route for this long. */
  errorMs: number;
  /** When false, `GET /tasks` answers 501, as a node that cannot list. */
  list: boolean;
  /** Seed of the failure draw; defaults to a hash of the name, so each node has its own. */
  seed: number;
  logLevel: SimLogLevel;
  /** Simulation: how many real seconds a simulated `sleep 1` takes (0.1: `sleep 5` takes 0.5 s). */
  timeScale: number;
  /** Run each executor's command as a real local process (as the simulator's user). */
  execute: boolean;
  /** Execute mode: where task directories go; by default a temporary directory of its own. */
  workDir?: string;
  /**
   * The `resources.backend_parameters` keys this node supports, shown in service-info as
   * `tesResources_backend_parameters`; undefined: the node declares nothing (and supports none).
   */
  backendParameters?: readonly string[];
  /** service-info `storage`. */
  storage: readonly string[];
  /**
   * The TES version it speaks. `1.0.0`: service-info says so, a task using a field TES 1.0 does not
   * have is refused (400 naming it), and answers have the 1.0 shape (see the README).
   */
  tesVersion: SimTesVersion;
}

/** What `startSimulator` accepts: any subset of the configuration; the rest takes its default. */
export type SimOptions = Partial<SimConfig>;

export const SIM_CONFIG = Symbol('SIM_CONFIG');

export class SimConfigError extends Error {
  override name = 'SimConfigError';
}

export const SIM_DEFAULTS = {
  name: 'tes-sim',
  host: '127.0.0.1',
  port: 0,
  queuedMs: 200,
  initializingMs: 300,
  runningMs: 2000,
  failureRate: 0,
  failureKind: 'EXECUTOR_ERROR',
  latencyMs: 0,
  refuseMs: 0,
  errorMs: 0,
  list: true,
  logLevel: 'warn',
  timeScale: 0.1,
  execute: false,
  storage: ['file:///sim'],
  tesVersion: '1.1.0',
} as const satisfies Partial<SimConfig>;

const MAX_MS = 24 * 60 * 60 * 1000;

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

interface Setting<T> {
  key: keyof SimConfig;
  flag: string;
  /** A flag that takes no value (`--execute`); its variable takes true/false. */
  isSwitch?: boolean;
  /** How a flag or variable's text becomes a value. */
  parse: (raw: string) => Check<T>;
  /** Whether a value (parsed, or given in-process) is acceptable. */
  check: (value: unknown) => Check<T>;
}

function integerCheck(min: number, max: number): (value: unknown) => Check<number> {
  return (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? { ok: true, value }
      : { ok: false, reason: `must be an integer from ${min} to ${max}` };
}

function numberCheck(min: number, max: number): (value: unknown) => Check<number> {
  return (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
      ? { ok: true, value }
      : { ok: false, reason: `must be a number from ${min} to ${max}` };
}

function numeric(check: (value: unknown) => Check<number>): (raw: string) => Check<number> {
  return (raw) => {
    const text = raw.trim();
    // Number('') is 0 and Number('0x10') is 16: only plain decimal notation is taken.
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) {
      const bounds = check(Number.NaN);
      return { ok: false, reason: bounds.ok ? 'must be a number' : bounds.reason };
    }
    return check(Number(text));
  };
}

function oneOfCheck<T extends string>(values: readonly T[]): (value: unknown) => Check<T> {
  return (value) =>
    typeof value === 'string' && (values as readonly string[]).includes(value)
      ? { ok: true, value: value as T }
      : { ok: false, reason: `must be one of ${values.join(', ')}` };
}

function textCheck(pattern: RegExp, what: string): (value: unknown) => Check<string> {
  return (value) =>
    typeof value === 'string' && pattern.test(value)
      ? { ok: true, value }
      : { ok: false, reason: `must be ${what}` };
}

const booleanCheck = (value: unknown): Check<boolean> =>
  typeof value === 'boolean' ? { ok: true, value } : { ok: false, reason: 'must be true or false' };

function parseBoolean(raw: string): Check<boolean> {
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return { ok: true, value: true };
  if (['false', '0', 'no', 'off'].includes(text)) return { ok: true, value: false };
  return { ok: false, reason: 'must be true or false' };
}

/** A list given as `a,b,c` (blanks around items and empty items dropped). */
function listCheck(pattern: RegExp, what: string): (value: unknown) => Check<readonly string[]> {
  return (value) =>
    Array.isArray(value) && value.every((item) => typeof item === 'string' && pattern.test(item))
      ? { ok: true, value: [...(value as string[])] }
      : { ok: false, reason: `must be a comma-separated list of ${what}` };
}

function parseList(check: (value: unknown) => Check<readonly string[]>) {
  return (raw: string): Check<readonly string[]> =>
    check(
      raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    );
}

function setting<T>(
  key: keyof SimConfig,
  flag: string,
  check: (value: unknown) => Check<T>,
  parse?: (raw: string) => Check<T>,
): Setting<T> {
  return { key, flag, check, parse: parse ?? ((raw) => check(raw)) };
}

const durationCheck = integerCheck(0, MAX_MS);

/** Every setting, in the order `--help` lists them. */
const SETTINGS: readonly Setting<unknown>[] = [
  setting(
    'name',
    'name',
    textCheck(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a short name (letters, digits, . _ -)'),
  ),
  setting('id', 'id', textCheck(/^\S{1,200}$/, 'a non-empty identifier without spaces')),
  setting('host', 'host', textCheck(/^\S{1,255}$/, 'a host name or address')),
  setting('port', 'port', integerCheck(0, 65535), numeric(integerCheck(0, 65535))),
  setting('latitude', 'latitude', numberCheck(-90, 90), numeric(numberCheck(-90, 90))),
  setting('longitude', 'longitude', numberCheck(-180, 180), numeric(numberCheck(-180, 180))),
  setting('queuedMs', 'queued-ms', durationCheck, numeric(durationCheck)),
  setting('initializingMs', 'initializing-ms', durationCheck, numeric(durationCheck)),
  setting('runningMs', 'running-ms', durationCheck, numeric(durationCheck)),
  setting('failureRate', 'failure-rate', numberCheck(0, 1), numeric(numberCheck(0, 1))),
  setting('failureKind', 'failure-kind', oneOfCheck(SIM_FAILURE_KINDS), (raw) =>
    oneOfCheck(SIM_FAILURE_KINDS)(raw.trim().toUpperCase()),
  ),
  setting('latencyMs', 'latency-ms', durationCheck, numeric(durationCheck)),
  setting('refuseMs', 'refuse-ms', durationCheck, numeric(durationCheck)),
  setting('errorMs', 'error-ms', durationCheck, numeric(durationCheck)),
  setting('list', 'list', booleanCheck, parseBoolean),
  setting('seed', 'seed', integerCheck(0, 2 ** 32 - 1), numeric(integerCheck(0, 2 ** 32 - 1))),
  setting('logLevel', 'log-level', oneOfCheck(SIM_LOG_LEVELS), (raw) =>
    oneOfCheck(SIM_LOG_LEVELS)(raw.trim().toLowerCase()),
  ),
  setting('timeScale', 'time-scale', numberCheck(0, 1000), numeric(numberCheck(0, 1000))),
  { ...setting('execute', 'execute', booleanCheck, parseBoolean), isSwitch: true },
  setting('workDir', 'work-dir', textCheck(/^.{1,4096}$/s, 'a directory path')),
  setting(
    'backendParameters',
    'backend-parameters',
    listCheck(/^[^\s,]{1,256}$/, 'keys (no spaces)'),
    parseList(listCheck(/^[^\s,]{1,256}$/, 'keys (no spaces)')),
  ),
  setting(
    'storage',
    'storage',
    listCheck(/^[^\s,]{1,2048}$/, 'URLs (no spaces)'),
    parseList(listCheck(/^[^\s,]{1,2048}$/, 'URLs (no spaces)')),
  ),
  setting('tesVersion', 'tes-version', oneOfCheck(SIM_TES_VERSIONS), (raw) =>
    oneOfCheck(SIM_TES_VERSIONS)(raw.trim()),
  ),
];

export const envName = (flag: string): string => `SIM_${flag.toUpperCase().replace(/-/g, '_')}`;

/** FNV-1a: a stable default seed per node name. */
function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Settings that only make sense together: TES 1.0 has no backend parameters, so a 1.0 node cannot
 * advertise any. `source` names a setting as the caller gave it.
 */
function checkCombination(values: Partial<SimConfig>, source: (key: keyof SimConfig) => string) {
  if (values.tesVersion === '1.0.0' && values.backendParameters !== undefined) {
    throw new SimConfigError(
      `${source('backendParameters')} cannot be given with ${source('tesVersion')} 1.0.0: TES 1.0 has no backend parameters`,
    );
  }
}

function complete(values: Partial<SimConfig>): SimConfig {
  const name = values.name ?? SIM_DEFAULTS.name;
  return {
    ...SIM_DEFAULTS,
    ...values,
    name,
    id: values.id ?? `org.ga4gh.tes-sim.${name}`,
    seed: values.seed ?? hashSeed(name),
  };
}

/** Checks an in-process options object; an error names the option. */
export function resolveSimConfig(options: SimOptions = {}): SimConfig {
  const values: Partial<Record<keyof SimConfig, unknown>> = {};
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new SimConfigError(`unknown simulator option "${key}"`);
  }
  for (const s of SETTINGS) {
    const value = options[s.key];
    if (value === undefined) continue;
    const checked = s.check(value);
    if (!checked.ok) {
      throw new SimConfigError(`option ${s.key} ${checked.reason} (got ${JSON.stringify(value)})`);
    }
    values[s.key] = checked.value;
  }
  checkCombination(values as Partial<SimConfig>, (key) => `option ${key}`);
  return complete(values as Partial<SimConfig>);
}

export interface CliConfig {
  config: SimConfig;
  help: boolean;
}

/**
 * Reads flags (`--queued-ms 50` or `--queued-ms=50`), falling back to `SIM_*` variables. An unknown
 * flag, a missing value or a bad value throws a `SimConfigError` naming it.
 */
export function loadSimConfig(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): CliConfig {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    'no-list': { type: 'boolean' },
  };
  for (const s of SETTINGS) options[s.flag] = { type: s.isSwitch ? 'boolean' : 'string' };

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (error) {
    // parseArgs already names the flag ("Unknown option '--colour'", "Option '--port <value>'
    // argument missing"); keep its words. (Not `instanceof Error`: under jest's VM the error comes
    // from another realm.)
    const message = (error as { message?: unknown }).message;
    throw new SimConfigError(typeof message === 'string' ? message : String(error));
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;

  const values: Partial<Record<keyof SimConfig, unknown>> = {};
  for (const s of SETTINGS) {
    const fromFlag = flags[s.flag];
    const variable = envName(s.flag);
    if (fromFlag === true) {
      values[s.key] = true;
      continue;
    }
    const raw = typeof fromFlag === 'string' ? fromFlag : env[variable];
    if (raw === undefined || (fromFlag === undefined && raw === '')) continue;
    const source = typeof fromFlag === 'string' ? `--${s.flag}` : `${variable} (--${s.flag})`;
    const checked = s.parse(raw);
    if (!checked.ok) {
      throw new SimConfigError(`${source} ${checked.reason} (got ${JSON.stringify(raw)})`);
    }
    values[s.key] = checked.value;
  }
  if (flags['no-list'] === true) {
    if (typeof flags.list === 'string') {
      throw new SimConfigError('--no-list and --list cannot both be given');
    }
    values.list = false;
  }
  checkCombination(values as Partial<SimConfig>, (key) => {
    const flag = SETTINGS.find((s) => s.key === key)?.flag ?? key;
    return typeof flags[flag] === 'string' ? `--${flag}` : `${envName(flag)} (--${flag})`;
  });
  return { config: complete(values as Partial<SimConfig>), help: flags.help === true };
}

export const SIM_USAGE = `Usage: tes-sim [flags]     (every flag also reads SIM_<FLAG> from the environment)

  --name <name>              node name (default ${SIM_DEFAULTS.name})
  --id <id>                  service-info id (default org.ga4gh.tes-sim.<name>)
  --host <host>              address to listen on (default ${SIM_DEFAULTS.host})
  --port <n>                 port; 0 picks a free one (default ${SIM_DEFAULTS.port})
  --latitude <deg>           node location: checked, not shown (service-info has no such field)
  --longitude <deg>
  --queued-ms <ms>           time in QUEUED (default ${SIM_DEFAULTS.queuedMs})
  --initializing-ms <ms>     time in INITIALIZING (default ${SIM_DEFAULTS.initializingMs})
  --running-ms <ms>          time in RUNNING (default ${SIM_DEFAULTS.runningMs})
  --failure-rate <0..1>      share of tasks that fail (default ${SIM_DEFAULTS.failureRate})
  --failure-kind <kind>      EXECUTOR_ERROR | SYSTEM_ERROR | PREEMPTED (default ${SIM_DEFAULTS.failureKind})
  --seed <n>                 seed of the failure draw (default: a hash of the name)
  --latency-ms <ms>          added to every TES request (default ${SIM_DEFAULTS.latencyMs})
  --refuse-ms <ms>           refuse connections for this long after start (default 0)
  --error-ms <ms>            answer 503 for this long after start (default 0)
  --list <true|false>        serve GET /tasks; false answers 501 (default true); --no-list
  --log-level <level>        silent | fatal | error | warn | log | debug | verbose (default ${SIM_DEFAULTS.logLevel})
  --time-scale <factor>      real seconds per simulated second of \`sleep\` (default ${SIM_DEFAULTS.timeScale})
  --backend-parameters <k,…> backend_parameters keys this node supports (service-info)
  --storage <url,…>          service-info storage (default ${SIM_DEFAULTS.storage.join(',')})
  --tes-version <version>    ${SIM_TES_VERSIONS.join(' | ')}: the TES version it speaks (default ${SIM_DEFAULTS.tesVersion})
  --execute                  run executors' commands as real local processes, as this user
  --work-dir <dir>           --execute: where task directories go (default: a temporary directory)
  -h, --help                 this text
`;
