import { load as parseYaml } from 'js-yaml';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument, TES_API } from './openapi';
import type { Json, JsonObject } from './openapi-schemas';

/**
 * Our OpenAPI document held against the TES 1.1.0 specification (shared/spec): the same TES paths,
 * operations and parameters, and every model of the specification under its name with the same
 * properties, types and enums. Differences we mean are listed with their reason; any other one,
 * or a listed one that is gone, fails with the whole list.
 */
const SPEC_DIR = process.env.TES_SPEC_DIR ?? join(__dirname, '../../../../../shared/spec');
const HAVE_SPEC = existsSync(join(SPEC_DIR, 'tes-1.1.0.openapi.yaml'));
const SERVICE_INFO_URL =
  'https://raw.githubusercontent.com/ga4gh-discovery/ga4gh-service-info/v1.0.0/service-info.yaml';

const read = (file: string) => parseYaml(readFileSync(join(SPEC_DIR, file), 'utf8')) as JsonObject;
const spec = HAVE_SPEC ? read('tes-1.1.0.openapi.yaml') : {};
const serviceInfo = HAVE_SPEC ? read('service-info-1.0.0.openapi.yaml') : {};
const ours = openApiDocument();

/** The differences we mean, and why. */
const INTENDED: Record<string, string> = {
  'tesTask required: spec [executors], ours [id, state]':
    'tesTask is what the server answers: the MINIMAL view has id and state only; what a client ' +
    'must send is tesTaskRequest',
  'POST /tasks request body: spec $tesTask, ours $tesTaskRequest':
    'the fields a client may set, with executors required and nothing server-set',
};

const obj = (value: Json | undefined): JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};

/** A value as a word: strings as they are, anything else as JSON. */
const text = (value: Json | undefined): string =>
  typeof value === 'string' ? value : JSON.stringify(value ?? null);

/** A `$ref` of either document, the service-info one included, resolved. */
function resolve(doc: JsonObject, ref: string): JsonObject {
  const [file, pointer] = ref.split('#');
  const base = file === '' ? doc : file === SERVICE_INFO_URL ? serviceInfo : undefined;
  if (!base) throw new Error(`unknown document in $ref ${ref}`);
  return pointer
    .split('/')
    .slice(1)
    .reduce<JsonObject>((node, key) => obj(node[key]), base);
}

/** A schema in a few words: `$tesInput`, `array<string>`, `map<string>`, `enum(A|B)`, … */
function shape(schema: JsonObject): string {
  if (typeof schema.$ref === 'string') return `$${schema.$ref.split('/').pop()}`;
  if (Array.isArray(schema.enum)) return `enum(${schema.enum.map(String).sort().join('|')})`;
  const type = text(schema.type ?? 'any');
  if (type === 'array') return `array<${shape(obj(schema.items))}>`;
  if (type === 'object' && typeof schema.additionalProperties === 'object') {
    return `map<${shape(obj(schema.additionalProperties))}>`;
  }
  if (type === 'object' && schema.properties) {
    return `object{${Object.keys(obj(schema.properties)).sort().join(',')}}`;
  }
  // Formats say something for numbers; the spec also writes `format: boolean` on booleans.
  const numeric = type === 'integer' || type === 'number';
  return numeric && schema.format ? `${type}(${text(schema.format)})` : type;
}

interface Model {
  shape: string;
  properties: JsonObject;
  required: string[];
}

/** A model with its `allOf` parts merged, as a client sees it. */
function model(doc: JsonObject, schema: JsonObject): Model {
  const parts = Array.isArray(schema.allOf) ? schema.allOf.map(obj) : [schema];
  const merged: Model = { shape: '', properties: {}, required: [] };
  for (const part of parts) {
    const full = typeof part.$ref === 'string' ? resolve(doc, part.$ref) : part;
    Object.assign(merged.properties, obj(full.properties));
    if (Array.isArray(full.required)) merged.required.push(...full.required.map(String));
    merged.shape = Array.isArray(full.enum) ? shape(full) : text(full.type ?? 'any');
  }
  merged.required = [...new Set(merged.required)].sort();
  return merged;
}

const list = (names: string[]) => `[${names.join(', ')}]`;

function modelDifferences(): string[] {
  const differences: string[] = [];
  const specModels = obj(obj(spec.components).schemas);
  const ourModels = obj(obj(ours.components).schemas);
  for (const [name, specSchema] of Object.entries(specModels)) {
    if (!(name in ourModels)) {
      differences.push(`${name}: missing`);
      continue;
    }
    const theirs = model(spec, obj(specSchema));
    const mine = model(ours, obj(ourModels[name]));
    if (theirs.shape !== mine.shape) {
      differences.push(`${name}: spec ${theirs.shape}, ours ${mine.shape}`);
    }
    if (list(theirs.required) !== list(mine.required)) {
      differences.push(
        `${name} required: spec ${list(theirs.required)}, ours ${list(mine.required)}`,
      );
    }
    for (const property of new Set([
      ...Object.keys(theirs.properties),
      ...Object.keys(mine.properties),
    ])) {
      const a = theirs.properties[property];
      const b = mine.properties[property];
      const described = (s: Json | undefined) => (s === undefined ? 'absent' : shape(obj(s)));
      if (described(a) !== described(b)) {
        differences.push(`${name}.${property}: spec ${described(a)}, ours ${described(b)}`);
      }
    }
  }
  return differences;
}

/** Each parameter as `in name[*]: shape` (`*` when required), references resolved. */
function parameters(doc: JsonObject, operation: JsonObject): string[] {
  const params = Array.isArray(operation.parameters) ? operation.parameters.map(obj) : [];
  return params
    .map((p) => (typeof p.$ref === 'string' ? resolve(doc, p.$ref) : p))
    .map((p) => `${text(p.in)} ${text(p.name)}${p.required ? '*' : ''}: ${shape(obj(p.schema))}`)
    .sort();
}

const bodyShape = (content: Json | undefined): string =>
  shape(obj(obj(obj(content)['application/json']).schema));

function operationDifferences(): string[] {
  const differences: string[] = [];
  const ourPaths = obj(ours.paths);
  const specPaths = obj(spec.paths);
  const tesPaths = Object.keys(ourPaths).filter((p) => p.startsWith(`${TES_API}/`));
  const extra = tesPaths.filter((p) => !(p.slice(TES_API.length) in specPaths));
  if (extra.length) differences.push(`paths not in the spec: ${extra.join(', ')}`);
  for (const [path, specItem] of Object.entries(specPaths)) {
    const ourItem = obj(ourPaths[`${TES_API}${path}`]);
    const methods = new Set([...Object.keys(obj(specItem)), ...Object.keys(ourItem)]);
    for (const method of methods) {
      const where = `${method.toUpperCase()} ${path}`;
      const a = obj(obj(specItem)[method]);
      const b = obj(ourItem[method]);
      if (!Object.keys(b).length || !Object.keys(a).length) {
        differences.push(`${where}: ${Object.keys(b).length ? 'not in the spec' : 'missing'}`);
        continue;
      }
      if (a.operationId !== b.operationId) {
        differences.push(
          `${where} operationId: spec ${text(a.operationId)}, ours ${text(b.operationId)}`,
        );
      }
      const [pa, pb] = [parameters(spec, a), parameters(ours, b)];
      if (list(pa) !== list(pb))
        differences.push(`${where} parameters: spec ${list(pa)}, ours ${list(pb)}`);
      const [ra, rb] = [obj(a.requestBody).content, obj(b.requestBody).content];
      if (bodyShape(ra) !== bodyShape(rb)) {
        differences.push(`${where} request body: spec ${bodyShape(ra)}, ours ${bodyShape(rb)}`);
      }
      const ok = (op: JsonObject) => bodyShape(obj(obj(op.responses)['200']).content);
      if (ok(a) !== ok(b)) differences.push(`${where} 200: spec ${ok(a)}, ours ${ok(b)}`);
    }
  }
  return differences;
}

// The specification is kept beside the repository (shared/spec), or where TES_SPEC_DIR says.
if (!HAVE_SPEC) console.warn(`no TES 1.1.0 specification at ${SPEC_DIR}: not compared`);
(HAVE_SPEC ? describe : describe.skip)(
  `the OpenAPI document against the TES 1.1.0 specification${HAVE_SPEC ? '' : ` (skipped: no ${SPEC_DIR}/tes-1.1.0.openapi.yaml; set TES_SPEC_DIR)`}`,
  () => {
    it('differs only where we mean it to', () => {
      const differences = [...operationDifferences(), ...modelDifferences()].sort();
      expect(differences).toEqual(Object.keys(INTENDED).sort());
    });
  },
);

describe('the OpenAPI document', () => {
  it('writes enums, maps and named models as client generators read them', () => {
    const models = obj(obj(ours.components).schemas);
    expect(models.tesState).toMatchObject({
      type: 'string',
      enum: expect.arrayContaining(['QUEUED']),
    });
    expect(models.tesFileType).toMatchObject({ type: 'string', enum: ['FILE', 'DIRECTORY'] });
    const task = obj(obj(models.tesTask).properties);
    expect(task.tags).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    expect(task.inputs).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/tesInput' },
    });
    expect(JSON.stringify(ours)).not.toMatch(/"(patternProperties|const)"/);
    expect(obj(ours.components).securitySchemes).toEqual({
      BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      BasicAuth: { type: 'http', scheme: 'basic' },
    });
  });

  it('has no dangling reference', () => {
    const refs = JSON.stringify(ours).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) {
      const target = ref.slice(8, -1);
      expect({ ref: target, found: Object.keys(resolve(ours, target)).length > 0 }).toEqual({
        ref: target,
        found: true,
      });
    }
  });
});
