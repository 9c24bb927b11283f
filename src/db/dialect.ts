import type { Knex } from 'knex';

/**
 * What differs between SQLite and PostgreSQL in how values and errors come back. Everything
 * else in src/ speaks plain Knex; a dialect test lives here, not spread around.
 */

export type Db = Knex;
export type Dialect = 'sqlite' | 'postgres';

export function dialectOfUrl(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error(`unsupported DATABASE_URL: ${url.replace(/\/\/[^@]*@/, '//***@')}`);
}

export function sqliteFilename(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') || ':memory:';
}

export function dialectOf(db: Knex): Dialect {
  return isPgClient(db.client) ? 'postgres' : 'sqlite';
}

export const isPgClient = (client: Knex.Client) => client.config.client === 'pg';

const codeOf = (err: unknown) => (err as { code?: unknown } | null)?.code;

/** A unique constraint or primary key was violated. */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * The database gave up waiting for a lock another process holds (SQLite's write lock), or cannot
 * be reached at all. Nothing was changed; the same request may succeed a moment later.
 */
export class DatabaseUnavailableError extends Error {
  constructor(
    message: string,
    /** Seconds after which a retry makes sense. */
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/** Errors of the connection rather than of the statement: the server is down, gone or restarting. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, database gone, too many connections
  '57P01', '57P02', '57P03', '3D000', '53300',
  'SQLITE_CANTOPEN',
]);

/** True for an error that means "the database is not there right now", not "this statement is wrong". */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const code = codeOf(err);
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'KnexTimeoutError') return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error/i.test(message);
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

/** An exact integer column (NUMERIC on PostgreSQL, digits or INTEGER on SQLite) as text: no float on the way. */
export function exactIntegerText(db: Knex, column: string, alias: string): Knex.Raw {
  return db.raw('CAST(?? AS TEXT) AS ??', [column, alias]);
}

/** The largest whole number of minor units a statement column holds exactly. */
export function maxMinorUnits(db: Knex): bigint {
  return dialectOf(db) === 'postgres' ? 10n ** 38n - 1n : 2n ** 63n - 1n;
}
