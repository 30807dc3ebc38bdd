import type { Logger } from '@nestjs/common';
import type { FieldError } from '@protes/tes';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { SettingsFiles, SettingsSchema, TaskMiddleware } from './middleware';
import {
  type ChainEntry,
  type ChainMiddleware,
  ChainValidationError,
  isGroup,
} from './middleware-chain.config';

// One Ajv for every middleware's settings schema. Not strict: a plugin's schema may carry
// annotations of its own. `verbose` puts each failed keyword's schema on its error, which the
// messages of unions (anyOf/oneOf) are written from.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: false });
addFormats(ajv);
const compiled = new WeakMap<SettingsSchema, ValidateFunction>();

/** A middleware's settings schema, compiled once per process; throws when it is no valid schema. */
export function settingsValidator(schema: SettingsSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** `['rules', '0', 'host']` → `rules[0].host`; a key that is no identifier as `["eu west"]`. */
export function settingsPath(segments: readonly string[]): string {
  return segments
    .map((s) =>
      /^\d+$/.test(s) ? `[${s}]` : IDENTIFIER.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`,
    )
    .join('')
    .replace(/^\./, '');
}

/** `root` + a path within it: `chain[1].settings` + `rules[0]` → `chain[1].settings.rules[0]`. */
export const under = (root: string, path: string): string =>
  !path || !root ? root || path : path.startsWith('[') ? `${root}${path}` : `${root}.${path}`;

const pointer = (instancePath: string): string[] =>
  instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));

/** A union branch that only requires keys: its keys, as `a` or `a and b`. */
function requiredOnly(branch: unknown): string | undefined {
  if (typeof branch !== 'object' || branch === null) return undefined;
  const { required, ...rest } = branch as { required?: unknown };
  if (Object.keys(rest).length || !Array.isArray(required) || !required.length) return undefined;
  return required.map((k) => `\`${String(k)}\``).join(' and ');
}

/** What a failed anyOf/oneOf says in words, when its branches are simple enough to name. */
function unionReason(error: ErrorObject): string | undefined {
  const branches = Array.isArray(error.schema) ? (error.schema as unknown[]) : [];
  if (!branches.length) return undefined;
  const consts = branches.map((b) => (b as { const?: unknown } | null)?.const);
  if (consts.every((c) => c !== undefined)) {
    return `must be one of ${consts.map((c) => JSON.stringify(c)).join(', ')}`;
  }
  const keys = branches.map(requiredOnly);
  if (keys.some((k) => k === undefined)) return undefined;
  return error.keyword === 'oneOf'
    ? `needs exactly one of ${keys.join(', ')}`
    : `needs ${keys.join(' or ')}`;
}

/**
 * Ajv's errors for a middleware's settings as fields under `root` (`chain[1].settings`): unknown
 * keys and missing ones named themselves, unions of literals or of required keys in one sentence.
 */
export function settingsFieldErrors(
  errors: readonly ErrorObject[] | null | undefined,
  root: string,
): FieldError[] {
  const all = errors ?? [];
  const unions = new Map<string, string>();
  for (const error of all) {
    if (error.keyword !== 'anyOf' && error.keyword !== 'oneOf') continue;
    const reason = unionReason(error);
    if (reason) unions.set(error.schemaPath, reason);
  }
  const absorbed = (error: ErrorObject) =>
    [...unions.keys()].some((path) => error.schemaPath.startsWith(`${path}/`));
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of all) {
    if (error.keyword === 'if' || absorbed(error)) continue;
    const segments = pointer(error.instancePath);
    let reason = unions.get(error.schemaPath) ?? error.message ?? 'is invalid';
    if (error.keyword === 'additionalProperties') {
      segments.push(String(error.params.additionalProperty));
      reason = 'is not a known setting';
    } else if (error.keyword === 'required') {
      segments.push(String(error.params.missingProperty));
      reason = 'is required';
    }
    const entry = { field: under(root, settingsPath(segments)), reason };
    const key = `${entry.field}\n${entry.reason}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(entry);
    }
  }
  return out;
}

/** A middleware of a chain, ready to run: the instance, and what its `prepare` made. */
export interface PreparedMember {
  middleware: TaskMiddleware;
  prepared: unknown;
  /** The name and settings it was prepared from, to reuse it for the same ones. */
  key: string;
}

/** A chain whose settings were all checked and prepared; run as it is for each task. */
export interface PreparedChain {
  chain: readonly ChainEntry[];
  members: ReadonlyMap<ChainMiddleware, PreparedMember>;
}

export interface PrepareOptions {
  /** The registered middleware, and its compiled settings validator (none: no schema). */
  lookup: (name: string) => { middleware: TaskMiddleware; validate?: ValidateFunction } | undefined;
  files: SettingsFiles;
  /** Where errors are named from: `chain` (management API) or `middleware.chain` (configuration). */
  root: string;
  /** A member prepared before from the same name and settings, to take instead of preparing again. */
  reuse?: (key: string) => PreparedMember | undefined;
  logger: Pick<Logger, 'warn'>;
}

const memberKey = (m: ChainMiddleware): string => `${m.name}\n${JSON.stringify(m.settings)}`;

/** The members of a chain with the field each is named by (`chain[2]`, `chain[2].fallback[0]`). */
export function membersOf(
  chain: readonly ChainEntry[],
  root: string,
): { member: ChainMiddleware; at: string }[] {
  return chain.flatMap((entry, i) =>
    isGroup(entry)
      ? entry.fallback.map((member, j) => ({ member, at: `${root}[${i}].fallback[${j}]` }))
      : [{ member: entry, at: `${root}[${i}]` }],
  );
}

/** Settings errors thrown by a `prepare` (ours by class, a plugin's by name) as fields under `at`. */
function preparationErrors(error: unknown, at: string): FieldError[] | undefined {
  const { name, errors } = (error ?? {}) as { name?: unknown; errors?: unknown };
  if (name !== 'SettingsError' || !Array.isArray(errors)) return undefined;
  return (errors as { field?: unknown; reason?: unknown }[]).map((e) => ({
    field: under(at, typeof e.field === 'string' ? e.field : ''),
    reason: typeof e.reason === 'string' && e.reason ? e.reason : 'is invalid',
  }));
}

type Outcome = { ok: true; prepared: unknown } | { ok: false; errors: FieldError[] };

/** One middleware's settings: checked against its schema, then prepared; errors under `root`. */
async function prepareSettings(
  middleware: TaskMiddleware,
  validate: ValidateFunction | undefined,
  settings: Readonly<Record<string, unknown>>,
  files: SettingsFiles,
  root: string,
  logger: Pick<Logger, 'warn'>,
): Promise<Outcome> {
  if (validate && !validate(settings)) {
    return { ok: false, errors: settingsFieldErrors(validate.errors, root) };
  }
  try {
    const prepared =
      typeof middleware.prepare === 'function'
        ? await middleware.prepare(settings, files)
        : undefined;
    return { ok: true, prepared };
  } catch (error) {
    const named = preparationErrors(error, root);
    if (named) return { ok: false, errors: named };
    logger.warn(
      `middleware ${middleware.name} could not prepare its settings (${root || 'settings'}): ${(error as Error)?.stack ?? String(error)}`,
    );
    const reason = 'could not be prepared (the reason is in the log)';
    return { ok: false, errors: [{ field: root || 'settings', reason }] };
  }
}

/**
 * One middleware's settings checked and prepared as a chain would (for tests of a middleware):
 * what its `prepare` made of them, or a ChainValidationError naming each setting by its path.
 */
export async function checkSettings<P>(
  middleware: TaskMiddleware<P>,
  settings: Readonly<Record<string, unknown>>,
  files: SettingsFiles,
): Promise<P> {
  const validate = middleware.settingsSchema && settingsValidator(middleware.settingsSchema);
  const outcome = await prepareSettings(middleware, validate, settings, files, '', {
    warn: () => undefined,
  });
  if (!outcome.ok) throw new ChainValidationError(outcome.errors);
  return outcome.prepared as P;
}

/**
 * Checks every member's settings against its middleware's schema and prepares them (in every
 * entry, enabled or not: a disabled entry can be enabled by a patch of `enabled` alone). Every
 * problem of the chain is reported at once, as a ChainValidationError. The names must be
 * registered (checked before). `chain` should be frozen: its settings objects are handed over.
 */
export async function prepareChain(
  chain: readonly ChainEntry[],
  options: PrepareOptions,
): Promise<PreparedChain> {
  const errors: FieldError[] = [];
  const members = new Map<ChainMiddleware, PreparedMember>();
  for (const { member, at } of membersOf(chain, options.root)) {
    const key = memberKey(member);
    const earlier = options.reuse?.(key);
    if (earlier) {
      members.set(member, earlier);
      continue;
    }
    const found = options.lookup(member.name);
    if (!found) throw new Error(`middleware "${member.name}" is not registered`);
    const { middleware, validate } = found;
    const outcome = await prepareSettings(
      middleware,
      validate,
      member.settings,
      options.files,
      `${at}.settings`,
      options.logger,
    );
    if (outcome.ok) members.set(member, { middleware, prepared: outcome.prepared, key });
    else errors.push(...outcome.errors);
  }
  if (errors.length) throw new ChainValidationError(errors);
  return { chain, members };
}
