import type { Knex } from 'knex';

/**
 * Column helpers of the migrations, frozen: a landed migration must create exactly what it
 * created when it landed, whatever later happens to the code under src/. A migration that needs
 * a column of a new kind adds a helper here; an existing helper is never changed.
 */

export const isPostgres = (db: Knex) => String(db.client.config.client) === 'pg';

/** Exact decimal column: NUMERIC(p, s) on PostgreSQL, TEXT (exact digits) on SQLite. */
export function exactDecimal(db: Knex, table: Knex.CreateTableBuilder, name: string, precision: number, scale: number) {
  return isPostgres(db) ? table.decimal(name, precision, scale) : table.text(name);
}

/** Whole minor units: NUMERIC(38,0) on PostgreSQL; a 64-bit INTEGER on SQLite (the first settlement schema). */
export function minorUnitsColumn(db: Knex, table: Knex.CreateTableBuilder, name: string) {
  return isPostgres(db) ? table.decimal(name, 38, 0) : table.bigInteger(name);
}

/**
 * An integer of any size, exactly: NUMERIC(precision, 0) on PostgreSQL, TEXT holding the digits on
 * SQLite (whose INTEGER stops at 2^63 and would turn a larger value into a float).
 */
export function exactInteger(db: Knex, table: Knex.CreateTableBuilder, name: string, precision: number) {
  return isPostgres(db) ? table.decimal(name, precision, 0) : table.text(name);
}

/** Calendar date column: DATE on PostgreSQL, 'yyyy-MM-dd' TEXT on SQLite. */
export function calendarDate(db: Knex, table: Knex.CreateTableBuilder, name: string) {
  return isPostgres(db) ? table.date(name) : table.string(name, 10);
}

/** Timestamp column: timestamptz(3) on PostgreSQL, ISO 8601 text on SQLite. */
export function timestampColumn(db: Knex, table: Knex.CreateTableBuilder, name: string) {
  return isPostgres(db) ? table.timestamp(name, { useTz: true, precision: 3 }) : table.string(name, 24);
}
