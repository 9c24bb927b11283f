import Database from 'better-sqlite3';
import pg from 'pg';
import { dialectOfUrl, sqliteFilename } from '../src/db';

/**
 * The baseline of the settlement scenario: a bare script that reads the same revenue lines (with
 * the referrals of their contracts) in batches by id and inserts the same number of statement
 * lines, in one transaction, with plain float arithmetic and no rules, rounding or ledger. The lines
 * go into a scratch table shaped like statement_lines (same columns and indexes), dropped after.
 *
 *   node --import tsx bench/settle-baseline.ts <through yyyy-MM-dd> <statement lines to insert>
 *
 * Prints `inserted <n>` and `seconds <s>`: the time from the first read to the commit (creating and
 * dropping the scratch table are not counted).
 */
const [through, wanted] = [process.argv[2]!, Number(process.argv[3])];
const url = process.env.DATABASE_URL!;
const BATCH = 5_000;
let seconds = 0;
const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

interface PairRow {
  id: number;
  contract_id: number;
  amount: string;
  period_start: string;
  period_end: string;
  referral_id: number;
  referrer_id: number;
  percentage: string;
  billing_start_date: string;
  billing_end_date: string | null;
}

const READ = `SELECT l.id, l.contract_id, l.amount, l.period_start, l.period_end, r.id AS referral_id, r.referrer_id,
  r.percentage, r.billing_start_date, r.billing_end_date
  FROM revenue_lines l JOIN referrals r ON r.contract_id = l.contract_id
  WHERE l.period_end <= ? AND l.id > ? AND l.id <= ? ORDER BY l.id, r.id`;

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

/** One statement line for a (line, referral) pair whose billing window meets the period, or null. */
function lineOf(p: PairRow): unknown[] | null {
  const from = Math.max(day(p.period_start), day(p.billing_start_date));
  const to = p.billing_end_date === null ? day(p.period_end) : Math.min(day(p.period_end), day(p.billing_end_date));
  if (to < from) return null;
  const periodDays = day(p.period_end) - day(p.period_start) + 1;
  const billableDays = to - from + 1;
  const share = (Number(p.amount) * billableDays * Number(p.percentage)) / periodDays / 100;
  return [
    p.referrer_id, p.id, p.referral_id, p.contract_id, p.period_start, p.period_end, periodDays, billableDays, p.amount,
    share.toFixed(20), Math.floor(share * 100), String(Math.round((share * 100 - Math.floor(share * 100)) * 1e9)).padStart(40, '0'),
  ];
}

const COLUMNS = 'statement_id, revenue_line_id, referral_id, contract_id, period_start, period_end, period_days, billable_days, revenue_amount, exact_amount, amount_minor, remainder_key';

function ddl(id: string, decimal: (p: number, s: number) => string): string[] {
  return [
    `CREATE TABLE bench_baseline_lines (id ${id}, statement_id integer NOT NULL, revenue_line_id integer NOT NULL,
      referral_id integer NOT NULL, contract_id integer NOT NULL, period_start varchar(10) NOT NULL, period_end varchar(10) NOT NULL,
      period_days integer NOT NULL, billable_days integer NOT NULL, revenue_amount ${decimal(24, 6)} NOT NULL,
      exact_amount ${decimal(50, 20)} NOT NULL, amount_minor bigint NOT NULL, remainder_key varchar(40) NOT NULL,
      UNIQUE (revenue_line_id, referral_id))`,
    'CREATE INDEX bench_baseline_lines_statement ON bench_baseline_lines (statement_id, remainder_key)',
  ];
}

async function sqlite(): Promise<number> {
  const db = new Database(sqliteFilename(url));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('DROP TABLE IF EXISTS bench_baseline_lines');
  for (const sql of ddl('integer PRIMARY KEY AUTOINCREMENT', () => 'text')) db.exec(sql);
  const read = db.prepare(READ);
  const insert = db.prepare(`INSERT INTO bench_baseline_lines (${COLUMNS}) VALUES (${COLUMNS.split(',').map(() => '?').join(', ')})`);
  const maxId = (db.prepare('SELECT max(id) FROM revenue_lines').pluck().get() as number) ?? 0;
  let inserted = 0;
  const started = process.hrtime.bigint();
  db.transaction(() => {
    for (let after = 0; after < maxId && inserted < wanted; after += BATCH) {
      for (const pair of read.all(through, after, after + BATCH) as PairRow[]) {
        const line = lineOf(pair);
        if (!line || inserted >= wanted) continue;
        insert.run(line);
        inserted += 1;
      }
    }
  }).immediate();
  seconds = since(started);
  db.exec('DROP TABLE bench_baseline_lines');
  db.close();
  return inserted;
}

async function postgres(): Promise<number> {
  pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('DROP TABLE IF EXISTS bench_baseline_lines');
  for (const sql of ddl('serial PRIMARY KEY', (p, s) => `numeric(${p}, ${s})`)) await client.query(sql);
  let n = 0;
  const read = { name: 'read', text: READ.replace(/\?/g, () => `$${++n}`) };
  const types = ['int', 'int', 'int', 'int', 'text', 'text', 'int', 'int', 'numeric', 'numeric', 'bigint', 'text'];
  const insert = {
    name: 'insert',
    text: `INSERT INTO bench_baseline_lines (${COLUMNS}) SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
  };
  const { rows } = await client.query('SELECT max(id) AS max FROM revenue_lines');
  const maxId = Number(rows[0].max ?? 0);
  let inserted = 0;
  const started = process.hrtime.bigint();
  await client.query('BEGIN');
  for (let after = 0; after < maxId && inserted < wanted; after += BATCH) {
    const pairs = (await client.query({ ...read, values: [through, after, after + BATCH] })).rows as PairRow[];
    const lines: unknown[][] = [];
    for (const pair of pairs) {
      const line = lineOf(pair);
      if (line && inserted + lines.length < wanted) lines.push(line);
    }
    if (lines.length) await client.query({ ...insert, values: types.map((_, j) => lines.map((l) => l[j])) });
    inserted += lines.length;
  }
  await client.query('COMMIT');
  seconds = since(started);
  await client.query('DROP TABLE bench_baseline_lines');
  await client.end();
  return inserted;
}

const inserted = await (dialectOfUrl(url) === 'sqlite' ? sqlite() : postgres());
console.log(`inserted ${inserted}`);
console.log(`seconds ${seconds.toFixed(3)}`);
