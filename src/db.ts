import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

/**
 * createDb(url): a Knex for SQLite (better-sqlite3) or PostgreSQL (pg), and every difference
 * between the two dialects in one place.
 */

export type Db = Knex;
export type Dialect = 'sqlite' | 'postgres';

// PostgreSQL: keep DATE as the 'yyyy-MM-dd' string it is, NUMERIC as an exact string (pg's
// default), and turn 64-bit counts into numbers (they are row counts, far below 2^53).
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export function dialectOfUrl(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error(`unsupported DATABASE_URL: ${url.replace(/\/\/[^@]*@/, '//***@')}`);
}

export function sqliteFilename(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') || ':memory:';
}

export interface DbOptions {
  /** Size of the PostgreSQL pool (SQLite always uses one connection: writes are serial anyway). */
  poolMax?: number;
}

export function createDb(url: string, options: DbOptions = {}): Db {
  if (dialectOfUrl(url) === 'postgres') {
    return knexFactory({
      client: 'pg',
      connection: url,
      pool: { min: 0, max: options.poolMax ?? 10 },
    });
  }
  const filename = sqliteFilename(url);
  if (filename !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  const single: { conn?: SqliteConnection } = {};
  const db = knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: SqliteConnection & { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        // Money: durable commits (synchronous=FULL), WAL so readers do not block the writer,
        // a busy timeout so a second process waits for the lock instead of failing at once.
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = FULL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 10000');
        // 64 MB of page cache instead of 2 MB: the hot tables of a busy service stay in memory.
        conn.pragma('cache_size = -65536');
        single.conn = conn;
        done(null, conn);
      },
    },
  });
  sqliteConnections.set(db.client, single);
  return db;
}

export function dialectOf(db: Knex): Dialect {
  const client = String(db.client.config.client);
  return client === 'pg' ? 'postgres' : 'sqlite';
}

/**
 * A fixed SQL statement for the hot paths, written once with `?` placeholders (numbered `$n` for
 * PostgreSQL here). It runs without Knex's query builder and is prepared once per connection
 * (better-sqlite3 statement cache; a named prepared statement on PostgreSQL), which is most of the
 * cost of a small query otherwise. Repositories keep using Knex for everything else.
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

interface SqliteStatement {
  reader: boolean;
  all(params: unknown[]): unknown[];
  run(params: unknown[]): { changes: number };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  readonly open: boolean;
  readonly inTransaction: boolean;
}
interface PgConnection {
  query(config: { name?: string | undefined; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

const sqliteStatements = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();

function sqliteStatement(conn: SqliteConnection, text: string): SqliteStatement {
  let cache = sqliteStatements.get(conn);
  if (!cache) sqliteStatements.set(conn, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) {
    if (cache.size >= MAX_STATEMENTS) cache.clear();
    cache.set(text, (stmt = conn.prepare(text)));
  }
  return stmt;
}

/** Knex's own binding rules for better-sqlite3: a Date as its epoch milliseconds, a boolean as 0/1. */
const sqliteValue = (v: unknown) => (v instanceof Date ? v.valueOf() : typeof v === 'boolean' ? Number(v) : v);

/** The one connection of each SQLite Knex (pool max 1), by its client. */
const sqliteConnections = new WeakMap<object, { conn?: SqliteConnection }>();

/**
 * Runs a prepared statement on a client's connection: the transaction's when the client is a
 * transaction's, else one from the pool, so that it waits for a running transaction like any Knex
 * query would.
 *
 * SQLite shortcut: better-sqlite3 runs a statement synchronously, so when the single connection
 * is open and in no transaction, a statement on it completes, as its own transaction, before
 * anything else can happen — exactly as if it had waited its turn in the pool. Asking the pool
 * for it costs more than the statement (promises and a timeout timer per acquire), so it is
 * skipped then. Inside a transaction (inTransaction), the pool makes the statement wait.
 */
async function onConnection<T>(client: Knex.Client, use: (conn: unknown) => T | Promise<T>): Promise<T> {
  const single = sqliteConnections.get(client)?.conn;
  if (single && single.open && !single.inTransaction) return use(single);
  const conn: unknown = await client.acquireConnection();
  try {
    return await use(conn);
  } finally {
    await client.releaseConnection(conn);
  }
}

function rowsOf<T>(client: Knex.Client, sql: PreparedSql, params: readonly unknown[]): Promise<T[]> {
  if (client.config.client === 'pg') {
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
  if (dialectOf(db) === 'postgres') {
    return onConnection(db.client, async (conn) => (await (conn as PgConnection).query({ name: sql.name, text: sql.pgText, values: [...params] })).rowCount ?? 0);
  }
  return onConnection(db.client, (conn) => sqliteStatement(conn as SqliteConnection, sql.text).run(params.map(sqliteValue)).changes);
}

/**
 * Inserts rows (values in the order of `columns`) without Knex's query builder. SQLite: one
 * prepared single-row INSERT run for each row, which with a synchronous driver is the fastest
 * way. PostgreSQL: INSERT … SELECT FROM unnest(one array a column), up to 10,000 rows a statement:
 * one fixed, prepared text whatever the number of rows (the arrays take the columns' types). With
 * `returning`, the inserted rows' columns come back (match them by value, not by position).
 */
export async function insertRows<R = never>(
  db: Knex,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  returning: readonly string[] = [],
): Promise<R[]> {
  if (rows.length === 0) return [];
  const tail = returning.length ? ` RETURNING ${returning.join(', ')}` : '';
  if (dialectOf(db) === 'postgres') {
    return onConnection(db.client, async (conn) => {
      const pg = conn as PgConnection;
      const types = await pgColumnTypes(pg, table);
      const arrays = columns.map((c) => `?::${types.get(c) ?? 'text'}[]`).join(', ');
      const sql = preparedSql(`INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${arrays})${tail}`);
      const out: R[] = [];
      for (let i = 0; i < rows.length; i += 10_000) {
        const chunk = rows.slice(i, i + 10_000);
        const values = columns.map((_, j) => chunk.map((row) => row[j]));
        out.push(...((await pg.query({ name: sql.name, text: sql.pgText, values })).rows as R[]));
      }
      return out;
    });
  }
  const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${tail}`;
  return onConnection(db.client, (conn) => {
    const stmt = sqliteStatement(conn as SqliteConnection, sql);
    if (!returning.length) {
      for (const row of rows) stmt.run(row.map(sqliteValue));
      return [];
    }
    return rows.map((row) => stmt.all(row.map(sqliteValue))[0] as R);
  });
}

/** The type of each column of a PostgreSQL table (without modifiers: numeric, date, bigint …). */
const pgTypesByTable = new Map<string, Promise<Map<string, string>>>();
function pgColumnTypes(conn: PgConnection, table: string): Promise<Map<string, string>> {
  let types = pgTypesByTable.get(table);
  if (!types) {
    types = conn
      .query({
        name: 'q_column_types',
        text: 'SELECT attname AS name, format_type(atttypid, NULL) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped',
        values: [table],
      })
      .then((r) => new Map((r.rows as { name: string; type: string }[]).map((c) => [c.name, c.type])));
    types.catch(() => pgTypesByTable.delete(table));
    pgTypesByTable.set(table, types);
  }
  return types;
}

/**
 * Updates rows by key: `rows` hold the key, then the new values of `columns`; `types` are the SQL
 * types of the key and the columns (integer, bigint, text …). SQLite: a prepared single-row
 * UPDATE for each. PostgreSQL: one UPDATE … FROM unnest(arrays) for up to 10,000 rows, so a run
 * that finishes thousands of rows does not pay a round trip for each.
 */
export async function updateRows(
  db: Knex,
  table: string,
  key: string,
  columns: readonly string[],
  types: readonly string[],
  rows: readonly (readonly unknown[])[],
): Promise<void> {
  if (rows.length === 0) return;
  if (dialectOf(db) === 'postgres') {
    const names = [key, ...columns];
    const sql = preparedSql(
      `UPDATE ${table} AS t SET ${columns.map((c) => `${c} = v.${c}`).join(', ')} ` +
        `FROM unnest(${types.map((type) => `?::${type}[]`).join(', ')}) AS v(${names.join(', ')}) WHERE t.${key} = v.${key}`,
    );
    await onConnection(db.client, async (conn) => {
      for (let i = 0; i < rows.length; i += 10_000) {
        const chunk = rows.slice(i, i + 10_000);
        await (conn as PgConnection).query({ name: sql.name, text: sql.pgText, values: names.map((_, j) => chunk.map((r) => r[j])) });
      }
    });
    return;
  }
  await onConnection(db.client, (conn) => {
    const stmt = sqliteStatement(conn as SqliteConnection, `UPDATE ${table} SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE ${key} = ?`);
    for (const [id, ...values] of rows) stmt.run([...values, id].map(sqliteValue));
  });
}

/**
 * Runs `work` in a transaction and returns what it returns; if it throws, the transaction is
 * rolled back and the error passes on. Services start every transaction here.
 *
 * PostgreSQL: Knex's db.transaction(). SQLite: Knex builds a whole new Knex instance for each
 * transaction (some 60 µs and a lot of garbage, more than a small write costs), while SQLite's
 * single connection can only ever hold one transaction at a time. So one Knex instance pinned to
 * that connection serves every transaction in turn: the pool's connection is taken (other queries
 * and transactions wait for it, as with Knex's), BEGIN, work, COMMIT or ROLLBACK, given back. The
 * pinned instance answers only while its transaction is open.
 */
export async function transaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (dialectOf(db) === 'postgres') return db.transaction(work);
  const pinned = pinnedSqlite(db);
  const conn = (await db.client.acquireConnection()) as SqliteConnection;
  try {
    sqliteStatement(conn, 'BEGIN').run([]);
    pinned.conn = conn;
    let result: T;
    try {
      result = await work(pinned.knex as Knex.Transaction);
      pinned.conn = null;
      sqliteStatement(conn, 'COMMIT').run([]);
    } catch (err) {
      pinned.conn = null;
      if (conn.inTransaction) sqliteStatement(conn, 'ROLLBACK').run([]);
      throw err;
    }
    return result;
  } finally {
    pinned.conn = null;
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
    pinnedByClient.set(db.client, (pinned = state));
  }
  return pinned;
}

/** A unique constraint or primary key was violated. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * Take the write lock that serialises every change to one row's aggregate (a contract and its
 * referrals, say) until the transaction ends. PostgreSQL: a row lock (SELECT … FOR UPDATE), so
 * changes to other contracts go on in parallel. SQLite: any write takes the database's single
 * write lock, so an UPDATE that matches no row first makes the transaction a writer before it
 * reads anything (a reader that upgraded later could fail with SQLITE_BUSY instead of waiting),
 * without dirtying a page the commit would then have to write; then the row is looked up.
 */
export async function lockRow(trx: Knex.Transaction, table: LockableTable, id: number): Promise<boolean> {
  if (dialectOf(trx) === 'postgres') {
    return (await queryPrepared(trx, preparedSql(`SELECT id FROM ${table} WHERE id = ? FOR UPDATE`), [id])).length > 0;
  }
  await executePrepared(trx, preparedSql(`UPDATE ${table} SET id = id WHERE 0`), []);
  return (await queryPrepared(trx, preparedSql(`SELECT id FROM ${table} WHERE id = ?`), [id])).length > 0;
}
export type LockableTable = 'contracts' | 'business_units';

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
 * One settlement run at a time. PostgreSQL: a transaction-scoped advisory lock (a second run
 * waits, then sees the first one's pairs as settled). SQLite: the caller's first write takes the
 * database write lock, which does the same.
 */
export async function lockSettlement(trx: Knex.Transaction): Promise<void> {
  if (dialectOf(trx) === 'postgres') await trx.raw('SELECT pg_advisory_xact_lock(?)', [SETTLEMENT_LOCK_KEY]);
}

const SETTLEMENT_LOCK_KEY = 7_260_001;

/**
 * Statistics of tables a transaction has just filled, for the planner's next statements:
 * PostgreSQL's ANALYZE counts the transaction's own new rows. SQLite plans without them.
 */
export async function refreshStatistics(trx: Knex.Transaction, tables: string[]): Promise<void> {
  if (dialectOf(trx) === 'postgres') await trx.raw(`ANALYZE ${tables.join(', ')}`);
}

/** The form toISOString() writes, which is what SQLite holds: it comes back as it is. */
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Timestamps: timestamptz on PostgreSQL (a Date comes back), ISO text on SQLite. */
export function toIsoTimestamp(value: Date | string | null): string | null {
  if (value === null) return null;
  if (value instanceof Date) return value.toISOString();
  return CANONICAL_ISO.test(value) ? value : new Date(value).toISOString();
}

/** ORDER BY on an exact decimal column (named in code, `r.percentage`): numeric on PostgreSQL, text stored on SQLite. */
export function decimalOrderSql(db: Knex, column: string): string {
  return dialectOf(db) === 'postgres' ? column : `CAST(${column} AS REAL)`;
}

/** Exact decimal column: NUMERIC(p, s) on PostgreSQL, TEXT (exact digits) on SQLite. */
export function exactDecimal(db: Knex, table: Knex.CreateTableBuilder, name: string, precision: number, scale: number) {
  return dialectOf(db) === 'postgres' ? table.decimal(name, precision, scale) : table.text(name);
}

/**
 * Whole minor units (cents, yen …): NUMERIC(38,0) on PostgreSQL; a 64-bit INTEGER on SQLite, whose
 * bound maxMinorUnits() gives. Read them back through minorUnitsText() so no float is involved.
 */
export function minorUnitsColumn(db: Knex, table: Knex.CreateTableBuilder, name: string) {
  return dialectOf(db) === 'postgres' ? table.decimal(name, 38, 0) : table.bigInteger(name);
}

export function maxMinorUnits(db: Knex): bigint {
  return dialectOf(db) === 'postgres' ? 10n ** 38n - 1n : 2n ** 63n - 1n;
}

/** A minor-units column as exact text (a JS number would lose digits past 2^53). */
export function minorUnitsText(db: Knex, column: string, alias: string): Knex.Raw {
  return db.raw('CAST(?? AS TEXT) AS ??', [column, alias]);
}

/** Calendar date column: DATE on PostgreSQL, 'yyyy-MM-dd' TEXT on SQLite. */
export function calendarDate(db: Knex, table: Knex.CreateTableBuilder, name: string) {
  return dialectOf(db) === 'postgres' ? table.date(name) : table.string(name, 10);
}

/** Timestamp column: timestamptz(3) on PostgreSQL, ISO 8601 text on SQLite. */
export function timestampColumn(db: Knex, table: Knex.CreateTableBuilder, name: string) {
  return dialectOf(db) === 'postgres' ? table.timestamp(name, { useTz: true, precision: 3 }) : table.string(name, 24);
}
