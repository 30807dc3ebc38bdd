import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@protes/config';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../gateway-bootstrap';
import { DOCS_CSP } from './api-docs-ui';
import { openApiDocument, TES_API } from './openapi';
import type { JsonObject } from './openapi-schemas';
import { SAME_ORIGIN_CSP_HEADER } from './same-origin-csp';

/**
 * The document tells the truth: the gateway in process (fastify inject) on a real SQLite file, with
 * one configured node that refuses connections, answers each documented operation, and every
 * answer matches the schema the document gives for its operation and status. And /docs serves
 * swagger-ui with that document under the same-origin policy.
 */
const document = openApiDocument();
const paths = document.paths as Record<string, Record<string, JsonObject>>;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'doc', components: document.components });

function documentedSchema(path: string, method: string, status: number): JsonObject {
  const responses = paths[path]?.[method]?.responses as Record<string, JsonObject> | undefined;
  const response = responses?.[String(status)];
  if (!response) throw new Error(`${method.toUpperCase()} ${path} documents no ${status}`);
  const content = response.content as Record<string, { schema: JsonObject }>;
  return content['application/json'].schema;
}

describe('the gateway answers as its OpenAPI document says', () => {
  let dir: string;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protes-docs-'));
    app = await createGateway(
      loadConfig({
        PROTES_STORE__SQLITE_PATH: join(dir, 'protes.db'),
        PROTES_AUTH__ENABLED: 'false',
        PROTES_MIDDLEWARE__CHAIN: '["least-loaded"]',
        PROTES_NODES: JSON.stringify([
          {
            name: 'dead',
            url: 'http://127.0.0.1:9/ga4gh/tes/v1',
            location: { latitude: 49.41, longitude: 8.69 },
          },
        ]),
        PROTES_LOG__LEVEL: 'fatal',
      }),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Calls `url` and checks the answer against the document's `path`/`method`/status schema. */
  async function documented(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    path: string,
    payload?: object,
  ): Promise<{ status: number; body: unknown }> {
    const response = await app.inject({ method, url, ...(payload && { payload }) });
    const body: unknown = response.json();
    const answer = `${method} ${url} → ${response.statusCode}`;
    // Every documented JSON answer is a named model: `#/components/schemas/…` of the document.
    const ref = documentedSchema(path, method.toLowerCase(), response.statusCode).$ref as string;
    const validate = ajv.getSchema(`doc${ref}`);
    if (!validate) throw new Error(`${answer}: ${ref} is not in the document`);
    expect({ answer, errors: validate(body) ? null : validate.errors }).toEqual({
      answer,
      errors: null,
    });
    return { status: response.statusCode, body };
  }

  it('TES: service-info, create, get, list, cancel, and a 400 and a 404', async () => {
    await documented('GET', `${TES_API}/service-info`, `${TES_API}/service-info`);
    const created = await documented('POST', `${TES_API}/tasks`, `${TES_API}/tasks`, {
      name: 'documented',
      executors: [{ image: 'alpine', command: ['true'], env: { A: '1' } }],
      tags: { project: 'docs' },
    });
    expect(created.status).toBe(200);
    const { id } = created.body as { id: string };
    const task = `${TES_API}/tasks/{id}`;
    for (const view of ['MINIMAL', 'BASIC', 'FULL']) {
      expect((await documented('GET', `${TES_API}/tasks/${id}?view=${view}`, task)).status).toBe(
        200,
      );
    }
    await documented('GET', `${TES_API}/tasks?view=FULL`, `${TES_API}/tasks`);
    await documented('POST', `${TES_API}/tasks/${id}:cancel`, `${TES_API}/tasks/{id}:cancel`);
    expect(
      (await documented('POST', `${TES_API}/tasks`, `${TES_API}/tasks`, { executors: [] })).status,
    ).toBe(400);
    expect((await documented('GET', `${TES_API}/tasks/nothing`, task)).status).toBe(404);
  });

  it("proTES's own API: nodes, the middleware chain, health", async () => {
    const nodes = await documented('GET', '/protes/v1/nodes', '/protes/v1/nodes');
    expect(nodes.body).toMatchObject({ nodes: [{ name: 'dead', location: { latitude: 49.41 } }] });
    await documented('GET', '/protes/v1/nodes/dead', '/protes/v1/nodes/{name}');
    const chain = '/protes/v1/middlewares';
    await documented('GET', chain, chain);
    const put = await documented('PUT', chain, chain, {
      chain: ['random', { fallback: ['least-loaded', { name: 'random' }], onFailure: 'skip' }],
    });
    expect(put.status).toBe(200);
    await documented('PATCH', `${chain}/1.0`, `${chain}/{index}`, { enabled: false });
    await documented('DELETE', chain, chain);
    await documented('GET', '/health', '/health');
    await documented('GET', '/health/live', '/health/live');
  });

  it('/docs serves swagger-ui with the document, under the same-origin policy', async () => {
    const page = await app.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(DOCS_CSP);
    expect(page.body).toContain('swagger-initializer.js');
    expect(page.body).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/i);
    const json = await app.inject({ url: '/docs/json' });
    expect(json.json()).toEqual(document);
    expect((await app.inject({ url: `${TES_API}/openapi.json` })).json()).toEqual(document);
    const initializer = await app.inject({ url: '/docs/static/swagger-initializer.js' });
    expect(initializer.statusCode).toBe(200);
  });

  it('/ serves the status page, its script and its stylesheet, with nothing inline', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(SAME_ORIGIN_CSP_HEADER);
    expect(page.body).toContain('<script src="status-page/status.js"');
    expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)|<style|\sstyle=|\son\w+=/i);
    const script = await app.inject({ url: '/status-page/status.js' });
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.body).toContain('protes/v1/nodes');
    const style = await app.inject({ url: '/status-page/status.css' });
    expect(style.headers['content-type']).toMatch(/^text\/css/);
  });
});
