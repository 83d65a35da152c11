// The hand-written OpenAPI 3.1 document served at /openapi.json; it mirrors request-schemas.ts.
// Keep both in step by hand (no generator; no test yet checks that every route is described).

const error = { $ref: '#/components/responses/Error' };
const sessionId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const std = { '401': error, '403': error, '404': error, '429': error };

export const OPENAPI_DOCUMENT = Object.freeze({
  openapi: '3.1.0',
  info: { title: 'ringfence API', version: '0.1.0' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    responses: {
      Error: {
        description: 'error',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                error: {
                  type: 'object',
                  required: ['code', 'message', 'details'],
                  properties: {
                    code: { type: 'string' },
                    message: { type: 'string' },
                    details: { type: 'object' },
                  },
                },
              },
            },
          },
        },
      },
    },
    schemas: {
      CreateSession: {
        type: 'object',
        required: ['prompt'],
        additionalProperties: false,
        properties: {
          prompt: { type: 'string', minLength: 1 },
          workspace: {
            oneOf: [
              { type: 'object', properties: { type: { const: 'empty' } } },
              {
                type: 'object',
                required: ['type', 'uploadId'],
                properties: { type: { const: 'tar' }, uploadId: { type: 'string' } },
              },
              {
                type: 'object',
                required: ['type', 'url'],
                properties: {
                  type: { const: 'git' },
                  url: { type: 'string', pattern: '^https?://', maxLength: 2000 },
                  ref: {
                    type: 'string',
                    pattern: '^[A-Za-z0-9_][A-Za-z0-9_./-]*$',
                    maxLength: 200,
                  },
                },
              },
            ],
          },
          env: { type: 'string' },
          role: { type: 'string' },
          mode: {
            enum: ['default', 'acceptEdits', 'plan', 'dontAsk', 'bypassPermissions'],
          },
          allowedTools: { type: 'array', items: { type: 'string' } },
          disallowedTools: { type: 'array', items: { type: 'string' } },
          maxTurns: { type: 'integer', minimum: 1 },
          maxBudgetUsd: { type: 'number', exclusiveMinimum: 0 },
          metadata: { type: 'object' },
        },
      },
      Approval: {
        type: 'object',
        required: ['behavior'],
        properties: {
          behavior: { enum: ['allow', 'deny'] },
          updatedInput: { type: 'object' },
          message: { type: 'string' },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/healthz': { get: { security: [], responses: { '200': { description: 'alive' } } } },
    '/readyz': {
      get: {
        security: [],
        responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
      },
    },
    '/metrics': { get: { security: [], responses: { '200': { description: 'Prometheus' } } } },
    '/openapi.json': { get: { security: [], responses: { '200': { description: 'this' } } } },
    '/v1/uploads': {
      post: {
        summary: 'Upload a workspace tar.gz (application/gzip); returns uploadId',
        requestBody: { content: { 'application/gzip': {} } },
        responses: { '201': { description: 'stored' }, '400': error, '413': error, ...std },
      },
    },
    '/v1/sessions': {
      post: {
        summary: 'Start a session',
        requestBody: {
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/CreateSession' } },
          },
        },
        responses: { '202': { description: 'queued; body {id, status}' }, '400': error, ...std },
      },
      get: {
        summary: 'List the tenant’s sessions, newest first',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 200 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: '{sessions, nextCursor}' }, ...std },
      },
    },
    '/v1/sessions/{id}': {
      get: { parameters: [sessionId], responses: { '200': { description: 'session' }, ...std } },
    },
    '/v1/sessions/{id}/events': {
      get: {
        summary: 'Transcript as SSE (Last-Event-ID = seq) or JSON page (?format=json&after=)',
        parameters: [
          sessionId,
          { name: 'format', in: 'query', schema: { enum: ['sse', 'json'] } },
          { name: 'after', in: 'query', schema: { type: 'integer' } },
          { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'text/event-stream or JSON' }, ...std },
      },
    },
    '/v1/sessions/{id}/messages': {
      post: {
        summary: 'Continue a finished session',
        parameters: [sessionId],
        responses: { '202': { description: 'queued' }, '409': error, ...std },
      },
    },
    '/v1/sessions/{id}/cancel': {
      post: { parameters: [sessionId], responses: { '200': { description: 'cancelled' }, ...std } },
    },
    '/v1/sessions/{id}/approvals/{requestId}': {
      post: {
        parameters: [sessionId, { name: 'requestId', in: 'path', required: true }],
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Approval' } } },
        },
        responses: { '200': { description: 'answered' }, ...std },
      },
    },
    '/v1/sessions/{id}/workspace': {
      get: {
        parameters: [sessionId],
        responses: { '200': { description: 'application/gzip' }, ...std },
      },
    },
    '/v1/sessions/{id}/audit': {
      get: { parameters: [sessionId], responses: { '200': { description: 'records' }, ...std } },
    },
    '/v1/audit/verify': {
      get: {
        parameters: [{ name: 'session', in: 'query', required: true }],
        responses: { '200': { description: '{ok, records, checkpoints}' }, ...std },
      },
    },
    '/v1/keys': {
      post: {
        summary: 'Create an API key for the caller’s tenant (admin); shown once',
        responses: { '201': { description: 'key' }, ...std },
      },
    },
    '/v1/alerts': {
      get: {
        summary: 'SLO burn-rate alerts (admin)',
        responses: { '200': { description: 'alerts' }, ...std },
      },
    },
  },
});
