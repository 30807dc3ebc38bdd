import type { BuiltinMiddleware } from './settings';

/** Where the reference is kept, from the repository root. */
export const REFERENCE_PATH = 'docs/middleware-reference.md';

/** A schema as far as the reference reads it (plain JSON Schema keywords). */
interface Node {
  type?: string;
  description?: string;
  title?: string;
  default?: unknown;
  properties?: Record<string, Node>;
  patternProperties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  anyOf?: Node[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
}

/** TypeBox writes a record of any key as this pattern. */
const ANY_KEY = '^(.*)$';

const code = (value: unknown): string =>
  `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

/** The value map of a record schema (`{ name: value }`), when it is one. */
const recordValue = (schema: Node): Node | undefined => schema.patternProperties?.[ANY_KEY];

/** What a value is, in a few words: `number from -90 to 90`, `list of objects`. */
function typeOf(schema: Node, plural = false): string {
  const s = plural ? 's' : '';
  if (schema.anyOf?.every((branch) => branch.const !== undefined)) {
    return `one of ${schema.anyOf.map((branch) => code(branch.const)).join(', ')}`;
  }
  const value = recordValue(schema);
  if (value) return `map${s} of names to ${typeOf(value, true)}`;
  switch (schema.type ?? '') {
    case 'array':
      return `list${s} of ${schema.items ? typeOf(schema.items, true) : 'values'}${
        schema.minItems ? ` (at least ${schema.minItems})` : ''
      }`;
    case 'number':
    case 'integer': {
      const noun = schema.type === 'integer' ? `integer${s}` : `number${s}`;
      const { minimum: min, maximum: max } = schema;
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
      if (min !== undefined) return `${noun} of at least ${min}`;
      if (max !== undefined) return `${noun} of at most ${max}`;
      return noun;
    }
    case 'string':
      if (schema.pattern === '^\\d+$') return `string${s} of digits`;
      if (schema.pattern) return `string${s} matching ${code(schema.pattern)}`;
      return schema.minLength ? `non-empty string${s}` : `string${s}`;
    case 'boolean':
      return `boolean${s}`;
    case 'object':
      return `object${s}`;
    default:
      return `value${s}`;
  }
}

/** The schema whose properties describe what a value holds: itself, a list's item, a map's value. */
function inner(schema: Node): Node | undefined {
  if (schema.properties && Object.keys(schema.properties).length) return schema;
  const nested = schema.type === 'array' ? schema.items : recordValue(schema);
  return nested && inner(nested);
}

/** A sentence ending in a full stop. */
const sentence = (text: string): string => (/[.!?)]$/.test(text) ? text : `${text}.`);

/** One line per property (and per pattern, by its title), nested under objects, lists and maps. */
function properties(schema: Node, depth: number): string[] {
  const indent = '  '.repeat(depth);
  const required = new Set(schema.required ?? []);
  const lines: string[] = [];
  const entries: [string, Node][] = [
    ...Object.entries(schema.properties ?? {}),
    ...Object.entries(schema.patternProperties ?? {})
      .filter(([pattern]) => pattern !== ANY_KEY)
      .map(([pattern, value]): [string, Node] => [value.title ?? pattern, value]),
  ];
  for (const [key, value] of entries) {
    const facts = [
      typeOf(value),
      ...(required.has(key) ? ['required'] : []),
      ...(value.default !== undefined ? [`default ${code(value.default)}`] : []),
    ].join(', ');
    const nested = value !== schema ? inner(value) : undefined;
    const about = [value.description, nested && nested !== value ? nested.description : undefined]
      .filter((text): text is string => !!text)
      .map(sentence)
      .join(' ');
    lines.push(`${indent}- ${code(key)} (${facts})${about ? `: ${about}` : ''}`);
    if (nested) lines.push(...properties(nested, depth + 1));
  }
  return lines;
}

/** The anchor GitHub gives a heading of inline code such as `round-robin`. */
const anchor = (name: string): string => name.toLowerCase().replace(/[^a-z0-9 -]/g, '');

function section(middleware: BuiltinMiddleware): string[] {
  const settings = properties(middleware.settingsSchema, 0);
  const tags = middleware.taskTagsSchema ? properties(middleware.taskTagsSchema, 0) : [];
  return [
    `## ${code(middleware.name)}`,
    '',
    sentence(middleware.description),
    '',
    ...(settings.length ? ['Settings:', '', ...settings] : ['Settings: none (only `{}`).']),
    ...(tags.length ? ['', 'Task tags it reads:', '', ...tags] : []),
    '',
  ];
}

/**
 * docs/middleware-reference.md: each built-in's description, settings and the task tags it reads,
 * all from the middlewares themselves (their schemas' descriptions, defaults and bounds). Written
 * by `npm run docs:middleware`; a test fails when the file in the repository differs.
 */
export function renderMiddlewareReference(middlewares: readonly BuiltinMiddleware[]): string {
  return [
    '# Built-in middleware reference',
    '',
    '<!-- Generated by `npm run docs:middleware` (scripts/middleware-reference.ts) from the built-ins',
    '     in libs/distribution/src/middleware/builtin: edit their schemas and descriptions, not this',
    '     file. A test fails when this file differs from what the generator writes. -->',
    '',
    'Each middleware named in the chain (`middleware.chain`, or the chain set through',
    '`/protes/v1/middlewares`) may be given `settings`. They are checked when the chain is set — at',
    'start for the configured chain (a bad entry stops the start), and by `PUT` and `PATCH` (a bad',
    'entry is refused with `400`) — never per task. Every problem is named by its entry and setting,',
    'such as `chain[1].settings.rules[0].location.latitude: must be <= 90`. Settings not listed here',
    'are refused. A setting that names a file is read then, once, and only from a directory listed in',
    '`middleware.fileDirs` (none unless configured; a relative path is taken from the working',
    'directory); a path outside them, a missing or unreadable file, or one of the wrong format is an',
    'error naming the setting.',
    '',
    'Task tags are set by the client on the task (`tags`); the gateway forwards them as they are.',
    '',
    ...middlewares.map((m) => `- [${code(m.name)}](#${anchor(m.name)})`),
    '',
    ...middlewares.flatMap(section),
  ]
    .join('\n')
    .replace(/\n+$/, '\n');
}

/** One instance of each built-in class (every dependency of theirs is optional). */
export function builtinInstances(
  types: readonly (new () => BuiltinMiddleware)[],
): BuiltinMiddleware[] {
  return types.map((Middleware) => new Middleware());
}
