import type { DeliveryRecord, WebhookEndpointRecord } from '../repositories/webhook.repository';

/** A webhook endpoint as the API shows it (SPEC §13), to HTTP clients and in events: never its secret. */
export const presentWebhookEndpoint = (e: WebhookEndpointRecord, nowIso: string) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  eventTypes: e.eventTypes,
  bunitIds: e.bunitIds,
  enabled: e.enabled,
  createdDate: e.createdAt,
  updatedDate: e.updatedAt,
  disabledDate: e.disabledAt,
  disabledReason: e.disabledReason,
  failingSinceDate: e.failingSince,
  previousSecretExpiresDate: e.previousSecretUntil !== null && e.previousSecretUntil > nowIso ? e.previousSecretUntil : null,
});

export const presentDelivery = (d: DeliveryRecord) => ({
  id: d.id,
  endpointId: d.endpointId,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attemptCount: d.attemptCount,
  nextAttemptDate: d.nextAttemptAt,
  createdDate: d.createdAt,
  lastAttemptDate: d.lastAttemptAt,
  attempts: d.attempts.map((a) => ({
    attemptedDate: a.attemptedAt,
    httpStatus: a.httpStatus,
    error: a.error,
    durationMs: a.durationMs,
    response: a.response,
  })),
});
