import fs from 'node:fs';
import type { Knex } from 'knex';
import { DatabaseUnavailableError } from './dialect';

/**
 * SQLite as several processes share it: one connection per process (better-sqlite3, which runs
 * every statement synchronously), WAL, and one write lock for the whole file.
 *
 * Waiting for that lock must never block the event loop: better-sqlite3's own busy handler
 * would sleep inside the statement, so the connection runs with busy_timeout = 0 and a statement
 * that finds the database busy is tried again after an asynchronous pause (retryWhileBusy), with
 * the connection given back in between, until a bounded total wait is over. Then the caller gets
 * a DatabaseUnavailableError (the API answers 503 with Retry-After). Write transactions begin
 * IMMEDIATE, so they take the lock before they read and never fail half-way with
 * SQLITE_BUSY_SNAPSHOT because another process committed in between.
 */

export interface SqliteStatement {
  reader: boolean;
  all(params: unknown[]): unknown[];
  run(params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}

export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  pragma(sql: string): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
}

/** Per SQLite Knex (by its client): its one connection once opened, and how long a lock may be waited for. */
export interface SqliteState {
  conn?: SqliteConnection;
  lockWaitMs: number;
  /** The database file (none in memory): beside it, a marker that processes waiting for the lock touch. */
  filename?: string;
  signalledAt?: number;
}

const states = new WeakMap<object, SqliteState>();

export function registerSqlite(client: Knex.Client, state: SqliteState): void {
  states.set(client, state);
}

export function sqliteState(client: Knex.Client | object): SqliteState | undefined {
  return states.get(client);
}

/** Statements prepared once per connection; distinct texts are few, the bound only stops a leak. */
const MAX_STATEMENTS = 2000;
const statements = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();

export function sqliteStatement(conn: SqliteConnection, text: string): SqliteStatement {
  let cache = statements.get(conn);
  if (!cache) statements.set(conn, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) {
    if (cache.size >= MAX_STATEMENTS) cache.clear();
    stmt = conn.prepare(text);
    cache.set(text, stmt);
  }
  return stmt;
}

/** Knex's own binding rules for better-sqlite3: a Date as its epoch milliseconds, a boolean as 0/1. */
export const sqliteValue = (v: unknown) => (v instanceof Date ? v.valueOf() : typeof v === 'boolean' ? Number(v) : v);

/**
 * The database is locked by another connection. Not SQLITE_BUSY_SNAPSHOT: a read transaction
 * that another process overtook cannot be saved by waiting (write transactions begin IMMEDIATE,
 * so they never meet it).
 */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_RECOVERY' || code === 'SQLITE_BUSY_TIMEOUT';
}

/**
 * The pause between two tries: short, because the other process may hold the lock only for one
 * short transaction and there is no queue to wait in; a try costs a few microseconds.
 */
const MAX_PAUSE_MS = 8;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, pausing asynchronously in between, for
 * at most the client's lock wait; then a DatabaseUnavailableError. `attempt` should hold no
 * connection of the pool while it is not running (the pause lets other work use it).
 */
export async function retryWhileBusy<T>(client: Knex.Client | object, attempt: () => T | Promise<T>): Promise<T> {
  const state = sqliteState(client);
  const waitMs = state?.lockWaitMs ?? 0;
  const started = Date.now();
  for (let pause = 1; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    try {
      return await attempt();
    } catch (err) {
      if (!isSqliteBusy(err)) throw err;
      if (Date.now() - started + pause > waitMs) throw lockWaitExceeded(waitMs, err);
      if (state) signalWaiting(state);
      await sleep(pause);
    }
  }
}

/**
 * SQLite has no queue for its write lock: a long job that commits one short transaction after
 * another could take the lock again before a waiting process ever sees it free. A process that
 * waits touches a marker file beside the database; a long job looks at it between transactions
 * (yieldToWaitingWriters) and pauses long enough for the waiting one to get in.
 */
const WAITING_MARKER = '-waiting-writers';
const SIGNAL_EVERY_MS = 50;
const WAITERS_RECENT_MS = 1000;
/** Longer than a waiter's pause between tries (MAX_PAUSE_MS), so that it finds the lock free. */
const YIELD_MS = 20;

function signalWaiting(state: SqliteState): void {
  if (!state.filename) return;
  const now = Date.now();
  if (state.signalledAt !== undefined && now - state.signalledAt < SIGNAL_EVERY_MS) return;
  state.signalledAt = now;
  try {
    fs.writeFileSync(state.filename + WAITING_MARKER, String(now));
  } catch {
    // a read-only directory: waiting still works, only without the hint
  }
}

/** Between two transactions of a long job: gives the write lock to processes waiting for it, if any. */
export async function yieldToWaitingWriters(client: Knex.Client | object): Promise<void> {
  const state = sqliteState(client);
  let waiting = false;
  if (state?.filename) {
    try {
      waiting = Date.now() - fs.statSync(state.filename + WAITING_MARKER).mtimeMs < WAITERS_RECENT_MS;
    } catch {
      waiting = false;
    }
  }
  if (waiting) await sleep(YIELD_MS);
  else await new Promise<void>((resolve) => setImmediate(resolve));
}

export const lockWaitExceeded = (waitMs: number, cause?: unknown) =>
  new DatabaseUnavailableError(
    `The database stayed locked by another process for ${waitMs} ms (SQLITE_LOCK_WAIT_MS); nothing was changed.`,
    1,
    { cause },
  );
