/**
 * The events of SPEC §13, as pure data: their types, which endpoint an event goes to, and the
 * retry schedule of a delivery.
 */

export const EVENT_TYPES = [
  'business_unit.created',
  'business_unit.updated',
  'business_unit.archived',
  'contract.created',
  'contract.updated',
  'contract.archived',
  'referral.created',
  'referral.updated',
  'referral.archived',
  'referral.approved',
  'referral.denied',
  'referral.amended',
  'change_request.created',
  'change_request.approved',
  'change_request.denied',
  'change_request.withdrawn',
  'revenue.ingested',
  'settlement_run.completed',
  'statement.created',
  'statement.accepted',
  'dispute.opened',
  'dispute.resolved',
  'dispute.withdrawn',
  'api_key.created',
  'api_key.revoked',
  'webhook_endpoint.disabled',
  'period.closed',
  'netting.created',
  'netting.paid',
  'journal.created',
  'journal.posted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** What an endpoint subscribed to: null = every type, every business unit. */
export interface Subscription {
  eventTypes: readonly string[] | null;
  bunitIds: readonly number[] | null;
}

/**
 * An event goes to an endpoint when its type is one the endpoint asked for and, for an endpoint
 * limited to some business units, it names one of them (an event that names none — a run, an API
 * key — goes only to endpoints of every business unit, as it shows only to admin keys in the feed).
 */
export function subscribes(endpoint: Subscription, event: { type: string; bunitIds: readonly number[] }): boolean {
  if (endpoint.eventTypes !== null && !endpoint.eventTypes.includes(event.type)) return false;
  if (endpoint.bunitIds !== null && !event.bunitIds.some((id) => endpoint.bunitIds!.includes(id))) return false;
  return true;
}

/** SPEC §13: after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then the delivery has failed. */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];

/**
 * After the `failures`-th failed attempt since the schedule began: the delay before the next
 * attempt, in seconds, or null when the schedule is used up (the delivery has failed).
 */
export function retryDelaySeconds(schedule: readonly number[], failures: number): number | null {
  return failures >= 1 && failures <= schedule.length ? schedule[failures - 1]! : null;
}

/** An endpoint that has failed every delivery for this long is disabled (SPEC §13). */
export const DISABLE_AFTER_MS = 5 * 24 * 60 * 60 * 1000;
