import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createDb, dialectOfUrl, sqliteFilename, type Dialect } from '../../src/db';
import { migrateLatest } from '../../migrations';
import {
  CREATED_AT,
  bunits,
  contracts,
  referrals,
  revenueChunks,
  type DatasetSize,
} from './dataset';

/** A fresh database for one bench run, dropped afterwards. */
export interface BenchDatabase {
  url: string;
  dialect: Dialect;
  drop(): Promise<void>;
}

/**
 * SQLite (no DATABASE_URL or sqlite:…): a new file in a temporary directory. PostgreSQL: a new
 * database on the server DATABASE_URL names (its own database is only used to create and drop it).
 */
export async function createBenchDatabase(baseUrl: string | undefined): Promise<BenchDatabase> {
  if (!baseUrl || dialectOfUrl(baseUrl) === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'referral-bench-'));
    return {
      url: `sqlite:${path.join(dir, 'bench.db')}`,
      dialect: 'sqlite',
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `referral_bench_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dialect: 'postgres',
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A column and its PostgreSQL array type for unnest(). */
type Column = readonly [name: string, pgType: string];

interface TableWriter {
  insert(table: string, columns: readonly Column[], rows: unknown[][]): Promise<void>;
  finish(): Promise<void>;
}

/** SQLite: one prepared statement per table, everything in one transaction, no fsync while seeding. */
function sqliteWriter(url: string): TableWriter {
  const db = new Database(sqliteFilename(url));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec('BEGIN');
  return {
    async insert(table, columns, rows) {
      const stmt = db.prepare(`INSERT INTO ${table} (${columns.map((c) => c[0]).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
      for (const row of rows) stmt.run(row);
    },
    async finish() {
      db.exec('COMMIT');
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

/** PostgreSQL: INSERT … SELECT FROM unnest(column arrays), 20,000 rows a statement. */
async function postgresWriter(url: string): Promise<TableWriter> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  const tables = new Set<string>();
  return {
    async insert(table, columns, rows) {
      tables.add(table);
      const sql =
        `INSERT INTO ${table} (${columns.map((c) => c[0]).join(', ')}) ` +
        `SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${c[1]}[]`).join(', ')})`;
      for (let i = 0; i < rows.length; i += 20_000) {
        const chunk = rows.slice(i, i + 20_000);
        await client.query(sql, columns.map((_, j) => chunk.map((r) => r[j])));
      }
    },
    async finish() {
      for (const table of tables) {
        await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
      }
      await client.query('COMMIT');
      // What autovacuum would do on a live database after such a load.
      await client.query('ANALYZE');
      await client.end();
    },
  };
}

const BUNIT_COLUMNS = [['id', 'int'], ['code', 'text'], ['name', 'text'], ['created_at', 'timestamptz'], ['version', 'int']] as const;
const CONTRACT_COLUMNS = [
  ['id', 'int'], ['bunit_id', 'int'], ['number', 'text'], ['name', 'text'], ['customer', 'text'], ['currency', 'text'],
  ['start_date', 'date'], ['created_at', 'timestamptz'], ['version', 'int'],
] as const;
const REFERRAL_COLUMNS = [
  ['id', 'int'], ['contract_id', 'int'], ['referrer_id', 'int'], ['percentage', 'numeric'], ['billing_start_date', 'date'],
  ['billing_end_date', 'date'], ['created_at', 'timestamptz'], ['version', 'int'],
] as const;
const HISTORY_COLUMNS = [['id', 'int'], ['referral_id', 'int'], ['from_date', 'date'], ['to_date', 'date'], ['percentage', 'numeric']] as const;
const REVENUE_COLUMNS = [
  ['id', 'int'], ['contract_id', 'int'], ['external_id', 'text'], ['amount', 'numeric'], ['currency', 'text'],
  ['period_start', 'date'], ['period_end', 'date'], ['created_at', 'timestamptz'],
] as const;

export interface SeedCounts {
  bunits: number;
  contracts: number;
  referrals: number;
  revenueLines: number;
}

/** Migrates (the service's own migrations), then writes the data set directly, in bulk. */
export async function seedDatabase(url: string, size: DatasetSize): Promise<SeedCounts> {
  const knex = createDb(url);
  try {
    await migrateLatest(knex);
  } finally {
    await knex.destroy();
  }
  const writer = dialectOfUrl(url) === 'sqlite' ? sqliteWriter(url) : await postgresWriter(url);
  const units = bunits(size);
  await writer.insert('business_units', BUNIT_COLUMNS, units.map((b) => [b.id, b.code, b.name, CREATED_AT, 1]));
  const allContracts = contracts(size);
  await writer.insert(
    'contracts',
    CONTRACT_COLUMNS,
    allContracts.map((c) => [c.id, c.bunitId, c.number, c.name, c.customer, c.currency, c.startDate, CREATED_AT, 1]),
  );
  const refs = referrals(size);
  await writer.insert(
    'referrals',
    REFERRAL_COLUMNS,
    refs.map((r) => [r.id, r.contractId, r.referrerId, r.percentage, r.billingStartDate, r.billingEndDate, CREATED_AT, 1]),
  );
  let historyId = 0;
  await writer.insert(
    'referral_percentages',
    HISTORY_COLUMNS,
    refs.flatMap((r) => r.history.map((h) => [++historyId, r.id, h.from, h.to, h.percentage])),
  );
  let revenueLines = 0;
  for (const chunk of revenueChunks(size)) {
    await writer.insert(
      'revenue_lines',
      REVENUE_COLUMNS,
      chunk.map((l) => [l.id, l.contractId, l.externalId, l.amount, l.currency, l.periodStart, l.periodEnd, CREATED_AT]),
    );
    revenueLines += chunk.length;
  }
  await writer.finish();
  return { bunits: units.length, contracts: allContracts.length, referrals: refs.length, revenueLines };
}
