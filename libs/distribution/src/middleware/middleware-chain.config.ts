import { type Static, Type } from '@sinclair/typebox';
import { type ChainEntryConfig, MiddlewareChainSchema } from '@protes/config';
import type { FieldError } from '@protes/tes';
import Ajv, { type ErrorObject } from 'ajv';

/** One middleware of the chain, as the chain runs it. */
export interface ChainMiddleware {
  name: string;
  settings: Record<string, unknown>;
  enabled: boolean;
}

/** Members tried in order until one does not fail; when all fail, the task fails or the group is skipped. */
export interface ChainGroup {
  fallback: ChainMiddleware[];
  onFailure: 'fail' | 'skip';
  enabled: boolean;
}

export type ChainEntry = ChainMiddleware | ChainGroup;

export const isGroup = (entry: ChainEntry): entry is ChainGroup => 'fallback' in entry;

/** How an entry is named in decisions and messages. */
export const labelOf = (entry: ChainEntry): string =>
  isGroup(entry) ? `fallback(${entry.fallback.map((m) => m.name).join(', ')})` : entry.name;

/** A chain (or a change to it) that cannot be used; `errors` name each field and why. */
export class ChainValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.reason}`).join('; '));
  }
}

const EntryPatchSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    settings: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    onFailure: Type.Optional(Type.Union([Type.Literal('fail'), Type.Literal('skip')])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type EntryPatch = Static<typeof EntryPatchSchema>;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateChain = ajv.compile<ChainEntryConfig[]>(MiddlewareChainSchema);
const validatePatch = ajv.compile<EntryPatch>(EntryPatchSchema);

/** Ajv's errors as fields under `root` (`chain[1].fallback[0].name`; '' for a body's own keys). */
function fieldErrors(errors: ErrorObject[] | null | undefined, root: string): FieldError[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const parts = e.instancePath.split('/').slice(1);
      if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
      const path = parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
      return {
        field: `${root}${path}`.replace(/^\./, '') || '(body)',
        reason:
          e.keyword === 'additionalProperties' ? 'is not a known key' : (e.message ?? 'is invalid'),
      };
    });
}

const toMiddleware = (member: string | { name: string; settings?: object; enabled?: boolean }) =>
  typeof member === 'string'
    ? { name: member, settings: {}, enabled: true }
    : { name: member.name, settings: { ...member.settings }, enabled: member.enabled ?? true };

/** The chain with every default spelt out (the form it is run, stored and shown in). */
export function normalizeChain(chain: readonly ChainEntryConfig[]): ChainEntry[] {
  return chain.map((entry) =>
    typeof entry === 'object' && 'fallback' in entry
      ? {
          fallback: entry.fallback.map(toMiddleware),
          onFailure: entry.onFailure ?? 'fail',
          enabled: entry.enabled ?? true,
        }
      : toMiddleware(entry),
  );
}

/** Each use of a name that is not registered, as `chain[2].fallback[0]`. */
export function unknownNames(
  chain: readonly ChainEntry[],
  registered: readonly string[],
  root = 'chain',
): FieldError[] {
  const reason = (name: string) =>
    `"${name}" is not a registered middleware (registered: ${registered.join(', ') || 'none'})`;
  return chain.flatMap((entry, i) =>
    (isGroup(entry)
      ? entry.fallback.map((m, j) => ({ m, at: `[${i}].fallback[${j}]` }))
      : [{ m: entry, at: `[${i}]` }]
    )
      .filter(({ m }) => !registered.includes(m.name))
      .map(({ m, at }) => ({ field: `${root}${at}`, reason: reason(m.name) })),
  );
}

/** Reads a chain sent to the management API (or stored): its shape, then its names. */
export function parseChain(raw: unknown, registered: readonly string[]): ChainEntry[] {
  if (!validateChain(raw))
    throw new ChainValidationError(fieldErrors(validateChain.errors, 'chain'));
  const chain = normalizeChain(raw);
  const unknown = unknownNames(chain, registered);
  if (unknown.length) throw new ChainValidationError(unknown);
  return chain;
}

/**
 * The chain with one entry changed: `position` is an entry's index (`2`) or a group member's
 * (`2.0`); a group takes `enabled` and `onFailure`, a middleware `enabled` and `settings`
 * (replacing all of them). Undefined when there is no such entry.
 */
export function patchChain(
  chain: readonly ChainEntry[],
  position: string,
  raw: unknown,
): ChainEntry[] | undefined {
  const at = /^(\d+)(?:\.(\d+))?$/.exec(position);
  if (!at) {
    throw new ChainValidationError([
      { field: 'index', reason: 'must be an entry index such as 2, or 2.0 for a group member' },
    ]);
  }
  if (!validatePatch(raw)) throw new ChainValidationError(fieldErrors(validatePatch.errors, ''));
  const next = structuredClone(chain) as ChainEntry[];
  const entry = next[Number(at[1])];
  const target =
    at[2] === undefined || !entry
      ? entry
      : isGroup(entry)
        ? entry.fallback[Number(at[2])]
        : undefined;
  if (!target) return undefined;
  const wrong = isGroup(target) ? 'settings' : 'onFailure';
  if (raw[wrong] !== undefined) {
    const reason = isGroup(target)
      ? `a fallback group has no settings: patch its members (${position}.0, ...)`
      : 'applies to fallback groups only';
    throw new ChainValidationError([{ field: wrong, reason }]);
  }
  Object.assign(target, raw);
  return next;
}
