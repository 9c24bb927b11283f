/**
 * METRICS: the one place where the events feed and the webhook deliveries report what they did
 * (SPEC §14: `events_published_total{type}`, `webhook_deliveries_total{outcome}`,
 * `webhook_delivery_lag_seconds`). src/metrics.ts (prom-client) is being added on another branch
 * with `recordEventsPublished(type, count)` and `recordWebhookDelivery(outcome, lagSeconds?)`;
 * once it is there, these two functions call those and nothing else changes.
 */

/** Events committed to the outbox (called after the commit, once per unit of work). */
export function reportEventsPublished(types: readonly string[]): void {
  void types;
}

/**
 * One delivery attempt ended: `succeeded`, `retrying` (it failed and will be tried again) or
 * `failed` (the schedule is used up); a success also tells the lag from the event's creation to
 * its receipt, in seconds.
 */
export function reportDelivery(outcome: 'succeeded' | 'retrying' | 'failed', lagSeconds?: number): void {
  void outcome;
  void lagSeconds;
}
