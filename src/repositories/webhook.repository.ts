import type { Knex } from 'knex';
import { claim, dbNow, dialectOf, executePrepared, insertRows, preparedSql, releaseClaims, renewClaims, skipLocked, toIsoTimestamp, transaction } from '../db';
import { fetchPage, type Page, type PageResult } from './paging';

/**
 * Webhook endpoints, the fan-out cursor, deliveries (job rows with a lease) and their attempts
 * (the delivery log), SPEC §13.
 */

export interface WebhookEndpointRecord {
  id: number;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  bunitIds: number[] | null;
  enabled: boolean;
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: string | null;
  fromSequence: number;
  createdAt: string;
  updatedAt: string;
  disabledAt: string | null;
  disabledReason: string | null;
  failingSince: string | null;
}

interface EndpointRow {
  id: number;
  url: string;
  description: string | null;
  event_types: string | null;
  bunit_ids: string | null;
  enabled: boolean | number;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: Date | string | null;
  from_sequence: number | string;
  created_at: Date | string;
  updated_at: Date | string;
  disabled_at: Date | string | null;
  disabled_reason: string | null;
  failing_since: Date | string | null;
}

const ENDPOINT_COLUMNS = [
  'id', 'url', 'description', 'event_types', 'bunit_ids', 'enabled', 'secret', 'previous_secret', 'previous_secret_until',
  'from_sequence', 'created_at', 'updated_at', 'disabled_at', 'disabled_reason', 'failing_since',
];

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

const toEndpoint = (r: EndpointRow): WebhookEndpointRecord => ({
  id: r.id,
  url: r.url,
  description: r.description,
  eventTypes: json<string[]>(r.event_types),
  bunitIds: json<number[]>(r.bunit_ids),
  enabled: Boolean(r.enabled),
  secret: r.secret,
  previousSecret: r.previous_secret,
  previousSecretUntil: toIsoTimestamp(r.previous_secret_until),
  fromSequence: Number(r.from_sequence),
  createdAt: toIsoTimestamp(r.created_at)!,
  updatedAt: toIsoTimestamp(r.updated_at)!,
  disabledAt: toIsoTimestamp(r.disabled_at),
  disabledReason: r.disabled_reason,
  failingSince: toIsoTimestamp(r.failing_since),
});

export interface EndpointContent {
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  bunitIds: number[] | null;
}

const contentColumns = (c: EndpointContent) => ({
  url: c.url,
  description: c.description,
  event_types: c.eventTypes === null ? null : JSON.stringify(c.eventTypes),
  bunit_ids: c.bunitIds === null ? null : JSON.stringify(c.bunitIds),
});

export async function insertWebhookEndpoint(
  trx: Knex,
  values: EndpointContent & { secret: string; fromSequence: number; createdAt: string },
): Promise<number> {
  const [row] = await trx('webhook_endpoints')
    .insert({
      ...contentColumns(values),
      enabled: true,
      secret: values.secret,
      from_sequence: values.fromSequence,
      created_at: values.createdAt,
      updated_at: values.createdAt,
    })
    .returning('id');
  return typeof row === 'object' ? (row as { id: number }).id : (row as number);
}

/** An endpoint that was not deleted. */
export async function findWebhookEndpoint(db: Knex, id: number): Promise<WebhookEndpointRecord | undefined> {
  const row: EndpointRow | undefined = await db('webhook_endpoints').select(ENDPOINT_COLUMNS).where({ id }).whereNull('deleted_at').first();
  return row && toEndpoint(row);
}

export async function lockWebhookEndpoint(trx: Knex.Transaction, id: number): Promise<WebhookEndpointRecord | undefined> {
  const query = trx('webhook_endpoints').select(ENDPOINT_COLUMNS).where({ id }).whereNull('deleted_at');
  const row: EndpointRow | undefined = await (dialectOf(trx) === 'postgres' ? query.forUpdate() : query).first();
  return row && toEndpoint(row);
}

export async function listWebhookEndpoints(db: Knex, page: Page): Promise<PageResult<WebhookEndpointRecord>> {
  const query = db('webhook_endpoints').select(ENDPOINT_COLUMNS).whereNull('deleted_at');
  const result = await fetchPage<EndpointRow>(query, 'id', 'id', { field: 'id', descending: false }, page);
  return { rows: result.rows.map(toEndpoint), total: result.total };
}

export async function updateWebhookEndpoint(
  trx: Knex,
  id: number,
  values: Partial<EndpointContent> & {
    enabled?: boolean;
    disabledAt?: string | null;
    disabledReason?: string | null;
    failingSince?: string | null;
    fromSequence?: number;
    secret?: string;
    previousSecret?: string | null;
    previousSecretUntil?: string | null;
    deletedAt?: string;
    updatedAt: string;
  },
): Promise<void> {
  const row: Record<string, unknown> = { updated_at: values.updatedAt };
  if (values.url !== undefined) Object.assign(row, contentColumns(values as EndpointContent));
  const map: [keyof typeof values, string][] = [
    ['enabled', 'enabled'],
    ['disabledAt', 'disabled_at'],
    ['disabledReason', 'disabled_reason'],
    ['failingSince', 'failing_since'],
    ['fromSequence', 'from_sequence'],
    ['secret', 'secret'],
    ['previousSecret', 'previous_secret'],
    ['previousSecretUntil', 'previous_secret_until'],
    ['deletedAt', 'deleted_at'],
  ];
  for (const [key, column] of map) if (values[key] !== undefined) row[column] = values[key];
  await trx('webhook_endpoints').where({ id }).update(row);
}

// ---- fan-out: committed events → deliveries ----------------------------------------------------

/**
 * The fan-out cursor, locked for this transaction; null when another instance holds it (it is
 * fanning out right now). Created when missing (a database emptied by a test).
 */
export async function lockFanoutCursor(trx: Knex.Transaction): Promise<number | null> {
  await trx('webhook_fanout').insert({ id: 1, last_sequence: 0 }).onConflict('id').ignore();
  const row = await skipLocked(trx, trx('webhook_fanout').select('last_sequence').where({ id: 1 })).first();
  return row ? Number((row as { last_sequence: number | string }).last_sequence) : null;
}

export async function fanoutCursor(db: Knex): Promise<number> {
  const row = await db('webhook_fanout').select('last_sequence').where({ id: 1 }).first();
  return row ? Number((row as { last_sequence: number | string }).last_sequence) : 0;
}

export async function setFanoutCursor(trx: Knex, sequence: number): Promise<void> {
  await trx('webhook_fanout').where({ id: 1 }).update({ last_sequence: sequence });
}

export interface Subscriber {
  id: number;
  eventTypes: string[] | null;
  bunitIds: number[] | null;
  fromSequence: number;
}

/** The endpoints that take new events: enabled and not deleted. */
export async function subscribers(db: Knex): Promise<Subscriber[]> {
  const rows: Pick<EndpointRow, 'id' | 'event_types' | 'bunit_ids' | 'from_sequence'>[] = await db('webhook_endpoints')
    .select('id', 'event_types', 'bunit_ids', 'from_sequence')
    .where({ enabled: true })
    .whereNull('deleted_at')
    .orderBy('id');
  return rows.map((r) => ({ id: r.id, eventTypes: json(r.event_types), bunitIds: json(r.bunit_ids), fromSequence: Number(r.from_sequence) }));
}

/** The id, type and business units of the events after `after`, in order. */
export async function eventsAfter(db: Knex, after: number, limit: number): Promise<{ id: number; type: string; bunitIds: number[] }[]> {
  const rows: { id: number | string; type: string; bunit_ids: string }[] = await db('events')
    .select('id', 'type', 'bunit_ids')
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit);
  return rows.map((r) => ({ id: Number(r.id), type: r.type, bunitIds: JSON.parse(r.bunit_ids) as number[] }));
}

export async function insertDeliveries(trx: Knex, rows: { endpointId: number; eventId: number; eventType: string }[], nowIso: string): Promise<void> {
  await insertRows(
    trx,
    'webhook_deliveries',
    ['endpoint_id', 'event_id', 'event_type', 'status', 'attempt_count', 'schedule_step', 'next_attempt_at', 'created_at'],
    rows.map((r) => [r.endpointId, r.eventId, r.eventType, 'pending', 0, 0, nowIso, nowIso]),
    [],
    { ignoreConflictOn: ['endpoint_id', 'event_id'] },
  );
}

// ---- claims and attempts (src/db/claim.ts) -------------------------------------------------------

const ENDPOINTS = 'webhook_endpoints';
const DELIVERIES = 'webhook_deliveries';

/** Deliveries of the endpoint in the outer select that are due at `nowIso` and whose lease is free. */
function dueDeliveries(db: Knex, nowIso: string) {
  return db(`${DELIVERIES} as d`)
    .select(db.raw('1'))
    .whereRaw('d.endpoint_id = webhook_endpoints.id')
    .where('d.status', 'pending')
    .where('d.next_attempt_at', '<=', nowIso)
    .where((q) => q.whereNull('d.lease_until').orWhere('d.lease_until', '<', dbNow(db)));
}

export interface EndpointClaim {
  owner: string;
  leaseSeconds: number;
  /** Instant deliveries are due by (the dispatcher's clock: retries are scheduled on it). */
  nowIso: string;
  limit: number;
  /** Endpoints this instance is serving already: never claimed twice. */
  exclude: number[];
  /** Endpoints failing since their last success (true), or those that are not (false). */
  failing: boolean;
}

function endpointsDue(q: Knex.QueryBuilder, db: Knex, c: Pick<EndpointClaim, 'nowIso' | 'exclude' | 'failing'>) {
  q.where('enabled', true).whereNull('deleted_at').whereExists(dueDeliveries(db, c.nowIso));
  if (c.exclude.length > 0) q.whereNotIn('id', c.exclude);
  if (c.failing) q.whereNotNull('failing_since');
  else q.whereNull('failing_since');
}

/** Whether some endpoint (of those not excluded) could be claimed now: a read, so that an idle poll writes nothing. */
export async function claimableEndpoints(db: Knex, c: Pick<EndpointClaim, 'nowIso' | 'exclude'>): Promise<{ healthy: boolean; failing: boolean }> {
  const q = db(ENDPOINTS)
    .select(db.raw('CASE WHEN failing_since IS NULL THEN 0 ELSE 1 END AS failing'))
    .where('enabled', true)
    .whereNull('deleted_at')
    .where((w) => w.whereNull('lease_until').orWhere('lease_until', '<', dbNow(db)))
    .whereExists(dueDeliveries(db, c.nowIso))
    .groupByRaw('CASE WHEN failing_since IS NULL THEN 0 ELSE 1 END');
  if (c.exclude.length > 0) q.whereNotIn('id', c.exclude);
  const rows: { failing: number | string }[] = await q;
  return { healthy: rows.some((r) => Number(r.failing) === 0), failing: rows.some((r) => Number(r.failing) === 1) };
}

/**
 * Claims endpoints that have deliveries due and that no live lease holds, least recently claimed
 * first (so that none waits behind the others): from now on this owner alone sends to them, while
 * it renews the lease, so that their events leave in order.
 */
export async function claimEndpoints(db: Knex, c: EndpointClaim): Promise<WebhookEndpointRecord[]> {
  if (c.limit <= 0) return [];
  const rows = await claim<EndpointRow>(db, {
    table: ENDPOINTS,
    owner: c.owner,
    leaseSeconds: c.leaseSeconds,
    limit: c.limit,
    where: (q, trx) => endpointsDue(q, trx, c),
    orderBy: 'claimed_at IS NOT NULL, claimed_at, id',
    set: (trx) => ({ claimed_at: dbNow(trx) }),
    returning: ENDPOINT_COLUMNS,
  });
  return rows.map(toEndpoint).sort((a, b) => a.id - b.id);
}

/** Extends the endpoint's lease; false when this owner no longer holds it (another instance took it over). */
export async function renewEndpointClaim(db: Knex, endpointId: number, owner: string, leaseSeconds: number): Promise<boolean> {
  return (await renewClaims(db, { table: ENDPOINTS, ids: [endpointId], owner, leaseSeconds })) === 1;
}

/** Extends the leases of the deliveries being sent; how many this owner still held. */
export async function renewDeliveryClaims(db: Knex, deliveryIds: readonly number[], owner: string, leaseSeconds: number): Promise<number> {
  return renewClaims(db, { table: DELIVERIES, ids: deliveryIds, owner, leaseSeconds });
}

export interface ClaimedDelivery {
  id: number;
  eventId: number;
  attemptCount: number;
  scheduleStep: number;
}

/**
 * Claims the endpoint's next deliveries, up to `limit`: the due ones with the lowest sequence, in
 * sequence order, and only while their leases are free (a delivery an earlier holder still holds
 * is waited for, never overtaken: events leave in order). Empty when there is none to send now.
 */
export async function claimNextDeliveries(
  db: Knex,
  endpointId: number,
  owner: string,
  leaseSeconds: number,
  nowIso: string,
  limit: number,
): Promise<ClaimedDelivery[]> {
  return transaction(db, async (trx) => {
    const eventIds = await nextDueEventIds(trx, endpointId, nowIso, limit);
    if (eventIds.length === 0) return [];
    const rows = await claim<{ id: number; event_id: number | string; attempt_count: number; schedule_step: number }>(trx, {
      table: DELIVERIES,
      owner,
      leaseSeconds,
      limit: eventIds.length,
      returning: ['id', 'event_id', 'attempt_count', 'schedule_step'],
      where: (q) => q.where({ endpoint_id: endpointId, status: 'pending' }).whereIn('event_id', eventIds).where('next_attempt_at', '<=', nowIso),
    });
    const claimed = rows
      .map((r) => ({ id: r.id, eventId: Number(r.event_id), attemptCount: r.attempt_count, scheduleStep: r.schedule_step }))
      .sort((a, b) => a.eventId - b.eventId);
    // Only an unbroken run from the first: a delivery missing from it (its lease held elsewhere)
    // must not be overtaken by the ones after it, which are handed back.
    const run = claimed.findIndex((d, i) => d.eventId !== eventIds[i]);
    if (run === -1) return claimed;
    await releaseClaims(trx, { table: DELIVERIES, ids: claimed.slice(run).map((d) => d.id), owner });
    return claimed.slice(0, run);
  });
}

/**
 * The lowest events of the endpoint's pending deliveries that are due, up to `limit`, in order.
 * Read in event order from the index on (endpoint_id, status, event_id), a page at a time, so that
 * a claim costs the same whatever the backlog: a min() over the due ones let SQLite (planning
 * without statistics) take the (status, next_attempt_at) index and read every endpoint's due
 * deliveries for each claim, so that a backlog slowed its own draining (bench scenario 10).
 */
async function nextDueEventIds(trx: Knex, endpointId: number, nowIso: string, limit: number): Promise<number[]> {
  const page = Math.max(limit, 20);
  const due: number[] = [];
  for (let after = -1; ; ) {
    const rows: { event_id: number | string; next_attempt_at: Date | string }[] = await trx(DELIVERIES)
      .select('event_id', 'next_attempt_at')
      .where({ endpoint_id: endpointId, status: 'pending' })
      .where('event_id', '>', after)
      .orderBy('event_id')
      .limit(page);
    for (const r of rows) {
      if (toIsoTimestamp(r.next_attempt_at)! <= nowIso) due.push(Number(r.event_id));
      if (due.length === limit) return due;
    }
    if (rows.length < page) return due;
    after = Number(rows[rows.length - 1]!.event_id);
  }
}

/** Hands back what an owner holds of an endpoint: the deliveries not sent (if any), then the endpoint. */
export async function releaseEndpointClaims(db: Knex, endpointId: number, owner: string, deliveryIds: readonly number[]): Promise<void> {
  await transaction(db, async (trx) => {
    await releaseClaims(trx, { table: DELIVERIES, ids: deliveryIds, owner });
    await releaseClaims(trx, { table: ENDPOINTS, ids: [endpointId], owner });
  });
}

/** Hands back deliveries claimed and not sent. */
export async function releaseDeliveryClaims(db: Knex, deliveryIds: readonly number[], owner: string): Promise<void> {
  await releaseClaims(db, { table: DELIVERIES, ids: deliveryIds, owner });
}

export interface AttemptRecord {
  attemptedAt: string;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  response: string | null;
}

/** The attempts of one record, in one statement (a prepared INSERT a row on SQLite). */
export async function insertAttempts(trx: Knex, attempts: readonly (AttemptRecord & { deliveryId: number })[]): Promise<void> {
  await insertRows(
    trx,
    'webhook_attempts',
    ['delivery_id', 'attempted_at', 'http_status', 'error', 'duration_ms', 'response'],
    attempts.map((a) => [a.deliveryId, a.attemptedAt, a.httpStatus, a.error, a.durationMs, a.response]),
  );
}

export interface DeliveryOutcome {
  status: 'pending' | 'succeeded' | 'failed';
  attemptCount: number;
  scheduleStep: number;
  nextAttemptAt: string | null;
  attemptedAt: string;
}

/**
 * The outcome of an attempt, for the delivery this owner holds (and only then: a delivery whose
 * lease another instance took over is that instance's now); false when it was not held. A fixed
 * statement, prepared once: it runs for every delivery.
 */
export async function settleDelivery(trx: Knex, id: number, owner: string, outcome: DeliveryOutcome): Promise<boolean> {
  const changed = await executePrepared(trx, SETTLE_DELIVERY, [
    outcome.status,
    outcome.attemptCount,
    outcome.scheduleStep,
    outcome.nextAttemptAt,
    outcome.attemptedAt,
    outcome.status === 'failed' ? outcome.attemptedAt : null,
    id,
    owner,
  ]);
  return changed > 0;
}
const SETTLE_DELIVERY = preparedSql(
  `UPDATE webhook_deliveries SET status = ?, attempt_count = ?, schedule_step = ?, next_attempt_at = ?, last_attempt_at = ?, failed_at = ?,
     lease_owner = NULL, lease_until = NULL
   WHERE id = ? AND lease_owner = ?`,
);

// ---- the delivery log ------------------------------------------------------------------------

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveryRecord {
  id: number;
  endpointId: number;
  eventId: number;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  attempts: AttemptRecord[];
}

interface DeliveryRow {
  id: number;
  endpoint_id: number;
  event_id: number | string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date | string | null;
  created_at: Date | string;
  last_attempt_at: Date | string | null;
}

const DELIVERY_COLUMNS = ['id', 'endpoint_id', 'event_id', 'event_type', 'status', 'attempt_count', 'next_attempt_at', 'created_at', 'last_attempt_at'];

async function withAttempts(db: Knex, rows: DeliveryRow[]): Promise<DeliveryRecord[]> {
  const attempts = new Map<number, AttemptRecord[]>();
  if (rows.length > 0) {
    const found: { delivery_id: number; attempted_at: Date | string; http_status: number | null; error: string | null; duration_ms: number; response: string | null }[] =
      await db('webhook_attempts')
        .select('delivery_id', 'attempted_at', 'http_status', 'error', 'duration_ms', 'response')
        .whereIn('delivery_id', rows.map((r) => r.id))
        .orderBy('id');
    for (const a of found) {
      const list = attempts.get(a.delivery_id) ?? [];
      list.push({ attemptedAt: toIsoTimestamp(a.attempted_at)!, httpStatus: a.http_status, error: a.error, durationMs: a.duration_ms, response: a.response });
      attempts.set(a.delivery_id, list);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: Number(r.event_id),
    eventType: r.event_type,
    status: r.status,
    attemptCount: r.attempt_count,
    nextAttemptAt: r.status === 'pending' ? toIsoTimestamp(r.next_attempt_at) : null,
    createdAt: toIsoTimestamp(r.created_at)!,
    lastAttemptAt: toIsoTimestamp(r.last_attempt_at),
    attempts: attempts.get(r.id) ?? [],
  }));
}

export async function listDeliveries(
  db: Knex,
  filter: { endpointId: number; status?: DeliveryStatus | undefined; eventId?: number | undefined },
  page: Page,
): Promise<PageResult<DeliveryRecord>> {
  const query = db('webhook_deliveries').select(DELIVERY_COLUMNS).where({ endpoint_id: filter.endpointId });
  if (filter.status) query.where({ status: filter.status });
  if (filter.eventId !== undefined) query.where({ event_id: filter.eventId });
  const result = await fetchPage<DeliveryRow>(query, 'id', 'id', { field: 'id', descending: false }, page);
  return { rows: await withAttempts(db, result.rows), total: result.total };
}

export async function findDelivery(db: Knex, id: number): Promise<DeliveryRecord | undefined> {
  const rows: DeliveryRow[] = await db('webhook_deliveries').select(DELIVERY_COLUMNS).where({ id });
  return (await withAttempts(db, rows))[0];
}

/**
 * Sends deliveries again now, with the retry schedule begun anew: one (a retry), or every failed
 * delivery of an endpoint whose last attempt was at or after `since` (a recovery). How many.
 */
export async function resendDeliveries(
  trx: Knex,
  filter: { id: number } | { endpointId: number; failedSince: string },
  nowIso: string,
): Promise<number> {
  const query = trx('webhook_deliveries');
  if ('id' in filter) query.where({ id: filter.id });
  else query.where({ endpoint_id: filter.endpointId, status: 'failed' }).where('failed_at', '>=', filter.failedSince);
  return query.update({ status: 'pending', schedule_step: 0, next_attempt_at: nowIso, failed_at: null });
}
