import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, TES_SCHEMAS, TES_VIEWS } from '@protes/tes';
import { GATEWAY_VERSION } from '../service-info/service-info.controller';
import { MANAGEMENT_SCHEMAS } from './management-models';
import { EXAMPLE_TASK, EXAMPLE_TASK_ID, TES_MODEL_NOTES } from './model-notes';
import { componentSchemas, type Json, type JsonObject, schemaRef } from './openapi-schemas';

/** Where the document places the TES API; the gateway serves it under `/v1` too. */
export const TES_API = '/ga4gh/tes/v1';

const json = (schema: JsonObject, example?: Json): JsonObject => ({
  content: { 'application/json': { schema, ...(example !== undefined && { example }) } },
});
const answer = (description: string, model: string, example?: Json): JsonObject => ({
  description,
  ...json(schemaRef(model), example),
});
const refusal = (description: string) => answer(description, 'errorResponse');

const BAD_REQUEST = refusal('Invalid request: `errors` names each field and why');
const UNAUTHORIZED = refusal('No valid credentials (authentication is on)');
const FORBIDDEN = refusal('The caller may not: not an administrator, a missing scope or claim');
const NO_TASK = refusal('No such task, or not one of the caller');
const NO_SECURITY: JsonObject[] = [];

const path = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const query = (name: string, description: string, schema: JsonObject) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
const view = query('view', 'Which fields of each task come back.', {
  type: 'string',
  enum: [...TES_VIEWS],
  default: 'MINIMAL',
});
const taskId = path('id', 'The id CreateTask answered.');

/** An operation of TES: tagged as the specification tags them, credentials when auth is on. */
const tes = (operation: JsonObject): JsonObject => ({ tags: ['TaskService'], ...operation });
/** An operation of the management API: administrators only once auth is on. */
const admin = (operation: JsonObject): JsonObject => ({
  tags: ['Management'],
  ...operation,
  responses: { ...(operation.responses as JsonObject), '401': UNAUTHORIZED, '403': FORBIDDEN },
});
/** Probes and the scrape: public, for orchestrators and Prometheus. */
const operations = (operation: JsonObject): JsonObject => ({
  tags: ['Operations'],
  security: NO_SECURITY,
  ...operation,
});

const chainAnswer = answer('The chain in effect now', 'chainView');
const health = (description: string) => answer(description, 'healthCheck');

const TES_PATHS: Record<string, JsonObject> = {
  '/service-info': {
    get: tes({
      operationId: 'GetServiceInfo',
      summary: 'What this service is, and what its nodes offer (no credentials needed)',
      security: NO_SECURITY,
      responses: { '200': answer('Service-info', 'tesServiceInfo') },
    }),
  },
  '/tasks': {
    get: tes({
      operationId: 'ListTasks',
      summary: "The caller's tasks, newest first, a page at a time",
      parameters: [
        query('name_prefix', 'Only tasks whose name starts with this (literally).', {
          type: 'string',
        }),
        query('state', 'Only tasks in this state.', schemaRef('tesState')),
        query('tag_key', 'Only tasks with these tag keys; zipped with `tag_value`.', {
          type: 'array',
          items: { type: 'string' },
        }),
        query('tag_value', "The tags' values; an empty or missing one matches any value.", {
          type: 'array',
          items: { type: 'string' },
        }),
        query('page_size', 'Tasks per page.', {
          type: 'integer',
          format: 'int32',
          minimum: 1,
          maximum: MAX_PAGE_SIZE,
          default: DEFAULT_PAGE_SIZE,
        }),
        query('page_token', '`next_page_token` of the page before.', { type: 'string' }),
        view,
      ],
      responses: {
        '200': answer('One page of tasks', 'tesListTasksResponse', {
          tasks: [{ id: EXAMPLE_TASK_ID, state: 'RUNNING' }],
        }),
        '400': BAD_REQUEST,
        '401': UNAUTHORIZED,
      },
    }),
    post: tes({
      operationId: 'CreateTask',
      summary: 'Submit a task; the middleware chain picks the node that runs it',
      requestBody: { required: true, ...json(schemaRef('tesTaskRequest'), EXAMPLE_TASK) },
      responses: {
        '200': answer('The task was taken', 'tesCreateTaskResponse'),
        '400': BAD_REQUEST,
        '401': UNAUTHORIZED,
        '403': FORBIDDEN,
        '503': refusal('No node can take the task now; `Retry-After` says when to try again'),
      },
    }),
  },
  '/tasks/{id}': {
    get: tes({
      operationId: 'GetTask',
      summary: 'One task',
      parameters: [taskId, view],
      responses: {
        '200': answer('The task', 'tesTask', { id: EXAMPLE_TASK_ID, state: 'COMPLETE' }),
        '400': BAD_REQUEST,
        '401': UNAUTHORIZED,
        '404': NO_TASK,
      },
    }),
  },
  '/tasks/{id}:cancel': {
    post: tes({
      operationId: 'CancelTask',
      summary: 'Cancel a task (a task that has ended stays as it is)',
      parameters: [taskId],
      responses: {
        '200': answer('Cancellation taken', 'tesCancelTaskResponse'),
        '401': UNAUTHORIZED,
        '404': NO_TASK,
      },
    }),
  },
};

const PROTES_PATHS: Record<string, JsonObject> = {
  '/protes/v1/middlewares': {
    get: admin({
      operationId: 'GetMiddlewareChain',
      summary: 'The middleware chain in effect, where it comes from, and every registered name',
      responses: { '200': chainAnswer },
    }),
    put: admin({
      operationId: 'ReplaceMiddlewareChain',
      summary: 'Replace (or reorder) the whole chain; stored, in effect for the next task',
      requestBody: {
        required: true,
        ...json(schemaRef('chainReplacement'), {
          chain: ['client-preference', { fallback: ['distance', 'least-loaded'] }],
        }),
      },
      responses: { '200': chainAnswer, '400': BAD_REQUEST },
    }),
    delete: admin({
      operationId: 'ResetMiddlewareChain',
      summary: 'Forget the stored chain: the configured one is in effect again',
      responses: { '200': chainAnswer },
    }),
  },
  '/protes/v1/middlewares/{index}': {
    patch: admin({
      operationId: 'PatchMiddlewareChainEntry',
      summary: 'Change one entry (`2`) or one member of a fallback group (`2.0`)',
      parameters: [path('index', 'The entry, `2`, or a group member, `2.0`.')],
      requestBody: { required: true, ...json(schemaRef('chainEntryPatch'), { enabled: false }) },
      responses: {
        '200': chainAnswer,
        '400': BAD_REQUEST,
        '404': refusal('The chain has no such entry'),
      },
    }),
  },
  '/protes/v1/nodes': {
    get: admin({
      operationId: 'ListNodes',
      summary: 'Each node: health, circuit breaker, load, location, TES version, what it offers',
      responses: { '200': answer('The nodes, as configured', 'nodeList') },
    }),
  },
  '/protes/v1/nodes/{name}': {
    get: admin({
      operationId: 'GetNode',
      summary: 'One node',
      parameters: [path('name', 'The name the configuration gives the node.')],
      responses: {
        '200': answer('The node', 'nodeStatus'),
        '404': refusal('No node has this name'),
      },
    }),
  },
  '/health': {
    get: operations({
      operationId: 'GetReadiness',
      summary: 'Readiness: 200 while the gateway can take tasks, 503 naming what is down',
      responses: {
        '200': health('Ready; each node reported'),
        '503': health('Not ready: `error` names what is down'),
      },
    }),
  },
  '/health/live': {
    get: operations({
      operationId: 'GetLiveness',
      summary: 'Liveness: the process answers',
      responses: { '200': health('Alive') },
    }),
  },
  '/metrics': {
    get: operations({
      operationId: 'GetMetrics',
      summary: 'Prometheus metrics of the process and of each node',
      responses: {
        '200': {
          description: 'The Prometheus text format',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
      },
    }),
  },
};

/**
 * The gateway's OpenAPI 3.1 document: TES 1.1 at /ga4gh/tes/v1 (the paths, operations and
 * parameters of the specification, held against it by openapi.spec.ts), and proTES's own API. Its
 * TES models are the very TypeBox schemas the validators are compiled from, so the document cannot
 * say something the code does not do; they are written as client generators read them best (see
 * componentSchemas), under the specification's names.
 */
export function openApiDocument(): JsonObject {
  const tesPaths = Object.fromEntries(
    Object.entries(TES_PATHS).map(([p, item]) => [`${TES_API}${p}`, item]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'proTES — GA4GH Task Execution Service gateway',
      version: GATEWAY_VERSION,
      description:
        'TES 1.1.0, answered by a gateway that federates TES nodes (also served under `/v1`), ' +
        'and its own API: the middleware chain, the nodes, health and metrics. With ' +
        'authentication on, every operation but service-info, health and metrics needs a bearer ' +
        'token or Basic credentials, and the management API an administrator.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'This gateway' }],
    tags: [
      { name: 'TaskService', description: 'GA4GH TES 1.1' },
      { name: 'Management', description: "proTES's own API, for administrators" },
      { name: 'Operations', description: 'Probes and metrics' },
    ],
    security: [{ BearerAuth: [] }, { BasicAuth: [] }],
    paths: { ...tesPaths, ...PROTES_PATHS },
    components: {
      securitySchemes: {
        BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        BasicAuth: { type: 'http', scheme: 'basic' },
      },
      schemas: componentSchemas({ ...TES_SCHEMAS, ...MANAGEMENT_SCHEMAS }, TES_MODEL_NOTES),
    },
  };
}
