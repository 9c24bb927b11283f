import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../clock';
import { Heartbeat, newClaimOwner, renewEveryMs, transaction } from '../../db';
import { DISABLE_AFTER_MS, retryDelaySeconds, subscribes } from '../../domain/events';
import { findEvents, type EventRecord } from '../../repositories/event.repository';
import {
  claimableEndpoints,
  claimEndpoints,
  claimNextDeliveries,
  eventsAfter,
  fanoutCursor,
  findWebhookEndpoint,
  insertAttempts,
  insertDeliveries,
  lockFanoutCursor,
  lockWebhookEndpoint,
  releaseEndpointClaims,
  renewDeliveryClaims,
  releaseDeliveryClaims,
  renewEndpointClaim,
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
  /** A claim is taken over by another instance once it has not been renewed for this long (30 s); renewed every third of it. */
  leaseMs?: number;
  /** Endpoints served at once whose attempt in flight is not slow (default 16). */
  concurrency?: number;
  /** An attempt in flight this long is slow: its endpoint no longer counts against `concurrency` (default 1 s). */
  slowAfterMs?: number;
  /** Endpoints served at once, slow ones included (default 4 × concurrency); at most half of them failing ones. */
  maxInFlight?: number;
  /** Deliveries sent to an endpoint per claim; then it is handed back and waits its turn (default 100). */
  batch?: number;
  /** An endpoint that failed every delivery for this long is disabled (5 days). */
  disableAfterMs?: number;
  /**
   * The clock of the outside world: webhook-timestamp and retries are real instants, which
   * receivers compare with their own clocks. (Leases are judged by the database's clock.)
   */
  clock?: Clock;
}

/** Deliveries of one endpoint claimed at once, sent in turn, and recorded together. */
const SEND_AHEAD = 20;
/** What was sent is recorded once this long has passed since the first of it was sent (ms). */
const RECORD_AFTER_MS = 50;
/** Events turned into deliveries in one transaction at most. */
const FANOUT_BATCH = 1000;
/** After a round that found work, the next begins this long after (ms; the poll if that is shorter). */
const GATHER_MS = 50;

/** What this instance is doing for one endpoint it holds. */
interface EndpointLoop {
  work: Promise<void>;
  /** It failed since its last success when claimed. */
  failing: boolean;
  /** When the attempt in flight began (Date.now()), or null between attempts. */
  sendingSince: number | null;
}

/** One delivery ready to send: what prepare() gathered. */
interface PreparedDelivery {
  endpoint: WebhookEndpointRecord;
  delivery: ClaimedDelivery;
  event: EventRecord | undefined;
}

/** An attempt made and not yet recorded. */
interface Attempt {
  result: SendResult;
  startedIso: string;
  done: { at: Date; iso: string; plus: (ms: number) => string };
}

/**
 * The webhook delivery of one server instance (SPEC §13), a background worker. Every instance
 * runs one; they share the work through the database (src/db/claim.ts):
 *
 * 1. **Fan-out.** Committed events are numbered into the feed (publishEvents), then those past
 *    a cursor become delivery rows, one per subscribed endpoint, in a short transaction that holds
 *    the cursor (FOR UPDATE SKIP LOCKED: one instance at a time; the others skip it). An event
 *    that commits later always gets a higher number, so the cursor never passes an event not yet
 *    numbered: no committed event is lost, whatever process dies when.
 * 2. **Claim.** An endpoint with deliveries due is claimed with a lease, least recently claimed
 *    first, never one this instance serves already; it is then served by a loop of its own, one
 *    delivery at a time, while a heartbeat renews the endpoint's lease and the delivery's. One
 *    instance sends to an endpoint at a time, so its events leave in order; what a killed
 *    instance held is free again when its lease runs out (the database's clock decides).
 * 3. Each delivery in three steps, as Svix does: **prepare** (claim the endpoint's next due
 *    delivery, read the endpoint and the event), **send** (outside any transaction, signed),
 *    **record** (the attempt, the outcome — success, the next retry of the schedule, or failed —
 *    and the endpoint's failing streak, in a short transaction, after each attempt, or after the
 *    few sent within 50 ms to a fast receiver). After a success the same transaction claims the
 *    endpoint's next deliveries (its prepare, up to 20 in order): a write transaction for a few
 *    deliveries, so that an endpoint's backlog drains faster than events arrive.
 *
 * Fairness: an endpoint is handed back after a failed attempt and after `batch` deliveries, and
 * waits behind those claimed less recently. An attempt in flight for longer than `slowAfterMs`
 * frees its slot of `concurrency`, so receivers that hang (up to the 15 s timeout) never hold
 * the slots a healthy endpoint needs; endpoints in a failing streak take at most half of
 * `maxInFlight`.
 */
export class WebhookDispatcher implements BackgroundWorker {
  readonly name = 'webhook-delivery';
  readonly owner = newClaimOwner();
  private stopped = true;
  private loop: Promise<void> | null = null;
  private readonly serving = new Map<number, EndpointLoop>();
  private wake: (() => void) | null = null;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly leaseSeconds: number;
  private readonly concurrency: number;
  private readonly slowAfterMs: number;
  private readonly maxInFlight: number;
  private readonly batch: number;
  private readonly disableAfterMs: number;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly options: DeliveryOptions,
    private readonly logger?: Logger,
  ) {
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.leaseSeconds = (options.leaseMs ?? 30_000) / 1000;
    this.concurrency = options.concurrency ?? 16;
    this.slowAfterMs = options.slowAfterMs ?? 1000;
    this.maxInFlight = options.maxInFlight ?? 4 * this.concurrency;
    this.batch = options.batch ?? 100;
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
    await Promise.all([...this.serving.values()].map((l) => l.work));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let moved = 0;
      let claimed = false;
      try {
        moved = await this.fanOut();
        claimed = await this.claimAndServe();
      } catch (err) {
        this.logger?.warn({ err, worker: this.name }, 'webhook delivery: a round failed; it runs again at its next turn');
      }
      if (this.stopped) break;
      // A full batch left more behind: at once. After a round that found work, a short wait
      // (GATHER_MS): a steady stream of events is then moved a few dozen a round instead of one
      // or two, each round costing two write transactions (bench scenario 9). Idle: the poll.
      if (moved < FANOUT_BATCH) await this.pause(moved > 0 || claimed ? Math.min(GATHER_MS, this.options.pollMs) : this.options.pollMs);
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
      const events = await eventsAfter(trx, cursor, FANOUT_BATCH);
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

  /**
   * Claims endpoints with deliveries due, as many as there is room for (healthy ones first, those
   * in a failing streak within their share), and serves each in a loop of its own; whether it
   * claimed any.
   */
  private async claimAndServe(): Promise<boolean> {
    if (this.stopped) return false;
    const loops = [...this.serving.values()];
    const nowMs = Date.now();
    const fast = loops.filter((l) => l.sendingSince === null || nowMs - l.sendingSince < this.slowAfterMs).length;
    let room = Math.min(this.concurrency - fast, this.maxInFlight - loops.length);
    if (room <= 0) return false;
    const { db } = this.ctx;
    const nowIso = this.now().iso;
    const exclude = [...this.serving.keys()];
    // A read first: an idle poll writes nothing.
    const due = await claimableEndpoints(db, { nowIso, exclude });
    const base = { owner: this.owner, leaseSeconds: this.leaseSeconds, nowIso, exclude };
    const claimed: { endpoint: WebhookEndpointRecord; failing: boolean }[] = [];
    if (due.healthy) {
      for (const endpoint of await claimEndpoints(db, { ...base, limit: room, failing: false })) claimed.push({ endpoint, failing: false });
      room -= claimed.length;
    }
    const failingRoom = Math.min(room, Math.floor(this.maxInFlight / 2) - loops.filter((l) => l.failing).length);
    if (due.failing && failingRoom > 0) {
      for (const endpoint of await claimEndpoints(db, { ...base, limit: failingRoom, failing: true })) claimed.push({ endpoint, failing: true });
    }
    for (const { endpoint, failing } of claimed) {
      const loop: EndpointLoop = { work: Promise.resolve(), failing, sendingSince: null };
      loop.work = this.serve(endpoint.id, loop)
        .catch((err: unknown) => this.logger?.warn({ err, endpointId: endpoint.id }, 'webhook delivery to an endpoint failed; its lease runs out and it is taken up again'))
        .finally(() => this.serving.delete(endpoint.id));
      this.serving.set(endpoint.id, loop);
    }
    return claimed.length > 0;
  }

  /**
   * Serves one claimed endpoint: its due deliveries in sequence order, a few claimed at a time
   * (`SEND_AHEAD`), each sent in turn; what was sent is recorded in one transaction, which also
   * claims the next few, once `SEND_AHEAD` were sent or `RECORD_AFTER_MS` passed (a slow receiver
   * gets each attempt recorded as it ends). A heartbeat renews the endpoint's lease and the
   * deliveries' meanwhile (a receiver may take 15 s). Ends when nothing is due, after a failed
   * attempt, after `batch` deliveries, when the claim was lost or the worker stops; then hands the
   * claim back. A process killed between a send and its record leaves that delivery to be sent again
   * once its lease runs out (at least once: receivers deduplicate by webhook-id); a healthy one
   * sends each exactly once.
   */
  private async serve(endpointId: number, loop: EndpointLoop): Promise<void> {
    const { db } = this.ctx;
    let current: number[] = [];
    const beat = new Heartbeat(
      () =>
        transaction(
          db,
          async (trx) => {
            // The deliveries' rows before the endpoint's, in the order record() locks them: the other
            // order deadlocks with a record in flight on PostgreSQL, and an attempt whose record is
            // rolled back is sent again. A delivery just settled is no longer held, and need not be.
            await renewDeliveryClaims(trx, current, this.owner, this.leaseSeconds);
            return renewEndpointClaim(trx, endpointId, this.owner, this.leaseSeconds);
          },
          { durable: false },
        ),
      renewEveryMs(this.leaseSeconds),
      (err) => this.logger?.warn({ err, endpointId }, 'webhook delivery: a lease was not renewed; it is tried again at the next turn'),
    );
    try {
      let claimed = this.stopped ? [] : await this.prepare(endpointId);
      for (let sent = 0; claimed.length > 0; ) {
        current = claimed.map((c) => c.delivery.id);
        const attempts: [PreparedDelivery, Attempt][] = [];
        const first = Date.now();
        for (const prepared of claimed) {
          if (this.stopped || beat.lost) break;
          loop.sendingSince = Date.now();
          const attempt = await this.send(prepared);
          loop.sendingSince = null;
          attempts.push([prepared, attempt]);
          if (!attempt.result.ok || Date.now() - first >= RECORD_AFTER_MS) break;
        }
        sent += attempts.length;
        const unsent = claimed.slice(attempts.length).map((c) => c.delivery.id);
        const more = sent < this.batch && !this.stopped && !beat.lost;
        // The next deliveries are claimed in the record's transaction: one transaction a few deliveries.
        const { state, next } = await this.record(endpointId, attempts, unsent, more);
        current = next.map((n) => n.delivery.id);
        if (state !== 'held' || attempts.length === 0 || !attempts[attempts.length - 1]![1].result.ok) return;
        claimed = await this.withEvents(next);
      }
    } finally {
      await beat.stop();
      await releaseEndpointClaims(db, endpointId, this.owner, current);
    }
  }

  /**
   * Prepare: while this instance still holds the endpoint, claims its next due deliveries and reads
   * what sending needs (the endpoint as it is now, the events). Empty when there is nothing to send.
   */
  private async prepare(endpointId: number): Promise<PreparedDelivery[]> {
    const claimed = await transaction(
      this.ctx.db,
      async (trx) => ((await renewEndpointClaim(trx, endpointId, this.owner, this.leaseSeconds)) ? this.claimNext(trx, endpointId) : []),
      { durable: false },
    );
    return this.withEvents(claimed);
  }

  /** In the caller's transaction, while this instance holds the endpoint: its next due deliveries, and the endpoint as it is now. */
  private async claimNext(trx: Knex.Transaction, endpointId: number): Promise<Omit<PreparedDelivery, 'event'>[]> {
    const endpoint = await findWebhookEndpoint(trx, endpointId);
    if (!endpoint?.enabled) return [];
    const deliveries = await claimNextDeliveries(trx, endpointId, this.owner, this.leaseSeconds, this.now().iso, SEND_AHEAD);
    return deliveries.map((delivery) => ({ endpoint, delivery }));
  }

  /** The events claimed deliveries send (undefined once the retention sweep removed one). */
  private async withEvents(claimed: Omit<PreparedDelivery, 'event'>[]): Promise<PreparedDelivery[]> {
    if (claimed.length === 0) return [];
    const events = await findEvents(this.ctx.db, claimed.map((c) => c.delivery.eventId));
    return claimed.map((c) => ({ ...c, event: events.get(c.delivery.eventId) }));
  }

  /** Send: one POST of one delivery, signed; nothing is written. */
  private async send({ endpoint, event }: PreparedDelivery): Promise<Attempt> {
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
    return { result, startedIso: started.iso, done: this.now() };
  }

  /**
   * Record, right after the attempts (one, or the few sent within RECORD_AFTER_MS): the log, each
   * delivery's outcome — succeeded, the next retry of the schedule, or failed —, the claims of
   * those not sent handed back, the endpoint's failing streak and its lease. Not durable on its
   * own: an attempt whose record a power cut loses is only made again (at least once; receivers
   * deduplicate by webhook-id). 'lost' when another instance took the endpoint over meanwhile.
   */
  private async record(
    endpointId: number,
    attempts: readonly [PreparedDelivery, Attempt][],
    unsent: readonly number[],
    claimNext: boolean,
  ): Promise<{ state: 'held' | 'lost' | 'disabled'; next: Omit<PreparedDelivery, 'event'>[] }> {
    const outcomes = attempts.map(([{ delivery, event }, { result }]) => {
      const failures = result.ok ? delivery.scheduleStep : delivery.scheduleStep + 1;
      const delay = result.ok || !event ? null : retryDelaySeconds(this.options.retrySchedule, failures);
      return { failures, delay, status: (result.ok ? 'succeeded' : delay === null ? 'failed' : 'pending') as 'succeeded' | 'failed' | 'pending' };
    });
    const last = attempts[attempts.length - 1];
    const { held, failingFor, next } = await transaction(
      this.ctx.db,
      async (trx) => {
        await insertAttempts(
          trx,
          attempts.map(([{ delivery }, { result, startedIso }]) => ({
            deliveryId: delivery.id,
            attemptedAt: startedIso,
            httpStatus: result.httpStatus,
            error: result.error,
            durationMs: result.durationMs,
            response: result.response,
          })),
        );
        let settledAll = true;
        for (const [i, [{ delivery }, { startedIso, done }]] of attempts.entries()) {
          const { failures, delay, status } = outcomes[i]!;
          const settled = await settleDelivery(trx, delivery.id, this.owner, {
            status,
            attemptCount: delivery.attemptCount + 1,
            scheduleStep: failures,
            nextAttemptAt: delay === null ? null : done.plus(delay * 1000),
            attemptedAt: startedIso,
          });
          if (!settled) this.logger?.warn({ deliveryId: delivery.id }, 'webhook delivery: the lease was taken over meanwhile; the attempt is logged, its outcome left to the new holder');
          settledAll &&= settled;
        }
        await releaseDeliveryClaims(trx, unsent, this.owner);
        const held = settledAll && (await renewEndpointClaim(trx, endpointId, this.owner, this.leaseSeconds));
        const failingFor = last ? await this.noteStreak(trx, endpointId, attempts.map(([, a]) => a)) : null;
        // After successes, while it still holds the endpoint: the next deliveries, in this transaction.
        const next = held && last !== undefined && last[1].result.ok && claimNext ? await this.claimNext(trx, endpointId) : [];
        return { held, failingFor, next };
      },
      { durable: false },
    );
    for (const [i, [{ event }, { result, done }]] of attempts.entries()) {
      const { status } = outcomes[i]!;
      recordWebhookDelivery(status === 'pending' ? 'retrying' : status, result.ok && event ? (done.at.getTime() - Date.parse(event.createdAt)) / 1000 : undefined);
    }
    if (failingFor !== null && last && (await this.disable(endpointId, failingFor, last[1].done.iso))) return { state: 'disabled', next };
    return { state: held ? 'held' : 'lost', next };
  }

  /**
   * Keeps the endpoint's failing streak through these attempts, in order: cleared by a success,
   * begun by the first failure after one. The instant the streak began when, at the last attempt,
   * it has lasted the disable period, else null. One read of the endpoint, and a write only when
   * the streak changed.
   */
  private async noteStreak(trx: Knex.Transaction, endpointId: number, attempts: readonly Attempt[]): Promise<string | null> {
    const current = await lockWebhookEndpoint(trx, endpointId);
    if (!current) return null;
    let failingSince = current.failingSince;
    for (const { result, startedIso } of attempts) failingSince = result.ok ? null : (failingSince ?? startedIso);
    if (failingSince !== current.failingSince) await updateWebhookEndpoint(trx, endpointId, { failingSince, updatedAt: current.updatedAt });
    const now = attempts[attempts.length - 1]!.done.at;
    return failingSince !== null && current.enabled && now.getTime() - Date.parse(failingSince) >= this.disableAfterMs ? failingSince : null;
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
