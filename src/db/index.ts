/**
 * The database layer: one Knex for SQLite or PostgreSQL, and every difference between the two in
 * this folder, by concern.
 *
 * - connection.ts  createDb(url): pool, pragmas, type parsers
 * - dialect.ts     how values and errors come back (unique violations, unreachable servers, timestamps)
 * - sqlite.ts      one connection per process, and waiting for the write lock without blocking
 * - sqlite-client.ts Knex's better-sqlite3 dialect, beginning IMMEDIATE and waiting for a busy database asynchronously
 * - transaction.ts transactions that compose (Knex's transaction(), begun again while SQLite is busy)
 * - group-commit.ts SQLite's durable transactions committed together, one fsync for those ready at once
 * - prepared.ts    fixed SQL prepared once per connection, for the hot paths; rows are objects
 * - bulk.ts        many rows in few statements
 * - locks.ts       row locks that serialise changes to one aggregate
 * - claim.ts       claiming work with leases (jobs, partitions, deliveries), the one way to do it
 */
export * from './bulk';
export * from './claim';
export * from './connection';
export * from './dialect';
export * from './locks';
export * from './prepared';
export { isSqliteBusy, sleep, yieldToWaitingWriters } from './sqlite';
export * from './transaction';
