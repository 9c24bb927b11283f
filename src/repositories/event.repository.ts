import type { Knex } from 'knex';
import { executePrepared, insertRows, preparedSql, queryBuilt, queryPrepared, toIsoTimestamp } from '../db';

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
 * staged under `staged` (released by one row, whatever their number: the publisher numbers them
 * from where they were staged, with `createdAt` as their instant), then `events`. Answers how many
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
      await trx('pending_events').insert({ type: RELEASE, created_at: staged.createdAt, bunit_ids: '[]', data: '', staged_batch: staged.batch });
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

/** The type of a pending row that releases a staged batch (never an event's: it is numbered as its batch's events). */
const RELEASE = 'staged-batch';
const STAGED_TYPES = preparedSql('SELECT type, count(*) AS n FROM staged_events WHERE batch = ? GROUP BY type');
const STAGED_PAGE = preparedSql('SELECT ord, type, bunit_ids, data FROM staged_events WHERE batch = ? ORDER BY ord LIMIT ?');
const UNSTAGE_THROUGH = preparedSql('DELETE FROM staged_events WHERE batch = ? AND ord <= ?');

const ANY_PENDING = preparedSql('SELECT id FROM pending_events LIMIT 1');
const PENDING_BATCH = preparedSql('SELECT id, type, created_at, bunit_ids, data, staged_batch FROM pending_events ORDER BY id LIMIT ?');

/** Whether committed events wait to be numbered (a read, no lock). */
export async function hasPendingEvents(db: Knex): Promise<boolean> {
  return (await queryPrepared(db, ANY_PENDING, [])).length > 0;
}

interface PendingRow {
  id: number | string;
  type: string;
  created_at: Date | string;
  bunit_ids: string;
  data: string;
  staged_batch: string | null;
}

/**
 * Numbers up to `limit` committed pending events into `events`, in the order they were written,
 * in the caller's transaction, which holds the counter locked until it commits: how many, and
 * whether more may be waiting. A released batch is numbered in its staged order where its row
 * stands, as much of it as the limit leaves room for; what is after it waits until the batch is
 * all numbered.
 */
export async function publishPendingEvents(trx: Knex.Transaction, limit: number): Promise<{ published: number; more: boolean }> {
  await queryPrepared(trx, TAKE_SEQUENCES, [0]);
  // Read after the lock is held: what a publisher before this one moved is gone by now.
  const pending = await queryPrepared<PendingRow>(trx, PENDING_BATCH, [limit]);
  const next: { type: string; createdAt: string; bunitIds: string; data: string }[] = [];
  const done: number[] = [];
  // A full page of pending rows may have more after it.
  let more = pending.length === limit;
  for (const row of pending) {
    if (next.length >= limit) {
      more = true;
      break;
    }
    const createdAt = toIsoTimestamp(row.created_at)!;
    if (row.staged_batch === null) {
      next.push({ type: row.type, createdAt, bunitIds: row.bunit_ids, data: row.data });
      done.push(Number(row.id));
      continue;
    }
    const room = limit - next.length;
    const page = await queryPrepared<{ ord: number | string; type: string; bunit_ids: string; data: string }>(trx, STAGED_PAGE, [row.staged_batch, room]);
    for (const e of page) next.push({ type: e.type, createdAt, bunitIds: e.bunit_ids, data: e.data });
    if (page.length > 0) await executePrepared(trx, UNSTAGE_THROUGH, [row.staged_batch, Number(page[page.length - 1]!.ord)]);
    if (page.length < room) {
      done.push(Number(row.id));
      continue;
    }
    more = true; // The limit is reached inside the batch: the rest of it, and what follows, next time.
    break;
  }
  if (next.length > 0) {
    const [taken] = await queryPrepared<{ last_sequence: number | string }>(trx, TAKE_SEQUENCES, [next.length]);
    const first = Number(taken!.last_sequence) - next.length + 1;
    await insertRows(
      trx,
      'events',
      ['id', 'type', 'created_at', 'bunit_ids', 'data'],
      next.map((e, i) => [first + i, e.type, e.createdAt, e.bunitIds, e.data]),
    );
    const named = next.flatMap((e, i) => (JSON.parse(e.bunitIds) as number[]).map((b) => [b, first + i, e.type]));
    await insertRows(trx, 'event_bunits', ['bunit_id', 'event_id', 'type'], named);
  }
  if (done.length > 0) await trx('pending_events').whereIn('id', done).delete();
  return { published: next.length, more };
}

/**
 * Prepares events of a long job in one of its short transactions, numbered on after those staged
 * before under `batch`; the transaction that makes the job's change visible releases them
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
    events.map((e, i) => [batch, from + i, e.type, JSON.stringify([...new Set(e.bunitIds)]), e.data]),
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
