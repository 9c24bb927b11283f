import crypto from 'node:crypto';
import type { Knex } from 'knex';
import os from 'node:os';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../clock';
import { transaction } from '../../db';
import { DISABLE_AFTER_MS, retryDelaySeconds, subscribes } from '../../domain/events';
import { findEvents, type EventRecord } from '../../repositories/event.repository';
import {
  claimDeliveries,
  claimEndpoints,
  eventsAfter,
  fanoutCursor,
  insertAttempt,
  insertDeliveries,
  lockFanoutCursor,
  lockWebhookEndpoint,
  releaseLeases,
  renewEndpointLease,
  setFanoutCursor,
  settleDelivery,
  subscribers,
  updateWebhookEndpoint,
  type ClaimedDelivery,
  type WebhookEndpointRecord,
} from '../../repositories/webhook.repository';
import { eventJson } from '../../representations/event';
import type { BackgroundWorker } from '../../workers';
import type { ServiceContext } from '../context';
import { publishEvents, webhookEndpointDisabledEvent } from '../event.service';
import { systemActor, withUnitOfWork } from '../unit-of-work';
import { postWebhook, type SendResult } from './sender';
import { signatureHeader, signingSecrets } from './signing';
import { recordWebhookDelivery } from '../../metrics';
import type { UrlPolicy } from './url-safety';

export interface DeliveryOptions {
  /** Seconds before each retry (WEBHOOK_RETRY_SCHEDULE); after the last one the delivery has failed. */
  retrySchedule: readonly number[];
  policy: UrlPolicy;
  /** How often an idle worker looks for new events and due deliveries (ms). */
  pollMs: number;
  /** A 2xx within this is a success (15 s). */
  timeoutMs?: number;
  /** A claim is taken over by another instance once it has not been renewed for this long (30 s). */
  leaseMs?: number;
  /** Endpoints this worker sends to at once, at most. */
  concurrency?: number;
  /** Deliveries of one endpoint claimed at a time. */
  batch?: number;
  /** An endpoint that failed every delivery for this long is disabled (5 days). */
  disableAfterMs?: number;
  /**
   * The clock of the outside world: webhook-timestamp, retries and leases are real instants,
   * which receivers and other instances compare with their own clocks.
   */
  clock?: Clock;
}

/**
 * The webhook delivery of one server instance (SPEC §13), a background worker. Every instance
 * runs one; they share the work through the database:
 *
 * 1. **Fan-out.** Committed events are numbered into the feed (publishEvents), then those past
 *    a cursor become delivery rows, one per subscribed endpoint, in a short transaction that holds
 *    the cursor (FOR UPDATE SKIP LOCKED: one instance at a time; the others skip it). An event
 *    that commits later always gets a higher number, so the cursor never passes an event not yet
 *    numbered: no committed event is lost, whatever process dies when.
 * 2. **Claim.** An endpoint with deliveries due is claimed with a lease (30 s, renewed with each
 *    attempt), and so are its due deliveries, in sequence order: one instance sends to an
 *    endpoint at a time, so its events leave in order; what a killed instance held is free again
 *    when its lease runs out.
 * 3. **Send**, outside any transaction, then **record** the attempt in a short transaction of its
 *    own: success, or the next retry of the schedule, or failed. An event waiting for its retry
 *    does not hold back later ones.
 */
export class WebhookDispatcher implements BackgroundWorker {
  readonly name = 'webhook-delivery';
  readonly owner = `${os.hostname().slice(0, 30)}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  private stopped = true;
  private loop: Promise<void> | null = null;
  private readonly serving = new Map<number, Promise<void>>();
  private wake: (() => void) | null = null;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly batch: number;
  private readonly disableAfterMs: number;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly options: DeliveryOptions,
    private readonly logger?: Logger,
  ) {
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.concurrency = options.concurrency ?? 8;
    this.batch = options.batch ?? 50;
    this.disableAfterMs = options.disableAfterMs ?? DISABLE_AFTER_MS;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Takes no new work; the attempts in flight finish and are recorded, the rest of each claim is handed back. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.all(this.serving.values());
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let busy = false;
      try {
        busy = (await this.fanOut()) > 0;
        busy = (await this.claimAndServe()) || busy;
      } catch (err) {
        this.logger?.warn({ err, worker: this.name }, 'webhook delivery: a round failed; it runs again at its next turn');
      }
      if (!busy && !this.stopped) await this.pause(this.options.pollMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }

  private now() {
    const at = this.clock.now();
    return { at, iso: at.toISOString(), plus: (ms: number) => new Date(at.getTime() + ms).toISOString() };
  }

  /** Turns committed events past the cursor into deliveries; how many events it passed. */
  async fanOut(): Promise<number> {
    const { db } = this.ctx;
    await publishEvents(db);
    // Nothing new (the usual case when idle): no write transaction at all.
    if ((await eventsAfter(db, await fanoutCursor(db), 1)).length === 0) return 0;
    return transaction(db, async (trx) => {
      const cursor = await lockFanoutCursor(trx);
      if (cursor === null) return 0;
      const events = await eventsAfter(trx, cursor, 1000);
      if (events.length === 0) return 0;
      const endpoints = await subscribers(trx);
      const rows = events.flatMap((event) =>
        endpoints.filter((e) => event.id > e.fromSequence && subscribes(e, event)).map((e) => ({ endpointId: e.id, eventId: event.id, eventType: event.type })),
      );
      await insertDeliveries(trx, rows, this.now().iso);
      await setFanoutCursor(trx, events[events.length - 1]!.id);
      return events.length;
      // Not durable on its own: fan-out lost to a power cut is made again from the cursor (the
      // unique key of a delivery makes a second fan-out of an event a no-op).
    }, { durable: false });
  }

  /** Claims endpoints with deliveries due (as many as there is room for) and serves each on its own; whether it claimed any. */
  private async claimAndServe(): Promise<boolean> {
    const room = this.concurrency - this.serving.size;
    if (room <= 0 || this.stopped) return false;
    const now = this.now();
    const claimed = await transaction(this.ctx.db, (trx) => claimEndpoints(trx, this.owner, now.iso, now.plus(this.leaseMs), room), { durable: false });
    for (const endpoint of claimed) {
      const work = this.serve(endpoint)
        .catch((err: unknown) => this.logger?.warn({ err, endpointId: endpoint.id }, 'webhook delivery to an endpoint failed; its lease runs out and it is taken up again'))
        .finally(() => this.serving.delete(endpoint.id));
      this.serving.set(endpoint.id, work);
    }
    return claimed.length > 0;
  }

  /**
   * Sends an endpoint's due deliveries in sequence order, batch after batch, while it holds the
   * lease; then hands the lease back. Attempts are recorded after they were made, a few successes
   * together (a failure at once), each time in a short transaction that also renews the lease.
   */
  private async serve(endpoint: WebhookEndpointRecord): Promise<void> {
    const { db } = this.ctx;
    try {
      for (;;) {
        const now = this.now();
        // The endpoint's lease is renewed with the deliveries' own: it never runs out before
        // theirs, so an instance that takes the endpoint over finds every delivery a dead holder
        // had claimed free again, and sends them in order.
        const until = now.plus(this.leaseMs);
        const deliveries = await transaction(
          db,
          async (trx) => ((await renewEndpointLease(trx, endpoint.id, this.owner, until)) ? claimDeliveries(trx, endpoint.id, this.owner, now.iso, until, this.batch) : []),
          { durable: false },
        );
        if (deliveries.length === 0) return;
        const events = await findEvents(db, deliveries.map((d) => d.eventId));
        let made: Attempt[] = [];
        for (const [i, delivery] of deliveries.entries()) {
          if (!this.stopped) made.push(await this.send(endpoint, delivery, events.get(delivery.eventId)));
          const last = this.stopped || i === deliveries.length - 1;
          if (made.length > 0 && (last || !made[made.length - 1]!.result.ok || made.length >= RECORD_EVERY)) {
            const state = await this.record(endpoint, made);
            made = [];
            if (state !== 'held') return;
          }
          if (this.stopped) return;
        }
      }
    } finally {
      await releaseLeases(db, endpoint.id, this.owner);
    }
  }

  /** One POST of one delivery, signed; nothing is written. */
  private async send(endpoint: WebhookEndpointRecord, delivery: ClaimedDelivery, event: EventRecord | undefined): Promise<Attempt> {
    const started = this.now();
    let result: SendResult;
    if (!event) {
      result = { ok: false, httpStatus: null, error: 'the event is no longer kept (EVENT_RETENTION_DAYS)', durationMs: 0, response: null };
    } else {
      const body = eventJson(event);
      const id = String(event.id);
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(started.at.getTime() / 1000)),
        'webhook-signature': signatureHeader(signingSecrets(endpoint, started.iso), id, started.at, body),
      };
      result = await postWebhook(endpoint.url, headers, body, { timeoutMs: this.timeoutMs, policy: this.options.policy });
    }
    return { delivery, event, result, startedIso: started.iso, done: this.now() };
  }

  /**
   * Records attempts made (in order; only the last may be a failure): the log, each delivery's
   * outcome — succeeded, the next retry of the schedule, or failed —, the endpoint's failing
   * streak and its lease. Not durable on its own: an attempt whose record a power cut loses is
   * only made again (at least once; receivers deduplicate by webhook-id).
   */
  private async record(endpoint: WebhookEndpointRecord, made: Attempt[]): Promise<'held' | 'lost' | 'disabled'> {
    const last = made[made.length - 1]!;
    let held = false;
    const failingFor = await transaction(
      this.ctx.db,
      async (trx) => {
        for (const { delivery, event, result, startedIso, done } of made) {
          const failures = result.ok ? delivery.scheduleStep : delivery.scheduleStep + 1;
          const delay = result.ok || !event ? null : retryDelaySeconds(this.options.retrySchedule, failures);
          const status = result.ok ? 'succeeded' : delay === null ? 'failed' : 'pending';
          await insertAttempt(trx, delivery.id, { attemptedAt: startedIso, httpStatus: result.httpStatus, error: result.error, durationMs: result.durationMs, response: result.response });
          const settled = await settleDelivery(trx, delivery.id, this.owner, {
            status,
            attemptCount: delivery.attemptCount + 1,
            scheduleStep: failures,
            nextAttemptAt: delay === null ? null : done.plus(delay * 1000),
            attemptedAt: startedIso,
          });
          if (!settled) this.logger?.warn({ deliveryId: delivery.id }, 'webhook delivery: the lease was taken over meanwhile; the attempt is logged, its outcome left to the new holder');
          recordWebhookDelivery(status === 'pending' ? 'retrying' : status, result.ok && event ? (done.at.getTime() - Date.parse(event.createdAt)) / 1000 : undefined);
        }
        // The endpoint's lease, renewed with each record (lost: another instance took the endpoint over).
        held = await renewEndpointLease(trx, endpoint.id, this.owner, last.done.plus(this.leaseMs));
        if (made.some((m) => m.result.ok)) await this.noteStreak(trx, endpoint.id, true, last.startedIso, last.done.at);
        return last.result.ok ? null : this.noteStreak(trx, endpoint.id, false, last.startedIso, last.done.at);
      },
      { durable: false },
    );
    if (failingFor !== null && (await this.disable(endpoint.id, failingFor, last.done.iso))) return 'disabled';
    return held ? 'held' : 'lost';
  }

  /**
   * Keeps the endpoint's failing streak: cleared by a success, begun by the first failure after
   * one. The instant the streak began when it has lasted the disable period, else null.
   */
  private async noteStreak(trx: Knex.Transaction, endpointId: number, ok: boolean, attemptedAt: string, now: Date): Promise<string | null> {
    const current = await lockWebhookEndpoint(trx, endpointId);
    if (!current) return null;
    if (ok) {
      if (current.failingSince !== null) await updateWebhookEndpoint(trx, endpointId, { failingSince: null, updatedAt: current.updatedAt });
      return null;
    }
    const failingSince = current.failingSince ?? attemptedAt;
    if (current.failingSince === null) await updateWebhookEndpoint(trx, endpointId, { failingSince, updatedAt: current.updatedAt });
    return current.enabled && now.getTime() - Date.parse(failingSince) >= this.disableAfterMs ? failingSince : null;
  }

  /** Disables an endpoint that has failed every delivery since `failingSince`, with its event (SPEC §13). */
  private disable(endpointId: number, failingSince: string, nowIso: string): Promise<boolean> {
    return withUnitOfWork(this.ctx, systemActor('webhook delivery'), async (uow) => {
      const current = await lockWebhookEndpoint(uow.trx, endpointId);
      if (!current?.enabled || current.failingSince === null) return false;
      await updateWebhookEndpoint(uow.trx, endpointId, {
        enabled: false,
        disabledAt: nowIso,
        disabledReason: `Every delivery failed since ${failingSince}.`,
        updatedAt: nowIso,
      });
      uow.record({
        entity: 'webhook-endpoint',
        id: endpointId,
        action: 'disable',
        reason: `every delivery failed since ${failingSince}`,
        changes: [{ field: 'enabled', from: true, to: false }],
        events: [webhookEndpointDisabledEvent(endpointId)],
      });
      return true;
    });
  }
}

/** An attempt made and not yet recorded. */
interface Attempt {
  delivery: ClaimedDelivery;
  event: EventRecord | undefined;
  result: SendResult;
  startedIso: string;
  done: { at: Date; iso: string; plus: (ms: number) => string };
}

/** Successes recorded together, at most (a failure is recorded at once). */
const RECORD_EVERY = 20;
