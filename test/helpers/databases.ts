import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { createDb, dialectOf } from '../../src/db';
import { migrateLatest } from '../../migrations';

/**
 * The databases every integration and API suite runs on, the way Knex's own suite does: SQLite
 * always, PostgreSQL as well when TEST_DATABASE_URL is set. Each suite gets a fresh database
 * (a temporary file, or a new PostgreSQL database created for it and dropped after).
 */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** A URL for a new, empty database (migrated, unless told not to), and how to drop it. */
  create(options?: { migrate?: boolean }): Promise<{ url: string; db: Knex; drop(): Promise<void> }>;
}

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'referrals-test-'));
process.on('exit', () => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const sqlite: TestDatabase = {
  name: 'sqlite',
  async create(options = {}) {
    const file = path.join(tmpRoot, `${crypto.randomUUID()}.db`);
    const url = `sqlite:${file}`;
    const db = createDb(url);
    if (options.migrate !== false) await migrateLatest(db);
    return {
      url,
      db,
      async drop() {
        await db.destroy();
        for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
      },
    };
  },
};

function postgres(adminUrl: string): TestDatabase {
  return {
    name: 'postgres',
    async create(options = {}) {
      const name = `referrals_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
      const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
      await admin.raw('CREATE DATABASE ??', [name]);
      const u = new URL(adminUrl);
      u.pathname = `/${name}`;
      const url = u.toString();
      const db = createDb(url, { poolMax: 10 });
      if (options.migrate !== false) await migrateLatest(db);
      return {
        url,
        db,
        async drop() {
          await db.destroy();
          await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
          await admin.destroy();
        },
      };
    },
  };
}

export const testDatabases: TestDatabase[] = [
  sqlite,
  ...(process.env.TEST_DATABASE_URL ? [postgres(process.env.TEST_DATABASE_URL)] : []),
];

/** Empties every table and restarts ids, so each test starts from nothing. */
export async function resetDatabase(db: Knex): Promise<void> {
  // Server processes of a suite may be writing to the same database (their delivery worker
  // numbers the events of the last test): a lock it holds is waited for, a little at a time, and
  // a deadlock with it (PostgreSQL's TRUNCATE locks every table) is tried again.
  for (let attempt = 1; ; attempt++) {
    try {
      await emptyTables(db);
      return;
    } catch (err) {
      if (!/SQLITE_BUSY|database is locked|deadlock detected/.test(String(err)) || attempt >= 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

async function emptyTables(db: Knex): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    const rows: { tablename: string }[] = (
      await db.raw("select tablename from pg_tables where schemaname = current_schema() and tablename not like 'knex_%'")
    ).rows;
    if (rows.length) {
      await db.raw(`TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`);
    }
    return;
  }
  const rows: { name: string }[] = await db.raw(
    "select name from sqlite_master where type = 'table' and name not like 'knex_%' and name not like 'sqlite_%'",
  );
  await db.transaction(async (trx) => {
    await trx.raw('PRAGMA defer_foreign_keys = ON');
    for (const { name } of rows) await trx(name).delete();
    const seq = await trx.raw("select name from sqlite_master where name = 'sqlite_sequence'");
    if (seq.length) await trx('sqlite_sequence').delete();
  });
}
