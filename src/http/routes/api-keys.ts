import { ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyListQuery, ApiKeyParams } from '../../schemas/api-key';
import { presentApiKey } from '../../representations/api-key';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { noContent } from './headers';

const tags = ['API keys'];

const keyExample = {
  id: 5,
  name: 'billing-nordics',
  role: 'write',
  bunitIds: [3],
  createdDate: '2026-11-02T08:00:00.000Z',
  revokedDate: null,
};

export const apiKeyRoutes = [
  defineRoute({
    method: 'post',
    path: '/v1/api-keys',
    operationId: 'createApiKey',
    summary: 'Create an API key',
    description:
      'Needs an admin key. A `read` or `write` key acts for the business units in `bunitIds`; an `admin` key for all of them. The answer carries the secret (`key`) this once: only a hash of it is stored, so store the secret where the calling system keeps its credentials.',
    tags,
    access: 'admin',
    body: ApiKeyCreate,
    bodyExample: { name: 'billing-nordics', role: 'write', bunitIds: [3] },
    responses: {
      201: {
        description: 'Created; the secret is in `key`. A replay of this answer (same `Idempotency-Key`) comes without `key`: the secret is stored only as a hash. If the first answer was lost, revoke the key and create another.',
        schema: ApiKeyCreated,
        example: { ...keyExample, key: 'rsk_1f3kq0J3m0Yx2mQd0rYb7pWm8b1nJQvJ3wq9v2e6h8s' },
        headers: ['Location'],
      },
    },
    problems: ['invalid-reference'],
    async handler({ body, services, actor }) {
      const { key, secret } = await services.apiKeys.create(body, actor);
      const created = presentApiKey(key);
      // The secret is stored nowhere, not even for an idempotent replay: a replay answers without it.
      return { status: 201, body: { ...created, key: secret }, replayBody: created, headers: { Location: `/v1/api-keys/${key.id}` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/api-keys',
    operationId: 'listApiKeys',
    summary: 'List API keys',
    description: 'Needs an admin key. Revoked keys are left out unless `revoked` says otherwise.',
    tags,
    access: 'admin',
    query: ApiKeyListQuery,
    responses: {
      200: {
        description: 'A page of keys (never their secrets).',
        schema: ApiKeyList,
        example: {
          data: [{ ...keyExample, id: 1, name: 'finance-admin', role: 'admin', bunitIds: null }, keyExample],
          meta: { total: 2, limit: 50, offset: 0 },
        },
      },
    },
    problems: [],
    async handler({ query, services }) {
      const page = await services.apiKeys.list({ revoked: query.revoked }, query.sort, query);
      return { status: 200, body: presentPage(page, query, presentApiKey) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/api-keys/{keyId}',
    operationId: 'getApiKey',
    summary: 'Read an API key',
    description: 'Needs an admin key.',
    tags,
    access: 'admin',
    params: ApiKeyParams,
    responses: { 200: { description: 'The key (never its secret).', schema: ApiKey, example: keyExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: presentApiKey(await services.apiKeys.get(params.keyId)) };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/api-keys/{keyId}',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    description:
      'Needs an admin key. From now on the key is refused with 401 on every instance (within a second on instances other than this one). Its name stays in the audit trail. Revoking again changes nothing (204).',
    tags,
    access: 'admin',
    params: ApiKeyParams,
    responses: { 204: noContent('Revoked (or already revoked).') },
    problems: [],
    async handler({ params, services, actor }) {
      await services.apiKeys.revoke(params.keyId, actor);
      return { status: 204 };
    },
  }),
];
