import type { Knex } from 'knex';
import { dialectOf, insertRows, preparedSql, queryBuilt, queryPrepared, toIsoTimestamp } from '../db';

/**
 * The events outbox (SPEC §13). A change writes its events into `pending_events`, in its own
 * transaction, with no lock to wait for. A publisher (publishPendingEvents) moves the committed
 * ones into `events`, numbering them from one counter row that it holds locked until it commits:
 * publishers take turns, each numbers only what was committed when it began, and a later one
 * numbers on from there. Numbers are therefore dense and follow the order in which events become
 * visible in `events`, on PostgreSQL as on SQLite: a reader that has seen sequence n has seen
 * every event before it, and an event committed later always gets a higher number.
 */

export interface NewEvent {
  type: string;
  createdAt: string;
  bunitIds: readonly number[];
  /** The resource as JSON text. */
  data: string;
}

export interface EventRecord {
  id: number;
  type: string;
  createdAt: string;
  bunitIds: number[];
  /** The resource as JSON text (sent as it is, never parsed and written again). */
  data: string;
}

/** Takes `n` numbers (0: none, the row locked all the same); the row is created when missing (a database emptied by a test). */
const TAKE_SEQUENCES = preparedSql(
  `INSERT INTO event_counter (id, last_sequence) VALUES (1, ?)
   ON CONFLICT (id) DO UPDATE SET last_sequence = event_counter.last_sequence + excluded.last_sequence
   RETURNING last_sequence`,
);

/**
 * Writes events in the caller's transaction, to be numbered once it has committed: first those
 * staged under `staged` (their `createdAt` becomes `createdAt`), then `events`. Answers how many
 * of each type it wrote.
 */
export async function insertEvents(
  trx: Knex.Transaction,
  events: readonly NewEvent[],
  staged?: { batch: string; createdAt: string },
): Promise<Map<string, number>> {
  const written = new Map<string, number>();
  if (staged) {
    for (const row of await queryPrepared<{ type: string; n: number | string }>(trx, STAGED_TYPES, [staged.batch])) {
      written.set(row.type, Number(row.n));
    }
    if (written.size > 0) {
      // One statement, whatever the number of events, in their order.
      const at = dialectOf(trx) === 'postgres' ? 'CAST(? AS timestamptz)' : '?';
      await trx.raw(PEND_STAGED.replace('{at}', at), [staged.createdAt, staged.batch]);
      await trx('staged_event_bunits').where({ batch: staged.batch }).delete();
      await trx('staged_events').where({ batch: staged.batch }).delete();
    }
  }
  for (const e of events) written.set(e.type, (written.get(e.type) ?? 0) + 1);
  await insertRows(
    trx,
    'pending_events',
    ['type', 'created_at', 'bunit_ids', 'data'],
    events.map((e) => [e.type, e.createdAt, JSON.stringify([...new Set(e.bunitIds)]), e.data]),
  );
  return written;
}

const STAGED_TYPES = preparedSql('SELECT type, count(*) AS n FROM staged_events WHERE batch = ? GROUP BY type');
const PEND_STAGED = 'INSERT INTO pending_events (type, created_at, bunit_ids, data) SELECT type, {at}, bunit_ids, data FROM staged_events WHERE batch = ? ORDER BY ord';

const ANY_PENDING = preparedSql('SELECT id FROM pending_events LIMIT 1');
const PENDING_BATCH = preparedSql('SELECT id, type, created_at, bunit_ids, data FROM pending_events ORDER BY id LIMIT ?');

/** Whether committed events wait to be numbered (a read, no lock). */
export async function hasPendingEvents(db: Knex): Promise<boolean> {
  return (await queryPrepared(db, ANY_PENDING, [])).length > 0;
}

/**
 * Numbers up to `limit` committed pending events into `events`, in the order they were written,
 * in the caller's transaction, which holds the counter locked until it commits; how many.
 */
export async function publishPendingEvents(trx: Knex.Transaction, limit: number): Promise<number> {
  await queryPrepared(trx, TAKE_SEQUENCES, [0]);
  // Read after the lock is held: what a publisher before this one moved is gone by now.
  const rows = await queryPrepared<{ id: number | string; type: string; created_at: Date | string; bunit_ids: string; data: string }>(trx, PENDING_BATCH, [limit]);
  if (rows.length === 0) return 0;
  const [taken] = await queryPrepared<{ last_sequence: number | string }>(trx, TAKE_SEQUENCES, [rows.length]);
  const first = Number(taken!.last_sequence) - rows.length + 1;
  await insertRows(
    trx,
    'events',
    ['id', 'type', 'created_at', 'bunit_ids', 'data'],
    rows.map((r, i) => [first + i, r.type, toIsoTimestamp(r.created_at), r.bunit_ids, r.data]),
  );
  const named = rows.flatMap((r, i) => (JSON.parse(r.bunit_ids) as number[]).map((b) => [b, first + i, r.type]));
  await insertRows(trx, 'event_bunits', ['bunit_id', 'event_id', 'type'], named);
  await trx('pending_events')
    .whereIn(
      'id',
      rows.map((r) => Number(r.id)),
    )
    .delete();
  return rows.length;
}

/**
 * Prepares events of a long job in one of its short transactions, numbered on after those staged
 * before under `batch`; the transaction that makes the job's change visible publishes them
 * (insertEvents with `staged`). Until then nobody sees them.
 */
export async function stageEvents(trx: Knex.Transaction, batch: string, events: readonly Omit<NewEvent, 'createdAt'>[]): Promise<void> {
  if (events.length === 0) return;
  const [last] = await queryPrepared<{ ord: number | string | null }>(trx, LAST_STAGED, [batch]);
  const from = last?.ord === null || last?.ord === undefined ? 0 : Number(last.ord) + 1;
  await insertRows(
    trx,
    'staged_events',
    ['batch', 'ord', 'type', 'bunit_ids', 'data'],
    events.map((e, i) => [batch, from + i, e.type, JSON.stringify(e.bunitIds), e.data]),
  );
  await insertRows(
    trx,
    'staged_event_bunits',
    ['batch', 'ord', 'bunit_id', 'type'],
    events.flatMap((e, i) => [...new Set(e.bunitIds)].map((b) => [batch, from + i, b, e.type])),
  );
}
const LAST_STAGED = preparedSql('SELECT max(ord) AS ord FROM staged_events WHERE batch = ?');

export interface EventFilter {
  after: number;
  limit: number;
  types?: readonly string[] | undefined;
  /** The business units the key acts for; 'all' for admin keys. */
  scope: readonly number[] | 'all';
}

interface EventRow {
  id: number | string;
  type: string;
  created_at: Date | string;
  bunit_ids: string;
  data: string;
}

const COLUMNS = ['e.id', 'e.type', 'e.created_at', 'e.bunit_ids', 'e.data'];

const toRecord = (r: EventRow): EventRecord => ({
  id: Number(r.id),
  type: r.type,
  createdAt: toIsoTimestamp(r.created_at)!,
  bunitIds: JSON.parse(r.bunit_ids) as number[],
  data: r.data,
});

/** The events after a sequence the key may see, in sequence order. */
export async function listEvents(db: Knex, filter: EventFilter): Promise<EventRecord[]> {
  const query = db({ e: 'events' }).select(COLUMNS).orderBy('e.id').limit(filter.limit);
  if (filter.scope === 'all') {
    query.where('e.id', '>', filter.after);
    if (filter.types) query.whereIn('e.type', filter.types);
  } else {
    if (filter.scope.length === 0) return [];
    // The page is chosen in the index of (business unit, event) and only then read.
    const page = db('event_bunits')
      .select('event_id')
      .whereIn('bunit_id', [...filter.scope])
      .where('event_id', '>', filter.after)
      .groupBy('event_id')
      .orderBy('event_id')
      .limit(filter.limit);
    if (filter.types) page.whereIn('type', filter.types);
    query.whereIn('e.id', page);
  }
  return (await queryBuilt<EventRow>(query)).map(toRecord);
}

export async function findEvents(db: Knex, ids: readonly number[]): Promise<Map<number, EventRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await queryBuilt<EventRow>(db({ e: 'events' }).select(COLUMNS).whereIn('e.id', [...ids]));
  return new Map(rows.map((r) => [Number(r.id), toRecord(r)]));
}

/** The highest sequence handed out and committed (0 before the first event; events still pending come after it). */
export async function lastSequence(db: Knex): Promise<number> {
  const [row] = await queryPrepared<{ last_sequence: number | string }>(db, preparedSql('SELECT last_sequence FROM event_counter WHERE id = 1'), []);
  return row ? Number(row.last_sequence) : 0;
}

/** Deletes up to `limit` events created before `before` (their deliveries and attempts go with them); how many. */
export async function deleteEventsBefore(db: Knex, before: string, limit: number): Promise<number> {
  const ids = db('events').select('id').where('created_at', '<', before).orderBy('id').limit(limit);
  return db('events').whereIn('id', ids).delete();
}
