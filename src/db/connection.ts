import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { dialectOfUrl, sqliteFilename, type Db } from './dialect';
import { registerSqlite, type SqliteConnection, type SqliteState } from './sqlite';
import { SqliteClient } from './sqlite-client';

// PostgreSQL: keep DATE as the 'yyyy-MM-dd' string it is, NUMERIC as an exact string (pg's
// default), and turn 64-bit counts into numbers (they are row counts, far below 2^53).
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export interface DbOptions {
  /** Size of the PostgreSQL pool (SQLite always uses one connection: writes are serial anyway). */
  poolMax?: number;
  /**
   * SQLite: how long a statement or a transaction waits, in total, for the write lock another
   * process holds, before it gives up with a DatabaseUnavailableError (503). Default 10 s.
   */
  lockWaitMs?: number;
  /**
   * Where Knex's own messages go (a connection lost, a connect that failed), as JSON log lines;
   * without one Knex prints them, stack and all, on the console.
   */
  logger?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

/** Knex's log hooks over a logger: one line per message, its first line only (Knex appends stacks). */
function knexLog(logger: NonNullable<DbOptions['logger']>): Knex.Config['log'] {
  const text = (message: unknown) => String(message instanceof Error ? message.message : message).split('\n')[0];
  return {
    warn: (m: unknown) => logger.warn({ detail: text(m) }, 'database client warning'),
    error: (m: unknown) => logger.error({ detail: text(m) }, 'database client error'),
    deprecate: (m: unknown) => logger.warn({ detail: text(m) }, 'database client deprecation'),
    debug: (m: unknown) => logger.debug({ detail: text(m) }, 'database client'),
  };
}

export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** createDb(url): a Knex for SQLite (better-sqlite3) or PostgreSQL (pg). */
export function createDb(url: string, options: DbOptions = {}): Db {
  if (dialectOfUrl(url) === 'postgres') {
    return knexFactory({
      client: 'pg',
      connection: url,
      pool: { min: 0, max: options.poolMax ?? 10 },
      // A server that is down fails every connection attempt at once; one that does not answer
      // makes a request wait this long at most before it is answered 503.
      acquireConnectionTimeout: 10_000,
      ...(options.logger ? { log: knexLog(options.logger) } : {}),
    });
  }
  const filename = sqliteFilename(url);
  if (filename !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  const state: SqliteState = {
    lockWaitMs: options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
    ...(filename !== ':memory:' ? { filename: path.resolve(filename) } : {}),
  };
  const db = knexFactory({
    // Knex's better-sqlite3 dialect, with transactions that begin IMMEDIATE and an asynchronous
    // wait for a busy database (./sqlite-client.ts).
    client: SqliteClient as unknown as typeof Knex.Client,
    connection: { filename },
    useNullAsDefault: true,
    ...(options.logger ? { log: knexLog(options.logger) } : {}),
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        try {
          // Setting up may wait for another process (a new file switching to WAL); this runs
          // once per process, at start.
          conn.pragma('busy_timeout = 5000');
          // Money: durable commits (synchronous=FULL), WAL so readers do not block the writer.
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = FULL');
          conn.pragma('foreign_keys = ON');
          // 64 MB of page cache instead of 2 MB: the hot tables of a busy service stay in memory.
          conn.pragma('cache_size = -65536');
          // From here on a busy database answers at once, and the wait is asynchronous (./sqlite.ts).
          conn.pragma('busy_timeout = 0');
          state.conn = conn;
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
  registerSqlite(db.client, state);
  return db;
}
