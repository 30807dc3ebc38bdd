import type { TObject, TSchema } from '@sinclair/typebox';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { load as parseYaml } from 'js-yaml';
import { type ProtesConfig, ProtesConfigSchema } from './config.schema';

export class ConfigError extends Error {}

const ENV_PREFIX = 'PROTES_';
/** Variables that belong to the loader itself, not to a key. */
const LOADER_VARIABLES = new Set(['PROTES_CONFIG']);
/**
 * Kubernetes gives every pod variables for each Service of its namespace: Services `protes` and
 * `protes-mongodb` yield PROTES_SERVICE_HOST, PROTES_MONGODB_PORT=tcp://…, PROTES_PORT_8080_TCP…
 * They are not configuration and must not stop the process.
 */
const SERVICE_LINK = /^PROTES(_\w+)?_(SERVICE_(HOST|PORT(_\w+)?)|PORT_\d+_(TCP|UDP|SCTP)(_\w+)?)$/;
const SERVICE_LINK_PORT = /^PROTES(_\w+)?_PORT$/;
const isServiceLink = (name: string, value: string) =>
  SERVICE_LINK.test(name) || (SERVICE_LINK_PORT.test(name) && /^(tcp|udp|sctp):\/\//.test(value));

const upperSnake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** `['store','sqlitePath']` → `PROTES_STORE__SQLITE_PATH` */
export const envNameOf = (path: string[]) => ENV_PREFIX + path.map(upperSnake).join('__');

/**
 * Every leaf key of the schema with its path. Objects are walked; arrays (like `nodes`) are leaves,
 * set from the environment as JSON or YAML.
 */
export function configKeys(
  schema: TSchema = ProtesConfigSchema,
  path: string[] = [],
): { path: string[]; schema: TSchema }[] {
  if (schema.type === 'object' && schema.properties) {
    return Object.entries((schema as TObject).properties).flatMap(([key, sub]) =>
      configKeys(sub, [...path, key]),
    );
  }
  return [{ path, schema }];
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/**
 * A secret's content from the file that holds it, without the one line end that editors and
 * `echo` add (a token or password never ends with one). `what` names where the path came from.
 */
function readSecretFile(what: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ConfigError(`${what}: cannot read ${path} (${code ?? message})`);
  }
}

/** `PROTES_X_FILE` names a file whose content is the value of `PROTES_X`. */
const FILE_SUFFIX = '_FILE';

/**
 * The environment with every `PROTES_<KEY>_FILE` replaced by `PROTES_<KEY>` holding the file's
 * content, so that secrets can come from mounted files (Kubernetes Secrets, Docker secrets)
 * rather than from variables any process listing can show.
 */
function withFileVariables(env: NodeJS.ProcessEnv, known: Set<string>): NodeJS.ProcessEnv {
  const resolved: NodeJS.ProcessEnv = { ...env };
  for (const [name, path] of Object.entries(env)) {
    const target = name.slice(0, -FILE_SUFFIX.length);
    if (!name.endsWith(FILE_SUFFIX) || !known.has(target) || path === undefined) continue;
    if (env[target] !== undefined)
      throw new ConfigError(`${target} and ${name} are both set: set one of them`);
    resolved[target] = readSecretFile(name, path);
    delete resolved[name];
  }
  return resolved;
}

function fromEnv(env: NodeJS.ProcessEnv, into: Record<string, unknown>): void {
  const known = new Map(configKeys().map((k) => [envNameOf(k.path), k]));
  for (const [name, raw] of Object.entries(withFileVariables(env, new Set(known.keys())))) {
    if (!name.startsWith(ENV_PREFIX) || LOADER_VARIABLES.has(name) || raw === undefined) continue;
    const key = known.get(name);
    if (!key && isServiceLink(name, raw)) continue;
    if (!key)
      throw new ConfigError(`unknown environment variable ${name}: no such configuration key`);
    // Strings stay strings; numbers, booleans, lists and objects are read as YAML.
    let value: unknown = raw;
    if (key.schema.type !== 'string' && !key.schema.anyOf) {
      try {
        value = parseYaml(raw);
      } catch (error) {
        // Only the reason and position: the value itself may hold node credentials.
        const { reason, mark } = error as {
          reason?: string;
          mark?: { line: number; column: number };
        };
        const at = mark ? ` at line ${mark.line + 1}, column ${mark.column + 1}` : '';
        throw new ConfigError(`${name}: not valid YAML or JSON (${reason ?? 'unreadable'}${at})`);
      }
    }
    setPath(into, key.path, value);
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
addFormats(ajv);
const validate = ajv.compile<ProtesConfig>(ProtesConfigSchema);

/**
 * Reads the YAML file named by PROTES_CONFIG (if any), applies PROTES_* environment overrides,
 * fills defaults and validates. Any unknown key or bad value throws a ConfigError naming it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ProtesConfig {
  let raw: unknown = {};
  const file = env.PROTES_CONFIG;
  if (file) {
    try {
      raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (error) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(error as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError(`${file}: the top level must be a mapping`);
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  fromEnv(env, merged);
  if (!validate(merged)) {
    const reasons = (validate.errors ?? []).map((e) => {
      const at = e.instancePath.split('/').slice(1).join('.') || '(top level)';
      if (e.keyword === 'additionalProperties')
        return `${at === '(top level)' ? '' : `${at}.`}${String(e.params.additionalProperty)}: unknown key`;
      return `${at}: ${e.message ?? 'is invalid'}`;
    });
    throw new ConfigError(
      `invalid configuration${file ? ` (${file})` : ''}: ${[...new Set(reasons)].join('; ')}`,
    );
  }
  checkConsistency(merged);
  readNodeSecrets(merged);
  return merged;
}

/** Puts the content of each node's `bearerFile` and `passwordFile` in `bearer` and `password`. */
function readNodeSecrets(config: ProtesConfig): void {
  config.nodes.forEach(({ credentials }, i) => {
    if (!credentials) return;
    const fields = [
      ['bearer', 'bearerFile'],
      ['password', 'passwordFile'],
    ] as const;
    for (const [field, fileField] of fields) {
      const path = credentials[fileField];
      if (path === undefined) continue;
      const at = `nodes.${i}.credentials.${fileField}`;
      if (credentials[field] !== undefined)
        throw new ConfigError(`${at}: set either ${field} or ${fileField}, not both`);
      const secret = readSecretFile(at, path);
      if (!secret) throw new ConfigError(`${at}: ${path} is empty`);
      credentials[field] = secret;
      delete credentials[fileField];
    }
  });
}

function checkConsistency(config: ProtesConfig): void {
  const names = config.nodes.map((n) => n.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new ConfigError(`nodes: the name ${duplicate} is used twice`);
  if (config.store.driver === 'mongo' && !config.store.mongoUrl) {
    throw new ConfigError(
      `store.mongoUrl: is required when store.driver is mongo (${envNameOf(['store', 'mongoUrl'])})`,
    );
  }
  if (config.tracker.maxPollMs < config.tracker.minPollMs) {
    throw new ConfigError('tracker.maxPollMs: must not be smaller than tracker.minPollMs');
  }
}
