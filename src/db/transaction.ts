import type { Knex } from 'knex';
import { dialectOf } from './dialect';
import { retryWhileBusy, sqliteStatement, type SqliteConnection } from './sqlite';

/** The pinned SQLite Knexes, which are transactions while their connection is set. */
const pinnedKnexes = new WeakSet<object>();

/** True for a Knex that is an open transaction (Knex's own, or SQLite's pinned one). */
export function isTransaction(db: Knex): boolean {
  return (db as { isTransaction?: boolean }).isTransaction === true || pinnedKnexes.has(db);
}

/**
 * Runs `work` in a transaction and returns what it returns; if it throws, the transaction is
 * rolled back and the error passes on. Services start every transaction here.
 *
 * Transactions compose: called with a Knex that already is a transaction, `work` simply runs in
 * it (as Directus' transaction() does with knex.isTransaction), so a service can be called from
 * inside another service's transaction and everything commits or rolls back together.
 *
 * PostgreSQL: Knex's db.transaction(). SQLite: Knex builds a whole new Knex instance for each
 * transaction (some 60 µs and a lot of garbage, more than a small write costs), while SQLite's
 * single connection can only ever hold one transaction at a time. So one Knex instance pinned to
 * that connection serves every transaction in turn: the pool's connection is taken (other queries
 * and transactions wait for it, as with Knex's), BEGIN IMMEDIATE, work, COMMIT or ROLLBACK, given
 * back. BEGIN IMMEDIATE takes the write lock before anything is read, so no other process can
 * commit between this transaction's reads and its writes; while another process holds the lock,
 * the begin is tried again asynchronously, with the connection given back in between.
 */
export async function transaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  if (isTransaction(db)) return work(db as Knex.Transaction);
  if (dialectOf(db) === 'postgres') {
    if (options.durable !== false) return db.transaction(work);
    return db.transaction(async (trx) => {
      await trx.raw('SET LOCAL synchronous_commit = off');
      return work(trx);
    });
  }
  return sqliteTransaction(db, work, options);
}

export interface TransactionOptions {
  /**
   * false: the commit returns before it is on disk (SQLite synchronous=NORMAL, PostgreSQL
   * synchronous_commit=off). A crash or power cut may then lose this commit and the ones just
   * before it, never corrupt anything, and never lose a commit after which a durable one was
   * made (both databases write one log in order). Only for work that is done again when lost:
   * a settlement partition, which the resumed run redoes. Default: durable.
   */
  durable?: boolean;
}

async function sqliteTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>, options: TransactionOptions): Promise<T> {
  const pinned = pinnedSqlite(db);
  const relaxed = options.durable === false;
  const conn = await retryWhileBusy(db.client, async () => {
    const conn = (await db.client.acquireConnection()) as SqliteConnection;
    try {
      if (relaxed) conn.pragma('synchronous = NORMAL');
      sqliteStatement(conn, 'BEGIN IMMEDIATE').run([]);
      return conn;
    } catch (err) {
      if (relaxed) conn.pragma('synchronous = FULL');
      await db.client.releaseConnection(conn);
      throw err;
    }
  });
  try {
    pinned.conn = conn;
    let result: T;
    try {
      result = await work(pinned.knex as Knex.Transaction);
      pinned.conn = null;
      await retryWhileBusy(db.client, () => sqliteStatement(conn, 'COMMIT').run([]));
    } catch (err) {
      pinned.conn = null;
      if (conn.inTransaction) sqliteStatement(conn, 'ROLLBACK').run([]);
      throw err;
    }
    return result;
  } finally {
    pinned.conn = null;
    if (relaxed) conn.pragma('synchronous = FULL');
    await db.client.releaseConnection(conn);
  }
}

interface PinnedSqlite {
  knex: Knex;
  /** The connection while a transaction is open on it, else null. */
  conn: SqliteConnection | null;
}
const pinnedByClient = new WeakMap<object, PinnedSqlite>();

function pinnedSqlite(db: Knex): PinnedSqlite {
  let pinned = pinnedByClient.get(db.client);
  if (!pinned) {
    const knex = db.withUserParams({});
    const state: PinnedSqlite = { knex, conn: null };
    knex.client.acquireConnection = async () => {
      if (!state.conn) throw new Error('the transaction has ended; its queries can no longer run');
      return state.conn;
    };
    knex.client.releaseConnection = async () => undefined;
    pinnedKnexes.add(knex);
    pinnedByClient.set(db.client, (pinned = state));
  }
  return pinned;
}

/**
 * Where a long job's transaction needs a row that concurrent workers share (a run's statement)
 * and must not hold it locked until it commits: on PostgreSQL, `work` runs in a transaction of
 * its own on `root`, committed at once (not durably: the job's own transaction commits after it,
 * and a crash that loses this one loses that one too); on SQLite, whose one writer is this
 * transaction anyway, in the transaction itself.
 */
export async function independently<T>(trx: Knex.Transaction, root: Knex, work: (writer: Knex) => Promise<T>): Promise<T> {
  return dialectOf(trx) === 'postgres' ? transaction(root, work, { durable: false }) : work(trx);
}
