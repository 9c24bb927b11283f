import type { ApiKeyRecord } from '../../repositories/api-key.repository';
import { ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyListQuery, ApiKeyParams } from '../../schemas/api-key';
import { presentPage } from '../presenters';
import { defineRoute } from '../route';
import { LOCATION_HEADER, noContent } from './headers';

const tags = ['API keys'];

export const presentApiKey = (k: ApiKeyRecord) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  bunitIds: k.bunitIds,
  createdDate: k.createdAt,
  revokedDate: k.revokedAt,
});

export const apiKeyRoutes = [
  defineRoute({
    method: 'post',
    path: '/v1/api-keys',
    operationId: 'createApiKey',
    summary: 'Create an API key',
    description: 'The answer carries the secret (`key`) this once; only a hash of it is stored.',
    tags,
    access: 'admin',
    body: ApiKeyCreate,
    bodyExample: { name: 'billing-nordics', role: 'write', bunitIds: [3] },
    responses: { 201: { description: 'Created; the secret is in `key`.', schema: ApiKeyCreated, headers: LOCATION_HEADER } },
    problems: [400, 422],
    async handler({ body, services, actor }) {
      const { key, secret } = await services.apiKeys.create(body, actor);
      return { status: 201, body: { ...presentApiKey(key), key: secret }, headers: { Location: `/v1/api-keys/${key.id}` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/api-keys',
    operationId: 'listApiKeys',
    summary: 'List API keys',
    tags,
    access: 'admin',
    query: ApiKeyListQuery,
    responses: { 200: { description: 'A page of keys (never their secrets).', schema: ApiKeyList } },
    problems: [400],
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
    tags,
    access: 'admin',
    params: ApiKeyParams,
    responses: { 200: { description: 'The key (never its secret).', schema: ApiKey } },
    problems: [400, 404],
    async handler({ params, services }) {
      return { status: 200, body: presentApiKey(await services.apiKeys.get(params.keyId)) };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/api-keys/{keyId}',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    description: 'From now on the key answers 401 on every instance (within a second on instances other than this one).',
    tags,
    access: 'admin',
    params: ApiKeyParams,
    responses: { 204: noContent('Revoked (or already revoked).') },
    problems: [400, 404],
    async handler({ params, services, actor }) {
      await services.apiKeys.revoke(params.keyId, actor);
      return { status: 204 };
    },
  }),
];
