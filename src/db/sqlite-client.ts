import type { Knex } from 'knex';
// Knex's own better-sqlite3 dialect and its transaction, extended the way Knex's dialects extend
// one another (a Client class passed as `client`, Knex.Config['client']).
import ClientBetterSqlite3 from 'knex/lib/dialects/better-sqlite3/index.js';
import SqliteTransaction from 'knex/lib/dialects/sqlite3/execution/sqlite-transaction.js';
import { retryWhileBusy, sqliteState, sqliteStatement, type SqliteConnection } from './sqlite';

/** The query object Knex passes to a dialect's `_query`, and what the dialect sets on it. */
interface KnexQuery {
  sql?: string;
  bindings?: unknown[];
  options?: unknown;
  response?: unknown;
  context?: { lastID: number | bigint; changes: number };
}

/** What our transaction() passes to Knex's `transaction(work, config)` beyond Knex's own options. */
export interface SqliteTransactionConfig extends Knex.TransactionConfig {
  /** false: the commit returns before it is on disk (synchronous=NORMAL for this transaction only). */
  durable?: boolean;
}

/**
 * Knex's transaction for SQLite with two differences:
 *
 * - `BEGIN IMMEDIATE` instead of `BEGIN`: the transaction takes the write lock before it reads,
 *   so no other process can commit between its reads and its writes (a deferred transaction that
 *   read and then writes fails with SQLITE_BUSY_SNAPSHOT when one did).
 * - `durable: false`: synchronous=NORMAL from before BEGIN until the connection is given back
 *   (SQLite refuses to change it inside a transaction).
 */
class ImmediateTransaction extends SqliteTransaction {
  private readonly relaxed: boolean;

  constructor(client: unknown, container: unknown, config: SqliteTransactionConfig | undefined, outerTx: unknown) {
    super(client, container, config, outerTx);
    // Set before Knex starts the transaction, which it does on a later tick.
    this.relaxed = config?.durable === false;
  }

  begin(conn: SqliteConnection): Promise<unknown> {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }

  /**
   * A COMMIT that fails (a deferred constraint, a full disk) leaves SQLite's transaction open;
   * Knex would give the connection back in it. It is rolled back here, before that, so that
   * nothing of it is kept and the next user of the connection starts clean. The caller gets the
   * COMMIT's error from Knex.
   */
  override commit(conn: SqliteConnection, value: unknown): Promise<unknown> {
    return super.commit(conn, value).finally(() => {
      if (conn.open && conn.inTransaction) conn.prepare('ROLLBACK').run([]);
    });
  }

  override async acquireConnection(config: unknown, cb: (conn: SqliteConnection) => Promise<unknown>): Promise<unknown> {
    if (!this.relaxed) return super.acquireConnection(config, cb);
    return super.acquireConnection(config, async (conn: SqliteConnection) => {
      conn.pragma('synchronous = NORMAL');
      try {
        return await cb(conn);
      } finally {
        if (conn.open) conn.pragma('synchronous = FULL');
      }
    });
  }
}

/**
 * Knex's better-sqlite3 client, with our transactions and the asynchronous wait for a busy
 * database: the connection runs with busy_timeout = 0 (better-sqlite3 would sleep inside the
 * statement, blocking the event loop), and a statement that finds the database locked by another
 * process is tried again after a short asynchronous pause (./sqlite.ts retryWhileBusy).
 */
export class SqliteClient extends ClientBetterSqlite3 {
  override transaction(container: unknown, config: SqliteTransactionConfig | undefined, outerTx: unknown): unknown {
    return new ImmediateTransaction(this, container, config, outerTx);
  }

  override _query(conn: unknown, obj: unknown): Promise<unknown> {
    // A transaction's statements (its client is a copy, with no state) are not tried again: the
    // transaction holds the write lock, and its begin is what waits (./transaction.ts).
    if (!sqliteState(this)) return this.execute(conn as SqliteConnection, obj as KnexQuery);
    return retryWhileBusy(this, () => this.execute(conn as SqliteConnection, obj as KnexQuery));
  }

  /**
   * Knex's own `_query` for better-sqlite3, with the statement prepared once per connection
   * (./sqlite.ts sqliteStatement) instead of at every run: preparing cost more than running most
   * statements Knex builds (webhook delivery's: 5.5 % of the server's busy time in a profile).
   * Savepoints are named per transaction, so theirs are prepared each time, as are queries with
   * their own safeIntegers option; both go to Knex's `_query` unchanged.
   */
  private async execute(conn: SqliteConnection, query: KnexQuery): Promise<unknown> {
    if (!query.sql || this._optSafeIntegers(query.options) !== undefined || /^\s*(SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b/i.test(query.sql)) {
      return super._query(conn, query);
    }
    const statement = sqliteStatement(conn, query.sql);
    const bindings = this._formatBindings(query.bindings);
    if (statement.reader) {
      query.response = statement.all(bindings);
      return query;
    }
    const response = statement.run(bindings);
    query.response = response;
    query.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return query;
  }
}
