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
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        // Money: durable commits (synchronous=FULL), WAL so readers do not block the writer,
        // a busy timeout so a second process waits for the lock instead of failing at once.
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = FULL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 10000');
        done(null, conn);
      },
    },
  });
}

export function dialectOf(db: Knex): Dialect {
  const client = String(db.client.config.client);
  return client === 'pg' ? 'postgres' : 'sqlite';
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
 * write lock, so a no-op UPDATE first makes the transaction a writer before it reads anything;
 * a reader that upgraded later could fail with SQLITE_BUSY instead of waiting.
 */
export async function lockRow(trx: Knex.Transaction, table: string, id: number): Promise<boolean> {
  if (dialectOf(trx) === 'postgres') {
    const row = await trx(table).select('id').where({ id }).forUpdate().first();
    return row !== undefined;
  }
  const changed = await trx(table).where({ id }).update({ id });
  return changed > 0;
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
 * One settlement run at a time. PostgreSQL: a transaction-scoped advisory lock (a second run
 * waits, then sees the first one's pairs as settled). SQLite: the caller's first write takes the
 * database write lock, which does the same.
 */
export async function lockSettlement(trx: Knex.Transaction): Promise<void> {
  if (dialectOf(trx) === 'postgres') await trx.raw('SELECT pg_advisory_xact_lock(?)', [SETTLEMENT_LOCK_KEY]);
}
const SETTLEMENT_LOCK_KEY = 7_260_001;

/** Timestamps: timestamptz on PostgreSQL (a Date comes back), ISO text on SQLite. */
export function toIsoTimestamp(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

/** ORDER BY on an exact decimal column: numeric on PostgreSQL, text stored on SQLite. */
export function decimalOrderExpr(db: Knex, column: string): Knex.Raw {
  return dialectOf(db) === 'postgres' ? db.raw('??', [column]) : db.raw('CAST(?? AS REAL)', [column]);
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
