import { presentDelivery, presentWebhookEndpoint } from '../../representations/webhook';
import {
  Delivery,
  DeliveryList,
  DeliveryListQuery,
  DeliveryParams,
  RecoverBody,
  RecoverResult,
  WebhookEndpoint,
  WebhookEndpointCreate,
  WebhookEndpointList,
  WebhookEndpointListQuery,
  WebhookEndpointParams,
  WebhookEndpointUpdate,
  WebhookEndpointWithSecret,
} from '../../schemas/webhook';
import { EmptyBody } from '../../schemas/common';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { noContent } from './headers';

const tags = ['Webhooks'];

const endpointExample = {
  id: 4,
  url: 'https://erp.example.com/hooks/referrals',
  description: 'ERP: statements for invoicing',
  eventTypes: ['statement.created', 'settlement_run.completed'],
  bunitIds: null,
  enabled: true,
  createdDate: '2026-11-02T08:00:00.000Z',
  updatedDate: '2026-11-02T08:00:00.000Z',
  disabledDate: null,
  disabledReason: null,
  failingSinceDate: null,
  previousSecretExpiresDate: null,
};
const secretExample = 'whsec_9Pq0wz4m0lX0b8oQ1m6p3o2Xz3YqK5uTzq6E2s9m9jA=';

const deliveryExample = {
  id: 311,
  endpointId: 4,
  eventId: 1207,
  eventType: 'statement.created',
  status: 'pending',
  attemptCount: 1,
  nextAttemptDate: '2026-11-23T10:20:05.000Z',
  createdDate: '2026-11-23T10:15:00.020Z',
  lastAttemptDate: '2026-11-23T10:15:00.031Z',
  attempts: [{ attemptedDate: '2026-11-23T10:15:00.031Z', httpStatus: 503, error: null, durationMs: 48, response: 'Service Unavailable' }],
};

const nowIso = () => new Date().toISOString();

const ABOUT_DELIVERY =
  'Each event is POSTed as JSON (the event as the feed shows it) with the Standard Webhooks headers `webhook-id` (the event id: deduplicate by it), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>`; two, space-separated, for 24 h after a rotation). A 2xx within 15 s is a success; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then the delivery has failed. Events leave in sequence order; one waiting for its retry does not hold back later ones.';

export const webhookRoutes = [
  defineRoute({
    method: 'post',
    path: '/v1/webhook-endpoints',
    operationId: 'createWebhookEndpoint',
    summary: 'Create a webhook endpoint',
    description: `Needs an admin key. The endpoint receives the events committed from now on that match \`eventTypes\` and \`bunitIds\`. The answer carries the signing \`secret\` this once. ${ABOUT_DELIVERY}`,
    tags,
    access: 'admin',
    body: WebhookEndpointCreate,
    bodyExample: { url: 'https://erp.example.com/hooks/referrals', eventTypes: ['statement.created', 'settlement_run.completed'], description: 'ERP: statements for invoicing' },
    responses: {
      201: {
        description: 'Created; the secret is in `secret`. A replay of this answer (same `Idempotency-Key`) comes without it: rotate the secret if the first answer was lost.',
        schema: WebhookEndpointWithSecret,
        example: { ...endpointExample, secret: secretExample },
        headers: ['Location'],
      },
    },
    problems: ['invalid-webhook-url', 'invalid-reference'],
    async handler({ body, services, actor }) {
      const { endpoint, secret } = await services.webhooks.create(body, actor);
      const shown = presentWebhookEndpoint(endpoint, nowIso());
      return { status: 201, body: { ...shown, secret }, replayBody: shown, headers: { Location: `/v1/webhook-endpoints/${endpoint.id}` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/webhook-endpoints',
    operationId: 'listWebhookEndpoints',
    summary: 'List webhook endpoints',
    description: 'Needs an admin key.',
    tags,
    access: 'admin',
    query: WebhookEndpointListQuery,
    responses: {
      200: { description: 'A page of endpoints (never their secrets).', schema: WebhookEndpointList, example: { data: [endpointExample], meta: { total: 1, limit: 50, offset: 0 } } },
    },
    problems: [],
    async handler({ query, services }) {
      const now = nowIso();
      return { status: 200, body: presentPage(await services.webhooks.list(query), query, (e) => presentWebhookEndpoint(e, now)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/webhook-endpoints/{endpointId}',
    operationId: 'getWebhookEndpoint',
    summary: 'Read a webhook endpoint',
    description: 'Needs an admin key.',
    tags,
    access: 'admin',
    params: WebhookEndpointParams,
    responses: { 200: { description: 'The endpoint (never its secret).', schema: WebhookEndpoint, example: endpointExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: presentWebhookEndpoint(await services.webhooks.get(params.endpointId), nowIso()) };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/webhook-endpoints/{endpointId}',
    operationId: 'updateWebhookEndpoint',
    summary: 'Change a webhook endpoint',
    description:
      'Needs an admin key. Replaces `url`, `eventTypes`, `bunitIds` and `description` (left out: null); `enabled` left out stays as it is. `enabled: false` stops deliveries; `enabled: true` starts them again, with the events committed from then on and the deliveries still pending.',
    tags,
    access: 'admin',
    params: WebhookEndpointParams,
    body: WebhookEndpointUpdate,
    bodyExample: { url: 'https://erp.example.com/hooks/referrals', eventTypes: ['statement.created'], enabled: true },
    responses: { 200: { description: 'The endpoint as it is now.', schema: WebhookEndpoint, example: endpointExample } },
    problems: ['invalid-webhook-url', 'invalid-reference'],
    async handler({ params, body, services, actor }) {
      return { status: 200, body: presentWebhookEndpoint(await services.webhooks.update(params.endpointId, body, actor), nowIso()) };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/webhook-endpoints/{endpointId}',
    operationId: 'deleteWebhookEndpoint',
    summary: 'Delete a webhook endpoint',
    description: 'Needs an admin key. Nothing more is sent to it, and it is no longer listed.',
    tags,
    access: 'admin',
    params: WebhookEndpointParams,
    responses: { 204: noContent('Deleted.') },
    problems: [],
    async handler({ params, services, actor }) {
      await services.webhooks.remove(params.endpointId, actor);
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/webhook-endpoints/{endpointId}/rotate-secret',
    operationId: 'rotateWebhookSecret',
    summary: 'Rotate a webhook endpoint’s secret',
    description:
      'Needs an admin key. Answers a new secret, shown this once. For 24 h the previous secret keeps signing beside it (two signatures in `webhook-signature`), so that the receiver can switch to the new one without missing an event.',
    tags,
    access: 'admin',
    params: WebhookEndpointParams,
    body: EmptyBody,
    bodyOptional: true,
    bodyExample: {},
    responses: {
      200: {
        description: 'The endpoint with its new secret (absent from an idempotent replay).',
        schema: WebhookEndpointWithSecret,
        example: { ...endpointExample, previousSecretExpiresDate: '2026-11-24T08:00:00.000Z', secret: secretExample },
      },
    },
    problems: [],
    async handler({ params, services, actor }) {
      const { endpoint, secret } = await services.webhooks.rotateSecret(params.endpointId, actor);
      const shown = presentWebhookEndpoint(endpoint, nowIso());
      return { status: 200, body: { ...shown, secret }, replayBody: shown };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/webhook-endpoints/{endpointId}/deliveries',
    operationId: 'listWebhookDeliveries',
    summary: 'The delivery log of a webhook endpoint',
    description: `Needs an admin key. Each delivery (one event for this endpoint) with its attempts: when, the HTTP status or the error, how long it took, and the first 1 KB of the answer. ${ABOUT_DELIVERY}`,
    tags,
    access: 'admin',
    params: WebhookEndpointParams,
    query: DeliveryListQuery,
    responses: { 200: { description: 'A page of deliveries, oldest first.', schema: DeliveryList, example: { data: [deliveryExample], meta: { total: 1, limit: 50, offset: 0 } } } },
    problems: [],
    async handler({ params, query, services }) {
      return { status: 200, body: presentPage(await services.webhooks.deliveries(params.endpointId, query), query, presentDelivery) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/retry',
    operationId: 'retryWebhookDelivery',
    summary: 'Send a delivery again now',
    description:
      'Needs an admin key. The delivery (whatever its status) is sent again at once, by whichever instance claims the endpoint next, and retried on the usual schedule if it fails. To a disabled endpoint it is sent once the endpoint is enabled.',
    tags,
    access: 'admin',
    params: DeliveryParams,
    body: EmptyBody,
    bodyOptional: true,
    bodyExample: {},
    responses: { 202: { description: 'Accepted: the delivery is pending, due now.', schema: Delivery, example: { ...deliveryExample, status: 'pending' } } },
    problems: [],
    async handler({ params, services, actor }) {
      return { status: 202, body: presentDelivery(await services.webhooks.retry(params.endpointId, params.deliveryId, actor)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/webhook-endpoints/{endpointId}/recover',
    operationId: 'recoverWebhookDeliveries',
    summary: 'Send every failed delivery since an instant again',
    description:
      'Needs an admin key. After a receiver’s outage: every delivery to this endpoint that failed at or after `since` is sent again now, in sequence order, each with the usual retry schedule.',
    tags,
    access: 'admin',
    params: WebhookEndpointParams,
    body: RecoverBody,
    bodyExample: { since: '2026-11-22T00:00:00Z' },
    responses: { 202: { description: 'Accepted: how many deliveries are pending again.', schema: RecoverResult, example: { recovered: 17 } } },
    problems: [],
    async handler({ params, body, services, actor }) {
      return { status: 202, body: { recovered: await services.webhooks.recover(params.endpointId, body.since, actor) } };
    },
  }),
];
