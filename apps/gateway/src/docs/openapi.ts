import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, TES_SCHEMAS, TES_STATES, TES_VIEWS } from '@protes/tes';

import { GATEWAY_VERSION } from '../service-info/service-info.controller';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ content: { 'application/json': { schema: ref(name) } } });
const errors = {
  '400': {
    description: 'Invalid request; `errors` names each field and why',
    ...json('errorResponse'),
  },
  '404': { description: 'No such task', ...json('errorResponse') },
};
const view = {
  name: 'view',
  in: 'query',
  schema: { type: 'string', enum: TES_VIEWS, default: 'MINIMAL' },
};
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, schema: object) => ({ name, in: 'query', schema });

/**
 * The gateway's OpenAPI 3.1 document. Its schemas are the very TypeBox objects the validators are
 * compiled from, so the docs cannot say something the code does not do.
 */
export function openApiDocument(): object {
  return JSON.parse(
    JSON.stringify({
      openapi: '3.1.0',
      info: {
        title: 'proTES — GA4GH Task Execution Service gateway',
        version: GATEWAY_VERSION,
        description: 'TES 1.1.0, answered by a gateway that federates TES nodes.',
      },
      servers: [{ url: '/ga4gh/tes/v1' }],
      paths: {
        '/service-info': {
          get: {
            operationId: 'GetServiceInfo',
            responses: { '200': { description: 'ok', ...json('tesServiceInfo') } },
          },
        },
        '/tasks': {
          get: {
            operationId: 'ListTasks',
            parameters: [
              query('name_prefix', { type: 'string' }),
              query('state', { type: 'string', enum: TES_STATES }),
              query('tag_key', { type: 'array', items: { type: 'string' } }),
              query('tag_value', { type: 'array', items: { type: 'string' } }),
              query('page_size', {
                type: 'integer',
                minimum: 1,
                maximum: MAX_PAGE_SIZE,
                default: DEFAULT_PAGE_SIZE,
              }),
              query('page_token', { type: 'string' }),
              view,
            ],
            responses: {
              '200': { description: 'ok', ...json('tesListTasksResponse') },
              '400': errors['400'],
            },
          },
          post: {
            operationId: 'CreateTask',
            requestBody: { required: true, ...json('tesTaskRequest') },
            responses: {
              '200': { description: 'ok', ...json('tesCreateTaskResponse') },
              '400': errors['400'],
            },
          },
        },
        '/tasks/{id}': {
          get: {
            operationId: 'GetTask',
            parameters: [id, view],
            responses: { '200': { description: 'ok', ...json('tesTask') }, ...errors },
          },
        },
        '/tasks/{id}:cancel': {
          post: {
            operationId: 'CancelTask',
            parameters: [id],
            responses: {
              '200': { description: 'ok', ...json('tesCancelTaskResponse') },
              '404': errors['404'],
            },
          },
        },
      },
      components: { schemas: TES_SCHEMAS },
    }),
  ) as object;
}
