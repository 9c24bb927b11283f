import type { Knex } from 'knex';
import { dialectOf } from './dialect';
import { inGroupCommit } from './group-commit';
import type { SqliteTransactionConfig } from './sqlite-client';
import { retryWhileBusy } from './sqlite';

/** True for a Knex that is an open transaction. */
export function isTransaction(db: Knex): boolean {
  return (db as { isTransaction?: boolean }).isTransaction === true;
}

/**
 * Runs `work` in a transaction and returns what it returns; if it throws, the transaction is
 * rolled back and the error passes on. Services start every transaction here.
 *
 * Transactions compose: called with a Knex that already is a transaction, `work` simply runs in
 * it (as Directus' transaction() does with knex.isTransaction), so a service can be called from
 * inside another service's transaction and everything commits or rolls back together.
 *
 * Knex's db.transaction() on both databases. On SQLite it begins IMMEDIATE (./sqlite-client.ts):
 * the write lock is taken before anything is read, so no other process can commit between this
 * transaction's reads and its writes. While another process holds the lock the begin fails at
 * once (busy_timeout = 0), and the transaction is begun again after an asynchronous pause, with
 * the connection given back in between (other queries of this process go on meanwhile), for at
 * most the lock wait (./sqlite.ts retryWhileBusy). Only a begin is tried again, never `work`.
 * A durable SQLite transaction is a savepoint in a group that commits once for all the
 * transactions ready at the same time (./group-commit.ts); it returns after that commit.
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
  // Work that need not be durable runs on its own, without waiting for the disk, and never in a
  // group: a member returns only after its group's fsync, which a loop of short transactions
  // (webhook delivery: record, then send the next) would wait for each time (bench scenario 10:
  // delivery lag p99 1.2 s in groups, 0.5–0.7 s on its own).
  if (options.durable === false) return sqliteTransaction(db, work, options);
  return inGroupCommit(db, work, (db, group) => sqliteTransaction(db, group, {}));
}

export interface TransactionOptions {
  /**
   * false: the commit returns before it is on disk (SQLite synchronous=NORMAL, PostgreSQL
   * synchronous_commit=off). A crash or power cut may then lose this commit and the ones just
   * before it, never corrupt anything, and never lose a commit after which a durable one was
   * made (both databases write one log in order). Only for work that is done again when lost:
   * a settlement partition, which the resumed run redoes. On SQLite such work never joins a group
   * commit (./group-commit.ts). Default: durable.
   */
  durable?: boolean;
}

/** An error of a transaction's work (after its begin): passed on as it is, never a reason to begin again. */
class AfterBegin {
  constructor(readonly err: unknown) {}
}

async function sqliteTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>, options: TransactionOptions): Promise<T> {
  const config: SqliteTransactionConfig = { durable: options.durable !== false };
  try {
    return await retryWhileBusy(db.client, async () => {
      let begun = false;
      try {
        return await db.transaction(async (trx) => {
          // Knex calls the work even when its BEGIN failed, and rejects with the begin's error.
          if (trx.isCompleted()) return undefined as T;
          begun = true;
          return work(trx);
        }, config);
      } catch (err) {
        throw begun ? new AfterBegin(err) : err;
      }
    });
  } catch (err) {
    throw err instanceof AfterBegin ? err.err : err;
  }
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
