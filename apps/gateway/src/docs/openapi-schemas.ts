import type { TSchema } from '@sinclair/typebox';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Sorted-key JSON: two equal schemas give the same text whatever the order of their keys. */
function canonical(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (!isObject(value)) return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
}

export const schemaRef = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });

/** The keywords whose value is a map of schemas, a schema, or a list of schemas. */
const SCHEMA_MAPS = ['properties'] as const;
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf'] as const;

/**
 * One schema as client generators read it best. TypeBox writes a union of string literals as
 * `anyOf` of `const`s and a string map as `patternProperties`; generators make an enum type of
 * `enum` and a map type of `additionalProperties`, and a named model of each `$ref`. Any part equal
 * to a named model (other than the model itself) becomes a `$ref` to it.
 */
function friendly(schema: JsonObject, named: ReadonlyMap<string, string>, self?: string): Json {
  const name = named.get(canonical(schema));
  if (name !== undefined && name !== self) return schemaRef(name);
  const { anyOf, patternProperties, const: constant, items, ...rest } = schema;
  const out: JsonObject = { ...rest };
  const convert = (s: Json): Json => (isObject(s) ? friendly(s, named) : s);
  if (Array.isArray(anyOf) && anyOf.every((s) => isObject(s) && typeof s.const === 'string')) {
    out.type = 'string';
    out.enum = anyOf.map((s) => (s as JsonObject).const);
  } else if (anyOf !== undefined) out.anyOf = anyOf;
  if (constant !== undefined) out.enum = [constant];
  if (isObject(patternProperties)) {
    // TypeBox's Record(String, T) is the one pattern `^(.*)$`: any key, i.e. a map.
    const [value] = Object.values(patternProperties);
    out.additionalProperties = convert(value);
  }
  if (items !== undefined) out.items = convert(items);
  for (const key of SCHEMA_MAPS) {
    const map = out[key];
    if (isObject(map)) {
      out[key] = Object.fromEntries(Object.entries(map).map(([k, s]) => [k, convert(s)]));
    }
  }
  for (const key of SCHEMA_LISTS) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map(convert);
  }
  return out;
}

/** What the document adds to a model: a description, an example, and words per property. */
export interface ModelNotes {
  description?: string;
  example?: Json;
  properties?: Record<string, JsonObject>;
}

/**
 * Named models for `components.schemas`, from TypeBox schemas (their symbol keys, which only
 * TypeBox reads, dropped), made friendly to generators, with `notes` merged in.
 */
export function componentSchemas(
  models: Readonly<Record<string, TSchema>>,
  notes: Readonly<Record<string, ModelNotes>>,
): Record<string, JsonObject> {
  const plain = Object.entries(models).map(
    ([name, schema]) => [name, JSON.parse(JSON.stringify(schema)) as JsonObject] as const,
  );
  const named = new Map(plain.map(([name, schema]) => [canonical(schema), name]));
  return Object.fromEntries(
    plain.map(([name, schema]) => {
      const model = friendly(schema, named, name) as JsonObject;
      const { description, example, properties = {} } = notes[name] ?? {};
      if (description !== undefined) model.description = description;
      if (example !== undefined) model.examples = [example];
      for (const [property, words] of Object.entries(properties)) {
        const target = (model.properties as JsonObject | undefined)?.[property];
        if (!isObject(target)) throw new Error(`notes for ${name}.${property}: no such property`);
        Object.assign(target, words);
      }
      return [name, model];
    }),
  );
}
