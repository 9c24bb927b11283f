import { z } from 'zod';
import { EVENT_TYPES } from '../domain/events';
import { IdParam, IdValue, Limit, ListOf, Offset, Text, Timestamp, TimestampInput } from './common';

/** Webhook endpoints and their delivery log (SPEC §13). Admin keys only. */

const Url = z
  .string('must be a string')
  .max(2000, 'must be at most 2000 characters')
  .refine((v) => URL.canParse(v), 'must be an absolute URL such as https://erp.example.com/hooks/referrals')
  .openapi({
    format: 'uri',
    example: 'https://erp.example.com/hooks/referrals',
    description:
      'Where events are POSTed: `https` (`http` only where the service runs with WEBHOOK_ALLOW_HTTP=true), to a host that resolves to public addresses only (not loopback, private, link-local or cloud metadata addresses, unless WEBHOOK_ALLOW_PRIVATE=true). Redirects are not followed.',
  });

const EventTypes = z
  .array(z.enum(EVENT_TYPES, `must be one of ${EVENT_TYPES.join(', ')}`), 'must be an array of event types')
  .min(1, 'must name at least one event type (leave it out, or null, for every type)')
  .nullable()
  .optional()
  .openapi({ example: ['statement.created', 'settlement_run.completed'], description: 'The event types to send; left out or null: every type.' });

const BunitIds = z
  .array(IdValue, 'must be an array of business unit ids')
  .min(1, 'must name at least one business unit (leave it out, or null, for all of them)')
  .max(1000)
  .nullable()
  .optional()
  .openapi({
    example: [3],
    description:
      'Only events naming one of these business units (as a key scoped to them sees the feed); left out or null: every event, including those that name no unit (runs, API keys).',
  });

const Description = Text(500).nullable().optional().openapi({ example: 'ERP: statements for invoicing' });

export const WebhookEndpointCreate = z
  .strictObject({ url: Url, eventTypes: EventTypes, bunitIds: BunitIds, description: Description })
  .openapi('WebhookEndpointCreate');
export type WebhookEndpointCreate = z.infer<typeof WebhookEndpointCreate>;

const readOnly = {
  id: z.unknown().optional(),
  createdDate: z.unknown().optional(),
  updatedDate: z.unknown().optional(),
  disabledDate: z.unknown().optional(),
  disabledReason: z.unknown().optional(),
  failingSinceDate: z.unknown().optional(),
  previousSecretExpiresDate: z.unknown().optional(),
};

export const WebhookEndpointUpdate = z
  .strictObject({
    url: Url,
    eventTypes: EventTypes,
    bunitIds: BunitIds,
    description: Description,
    enabled: z.boolean('must be true or false').optional().openapi({
      description: 'false stops deliveries to it; true starts them again (with the events committed from then on). Left out: unchanged.',
    }),
    ...readOnly,
  })
  .openapi('WebhookEndpointUpdate', {
    description: 'The whole endpoint: `eventTypes`, `bunitIds` and `description` left out are null. Read-only fields are ignored.',
  });
export type WebhookEndpointUpdate = z.infer<typeof WebhookEndpointUpdate>;

export const WebhookEndpoint = z
  .object({
    id: z.number().int().openapi({ example: 4 }),
    url: z.string().openapi({ example: 'https://erp.example.com/hooks/referrals' }),
    description: z.string().nullable().openapi({ example: 'ERP: statements for invoicing' }),
    eventTypes: z.array(z.string()).nullable().openapi({ example: ['statement.created', 'settlement_run.completed'], description: 'null: every type.' }),
    bunitIds: z.array(z.number().int()).nullable().openapi({ example: null, description: 'null: every business unit.' }),
    enabled: z.boolean().openapi({ description: 'false: nothing is sent to it (set by PUT, or after it failed every delivery for 5 days).' }),
    createdDate: Timestamp,
    updatedDate: Timestamp,
    disabledDate: Timestamp.nullable().openapi({ description: 'When it was disabled; null while enabled.' }),
    disabledReason: z.string().nullable().openapi({ example: null }),
    failingSinceDate: Timestamp.nullable().openapi({ description: 'The first failed attempt since the last success; null while deliveries succeed.' }),
    previousSecretExpiresDate: Timestamp.nullable().openapi({
      description: 'After a rotation: until when the previous secret still signs beside the new one (a second signature); else null.',
    }),
  })
  .openapi('WebhookEndpoint', { description: 'Where events are sent, signed per the Standard Webhooks specification. Never shows its secret.' });

export const WebhookEndpointWithSecret = WebhookEndpoint.extend({
  secret: z
    .string()
    .optional()
    .openapi({
      example: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
      description:
        'The signing secret, `whsec_` + base64 of 32 random bytes: shown in this answer only (absent from an idempotent replay). Verify deliveries with it, e.g. `new Webhook(secret).verify(body, headers)` of the `standardwebhooks` package.',
    }),
}).openapi('WebhookEndpointWithSecret');

export const WebhookEndpointList = ListOf(WebhookEndpoint, 'WebhookEndpointList');

export const WebhookEndpointListQuery = z.strictObject({ limit: Limit, offset: Offset });

export const WebhookEndpointParams = z.strictObject({ endpointId: IdParam.openapi({ description: 'Id of a webhook endpoint.', example: 4 }) });

export const DeliveryParams = z.strictObject({
  endpointId: IdParam.openapi({ description: 'Id of a webhook endpoint.', example: 4 }),
  deliveryId: IdParam.openapi({ description: 'Id of one of its deliveries.', example: 311 }),
});

export const DeliveryStatus = z.enum(['pending', 'succeeded', 'failed'], 'must be one of pending, succeeded, failed');

export const DeliveryAttempt = z
  .object({
    attemptedDate: Timestamp,
    httpStatus: z.number().int().nullable().openapi({ example: 503, description: 'The receiver’s HTTP status; null when no answer came (see `error`).' }),
    error: z.string().nullable().openapi({ example: null, description: 'Why no answer came: timeout, connection refused, a refused address …' }),
    durationMs: z.number().int().openapi({ example: 112 }),
    response: z.string().nullable().openapi({ example: 'Service Unavailable', description: 'The first 1 KB of the answer’s body.' }),
  })
  .openapi('WebhookDeliveryAttempt');

export const Delivery = z
  .object({
    id: z.number().int().openapi({ example: 311 }),
    endpointId: z.number().int().openapi({ example: 4 }),
    eventId: z.number().int().openapi({ example: 1207 }),
    eventType: z.string().openapi({ example: 'statement.created' }),
    status: DeliveryStatus.openapi({
      description: '`pending`: to be sent (or sent again after a failure, at `nextAttemptDate`); `succeeded`: a 2xx came within 15 s; `failed`: every retry failed.',
    }),
    attemptCount: z.number().int().openapi({ example: 1 }),
    nextAttemptDate: Timestamp.nullable().openapi({ description: 'When it is sent next; null unless pending.' }),
    createdDate: Timestamp,
    lastAttemptDate: Timestamp.nullable(),
    attempts: z.array(DeliveryAttempt).openapi({ description: 'Every attempt, oldest first.' }),
  })
  .openapi('WebhookDelivery', { description: 'One event for one endpoint, with its attempts.' });

export const DeliveryList = ListOf(Delivery, 'WebhookDeliveryList');

export const DeliveryListQuery = z.strictObject({
  status: DeliveryStatus.optional().openapi({ description: 'Only deliveries in this status.' }),
  eventId: IdParam.optional().openapi({ description: 'Only the delivery of this event.' }),
  limit: Limit,
  offset: Offset,
});
export type DeliveryListQuery = z.infer<typeof DeliveryListQuery>;

export const RecoverBody = z
  .strictObject({ since: TimestampInput.openapi({ description: 'Every delivery that failed at or after this instant is sent again.' }) })
  .openapi('WebhookRecover');

export const RecoverResult = z
  .object({ recovered: z.number().int().openapi({ example: 17, description: 'How many failed deliveries are pending again.' }) })
  .openapi('WebhookRecoverResult');
