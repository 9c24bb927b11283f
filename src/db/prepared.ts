import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { isPgClient } from './dialect';
import { retryWhileBusy, sqliteState, sqliteStatement, sqliteValue, type SqliteConnection } from './sqlite';

/**
 * A fixed SQL statement for the hot paths, written once with `?` placeholders (numbered `$n` for
 * PostgreSQL here). It runs without Knex's query builder and is prepared once per connection
 * (better-sqlite3 statement cache; a named prepared statement on PostgreSQL), which is most of the
 * cost of a small query otherwise. Repositories keep using Knex for everything else.
 *
 * A named PostgreSQL statement keeps the result type it was planned with: a statement that
 * selected `*` would fail ("cached plan must not change result type") in every running instance
 * once a migration adds a column. So these statements always name their columns.
 */
export interface PreparedSql {
  readonly text: string;
  readonly pgText: string;
  /** The name of PostgreSQL's prepared statement; none: parsed and planned at every execution. */
  readonly name: string | undefined;
}

const preparedByText = new Map<string, PreparedSql>();
/** Distinct statements are few (fixed SQL, and the shapes of the built queries); this only bounds a leak. */
const MAX_STATEMENTS = 2000;

/**
 * `replan`: on PostgreSQL, plan the statement for each execution instead of once: for queries
 * over tables that grow under them within one transaction (the settlement's), where a plan made
 * for the empty table would stay. SQLite statements are prepared either way.
 */
export function preparedSql(text: string, options: { replan?: boolean } = {}): PreparedSql {
  const key = options.replan ? `replan:${text}` : text;
  let sql = preparedByText.get(key);
  if (!sql) {
    if (/\bselect\s+(\w+\.)?\*/i.test(text) && !/\bunnest\b/i.test(text)) {
      throw new Error(`a prepared statement must name its columns: ${text}`);
    }
    let n = 0;
    sql = {
      text,
      pgText: text.replace(/\?/g, () => `$${++n}`),
      name: options.replan ? undefined : `q_${crypto.createHash('sha1').update(text).digest('hex').slice(0, 20)}`,
    };
    if (preparedByText.size >= MAX_STATEMENTS) preparedByText.clear();
    preparedByText.set(key, sql);
  }
  return sql;
}

export interface PgConnection {
  query(config: { name?: string | undefined; text: string; values: unknown[]; rowMode?: 'array' }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/**
 * Runs `use` on a connection of the client: the transaction's when the client is a transaction's,
 * else one from the pool, so that it waits for a running transaction like any Knex query would.
 *
 * SQLite shortcut: better-sqlite3 runs a statement synchronously, so when the single connection
 * is open and in no transaction, a statement on it completes, as its own transaction, before
 * anything else can happen — exactly as if it had waited its turn in the pool. Asking the pool
 * for it costs more than the statement (promises and a timeout timer per acquire), so it is
 * skipped then. Outside a transaction a statement that finds the database locked by another
 * process is tried again, asynchronously, with the connection given back in between.
 */
export async function onConnection<T>(client: Knex.Client, use: (conn: unknown) => T | Promise<T>): Promise<T> {
  const sqlite = sqliteState(client);
  if (!sqlite) return withAcquired(client, use);
  return retryWhileBusy(client, () => {
    const single = sqlite.conn;
    if (single && single.open && !single.inTransaction) return use(single);
    return withAcquired(client, use);
  });
}

async function withAcquired<T>(client: Knex.Client, use: (conn: unknown) => T | Promise<T>): Promise<T> {
  const conn: unknown = await client.acquireConnection();
  try {
    return await use(conn);
  } finally {
    await client.releaseConnection(conn);
  }
}

function rowsOf<T>(client: Knex.Client, sql: PreparedSql, params: readonly unknown[]): Promise<T[]> {
  if (isPgClient(client)) {
    return onConnection(client, async (conn) => (await (conn as PgConnection).query({ name: sql.name, text: sql.pgText, values: [...params] })).rows as T[]);
  }
  return onConnection(client, (conn) => sqliteStatement(conn as SqliteConnection, sql.text).all(params.map(sqliteValue)) as T[]);
}

/** The rows a prepared statement returns. */
export function queryPrepared<T>(db: Knex, sql: PreparedSql, params: readonly unknown[]): Promise<T[]> {
  return rowsOf<T>(db.client, sql, params);
}

/**
 * The rows of a select built with Knex (dynamic filters, sorts and pages): Knex only compiles it,
 * and the SQL runs as a prepared statement, reused for every query of the same shape.
 */
export function queryBuilt<T>(builder: Knex.QueryBuilder, options: { replan?: boolean } = {}): Promise<T[]> {
  const { sql, bindings } = builder.toSQL();
  return rowsOf<T>(builder.client, preparedSql(sql, options), bindings);
}

/** Runs a prepared statement that returns no rows; the number of rows it changed. */
export function executePrepared(db: Knex, sql: PreparedSql, params: readonly unknown[]): Promise<number> {
  if (isPgClient(db.client)) {
    return onConnection(db.client, async (conn) => (await (conn as PgConnection).query({ name: sql.name, text: sql.pgText, values: [...params] })).rowCount ?? 0);
  }
  return onConnection(db.client, (conn) => sqliteStatement(conn as SqliteConnection, sql.text).run(params.map(sqliteValue)).changes);
}
