import type { Knex } from 'knex';
import { insertRows, preparedSql, queryBuilt, queryPrepared, toIsoTimestamp } from '../db';

/**
 * The events outbox (SPEC §13). Sequence numbers come from one counter row that the writing
 * transaction updates as its last step: the row stays locked until that transaction commits, so a
 * second writer gets the next numbers only once the first has committed (or rolled back, giving
 * its numbers back). Numbers are therefore handed out in commit order, without gaps, on
 * PostgreSQL as on SQLite, and a reader that has seen sequence n has seen every event before it.
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

/** Takes `n` numbers; the row is created when missing (a database emptied by a test). */
const TAKE_SEQUENCES = preparedSql(
  `INSERT INTO event_counter (id, last_sequence) VALUES (1, ?)
   ON CONFLICT (id) DO UPDATE SET last_sequence = event_counter.last_sequence + excluded.last_sequence
   RETURNING last_sequence`,
);

/** Writes events in the caller's transaction, numbered in order; their ids. Call it last before the commit. */
export async function insertEvents(trx: Knex.Transaction, events: readonly NewEvent[]): Promise<number[]> {
  if (events.length === 0) return [];
  const [taken] = await queryPrepared<{ last_sequence: number | string }>(trx, TAKE_SEQUENCES, [events.length]);
  const first = Number(taken!.last_sequence) - events.length + 1;
  const ids = events.map((_, i) => first + i);
  await insertRows(
    trx,
    'events',
    ['id', 'type', 'created_at', 'bunit_ids', 'data'],
    events.map((e, i) => [ids[i], e.type, e.createdAt, JSON.stringify(e.bunitIds), e.data]),
  );
  const named = events.flatMap((e, i) => [...new Set(e.bunitIds)].map((b) => [b, ids[i], e.type]));
  await insertRows(trx, 'event_bunits', ['bunit_id', 'event_id', 'type'], named);
  return ids;
}

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

/** The highest sequence handed out and committed (0 before the first event). */
export async function lastSequence(db: Knex): Promise<number> {
  const [row] = await queryPrepared<{ last_sequence: number | string }>(db, preparedSql('SELECT last_sequence FROM event_counter WHERE id = 1'), []);
  return row ? Number(row.last_sequence) : 0;
}

/** Deletes up to `limit` events created before `before` (their deliveries and attempts go with them); how many. */
export async function deleteEventsBefore(db: Knex, before: string, limit: number): Promise<number> {
  const ids = db('events').select('id').where('created_at', '<', before).orderBy('id').limit(limit);
  return db('events').whereIn('id', ids).delete();
}
