import type { Knex } from 'knex';
import { dialectOf } from './dialect';
import { preparedSql, queryPrepared } from './prepared';

export type LockableTable = 'contracts' | 'business_units';

/**
 * Take the write lock that serialises every change to one row's aggregate (a contract and its
 * referrals, say) until the transaction ends; false when the row does not exist. PostgreSQL: a
 * row lock (SELECT … FOR UPDATE), so changes to other contracts go on in parallel. SQLite: the
 * transaction began IMMEDIATE and holds the database's write lock already; the row is looked up.
 */
export async function lockRow(trx: Knex.Transaction, table: LockableTable, id: number): Promise<boolean> {
  const forUpdate = dialectOf(trx) === 'postgres' ? ' FOR UPDATE' : '';
  return (await queryPrepared(trx, preparedSql(`SELECT id FROM ${table} WHERE id = ?${forUpdate}`), [id])).length > 0;
}

/**
 * lockRow for many rows in one statement, in id order (so two lockers never deadlock): PostgreSQL
 * `FOR UPDATE`; SQLite: a no-op, the transaction already holds the database's write lock.
 */
export async function lockRows(trx: Knex.Transaction, table: LockableTable, ids: readonly number[]): Promise<void> {
  if (dialectOf(trx) !== 'postgres' || ids.length === 0) return;
  await trx(table).select('id').whereIn('id', [...new Set(ids)].sort((a, b) => a - b)).orderBy('id').forUpdate();
}

/**
 * Share-lock rows (ordered by id, so two lockers never deadlock): writers that take lockRow on
 * one of them wait until this transaction ends. SQLite: a no-op, the transaction already holds
 * the database's write lock.
 */
export async function lockRowsShared(trx: Knex.Transaction, table: string, ids: number[]): Promise<void> {
  if (dialectOf(trx) !== 'postgres' || ids.length === 0) return;
  await trx(table).select('id').whereIn('id', [...new Set(ids)].sort((a, b) => a - b)).orderBy('id').forShare();
}

/**
 * Fresh statistics of tables a long job is filling, for the planner's next statements (and the
 * foreign-key checks' cached plans, which ANALYZE invalidates): a plan made while the table was
 * empty would scan it for every row. PostgreSQL's ANALYZE takes no lock that writers or readers
 * wait for. SQLite plans without them.
 */
export async function refreshStatistics(db: Knex, tables: string[]): Promise<void> {
  if (dialectOf(db) === 'postgres') await db.raw(`ANALYZE ${tables.join(', ')}`);
}

/**
 * Share-locks every row of `table` with an id in first..last (ordered by id): writers that take
 * lockRow on one of them wait until this transaction ends (PostgreSQL). SQLite: a no-op, the
 * transaction holds the write lock.
 */
export async function lockRangeShared(trx: Knex.Transaction, table: LockableTable, first: number, last: number): Promise<void> {
  if (dialectOf(trx) !== 'postgres') return;
  await queryPrepared(trx, preparedSql(`SELECT id FROM ${table} WHERE id BETWEEN ? AND ? ORDER BY id FOR SHARE`), [first, last]);
}

/**
 * Claims rows as a queue does: PostgreSQL locks the rows the select returns and skips those
 * another transaction holds (FOR UPDATE SKIP LOCKED), so that workers claim different rows
 * without waiting for each other. SQLite: the query as it is (the transaction holds the write lock).
 */
export function skipLocked(trx: Knex.Transaction, query: Knex.QueryBuilder): Knex.QueryBuilder {
  return dialectOf(trx) === 'postgres' ? query.forUpdate().skipLocked() : query;
}

/** The advisory lock key of the periods (SPEC §16): any number, the same in every process. */
const PERIOD_LOCK_KEY = 160_116;

/**
 * The lock that orders a period's close against the changes it must see whole: a close claims a
 * period holding it exclusively; a run, an acceptance or a dispute holds it shared while it checks
 * that its period is open and writes. So a close sees each of them entirely or not at all, and
 * none of them begins in a period a close has claimed. PostgreSQL: a transaction-level advisory
 * lock (shared holders never wait for each other). SQLite: a no-op, the transaction holds the
 * database's write lock already.
 */
export async function lockPeriods(trx: Knex.Transaction, mode: 'shared' | 'exclusive'): Promise<void> {
  if (dialectOf(trx) !== 'postgres') return;
  await trx.raw(mode === 'shared' ? 'SELECT pg_advisory_xact_lock_shared(?)' : 'SELECT pg_advisory_xact_lock(?)', [PERIOD_LOCK_KEY]);
}
