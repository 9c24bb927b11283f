import type { Knex } from 'knex';
import { dialectOf } from './dialect';
import { onConnection, preparedSql, type PgConnection } from './prepared';
import { sqliteStatement, sqliteValue, type SqliteConnection } from './sqlite';
import { transaction } from './transaction';

/** Many rows in few statements: the writes of revenue ingest, audit trails and the settlement run. */

const PG_CHUNK = 10_000;

/**
 * Inserts rows (values in the order of `columns`) without Knex's query builder. SQLite: one
 * prepared single-row INSERT run for each row, which with a synchronous driver is the fastest
 * way, all in one transaction (the caller's, or one of their own), so that nothing is written
 * twice when a busy database makes the statements run again. PostgreSQL: INSERT … SELECT FROM
 * unnest(one array a column), up to 10,000 rows a statement: one fixed, prepared text whatever
 * the number of rows (the arrays take the columns' types). With `returning`, the inserted rows'
 * columns come back (match them by value, not by position).
 */
export async function insertRows<R = never>(
  db: Knex,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  returning: readonly string[] = [],
  options: { ignoreConflictOn?: readonly string[]; conflictWhere?: string } = {},
): Promise<R[]> {
  if (rows.length === 0) return [];
  // With ignoreConflictOn, a row that would violate that unique key is skipped (and not returned);
  // conflictWhere names a partial unique index's predicate.
  const where = options.conflictWhere ? ` WHERE ${options.conflictWhere}` : '';
  const ignore = options.ignoreConflictOn ? ` ON CONFLICT (${options.ignoreConflictOn.join(', ')})${where} DO NOTHING` : '';
  const tail = `${ignore}${returning.length ? ` RETURNING ${returning.join(', ')}` : ''}`;
  if (dialectOf(db) === 'postgres') {
    return onConnection(db.client, async (conn) => {
      const pg = conn as PgConnection;
      const types = await pgColumnTypes(pg, table);
      const arrays = columns.map((c) => `?::${types.get(c) ?? 'text'}[]`).join(', ');
      const sql = preparedSql(`INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${arrays})${tail}`);
      const out: R[] = [];
      for (let i = 0; i < rows.length; i += PG_CHUNK) {
        const chunk = rows.slice(i, i + PG_CHUNK);
        const values = columns.map((_, j) => chunk.map((row) => row[j]));
        out.push(...((await pg.query({ name: sql.name, text: sql.pgText, values })).rows as R[]));
      }
      return out;
    });
  }
  const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${tail}`;
  return transaction(db, (trx) =>
    onConnection(trx.client, (conn) => {
      const stmt = sqliteStatement(conn as SqliteConnection, sql);
      if (!returning.length) {
        for (const row of rows) stmt.run(row.map(sqliteValue));
        return [];
      }
      return rows.flatMap((row) => stmt.all(row.map(sqliteValue)) as R[]);
    }),
  );
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
 * UPDATE for each, in one transaction. PostgreSQL: one UPDATE … FROM unnest(arrays) for up to
 * 10,000 rows, so a run that finishes thousands of rows does not pay a round trip for each.
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
      for (let i = 0; i < rows.length; i += PG_CHUNK) {
        const chunk = rows.slice(i, i + PG_CHUNK);
        await (conn as PgConnection).query({ name: sql.name, text: sql.pgText, values: names.map((_, j) => chunk.map((r) => r[j])) });
      }
    });
    return;
  }
  await transaction(db, (trx) =>
    onConnection(trx.client, (conn) => {
      const stmt = sqliteStatement(conn as SqliteConnection, `UPDATE ${table} SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE ${key} = ?`);
      for (const [id, ...values] of rows) stmt.run([...values, id].map(sqliteValue));
    }),
  );
}
