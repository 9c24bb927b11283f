import { spawn } from 'node:child_process';
import type { Knex } from 'knex';
import { insertRows, transaction } from '../../src/db';
import { addDays } from '../../src/domain/dates';
import { ROOT } from './server-process';

/**
 * A portfolio written straight into the database (fast enough for thousands of lines): owners
 * with one contract each, every contract referred by the same referrers at small percentages,
 * with percentage changes, ends and archives, and revenue lines of varied periods, amounts and
 * credit notes. Deterministic for a seed, so that two runs over it can be compared line for line.
 */
export interface PortfolioShape {
  owners: number;
  referrers: number;
  linesPerContract: number;
  seed?: number;
  currencies?: string[];
}

export async function seedPortfolio(db: Knex, shape: PortfolioShape): Promise<{ contractIds: number[]; ownerIds: number[]; referrerIds: number[] }> {
  let state = shape.seed ?? 7;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const currencies = shape.currencies ?? ['EUR', 'JPY', 'KWD', 'USD'];
  const at = '2026-09-01T00:00:00.000Z';
  return transaction(db, async (trx) => {
    const units = await insertRows<{ id: number; code: string }>(
      trx,
      'business_units',
      ['code', 'name', 'created_at', 'version'],
      Array.from({ length: shape.owners + shape.referrers }, (_, i) => [`BU-${i + 1}`, `Unit ${i + 1}`, at, 1]),
      ['id', 'code'],
    );
    const ids = units.sort((a, b) => a.id - b.id).map((u) => u.id);
    const ownerIds = ids.slice(0, shape.owners);
    const referrerIds = ids.slice(shape.owners);
    const contracts = await insertRows<{ id: number; bunit_id: number }>(
      trx,
      'contracts',
      ['bunit_id', 'number', 'name', 'currency', 'start_date', 'created_at', 'version'],
      ownerIds.map((owner, i) => [owner, `C-${i + 1}`, `Contract ${i + 1}`, currencies[i % currencies.length], '2026-01-01', at, 1]),
      ['id', 'bunit_id'],
    );
    const contractIds = contracts.map((c) => c.id).sort((a, b) => a - b);
    for (const contractId of contractIds) {
      const referrals = await insertRows<{ id: number; referrer_id: number }>(
        trx,
        'referrals',
        ['contract_id', 'referrer_id', 'percentage', 'billing_start_date', 'billing_end_date', 'created_at', 'archived_at', 'version'],
        referrerIds.map((referrer) => {
          const start = addDays('2026-09-01', Math.floor(random() * 30));
          const end = random() < 0.3 ? addDays(start, 10 + Math.floor(random() * 40)) : null;
          const archived = random() < 0.1 ? `${addDays(start, 20)}T10:00:00.000Z` : null;
          return [contractId, referrer, pick(['2.5', '3', '1.25', '4.1234']), start, end, at, archived, 1];
        }),
        ['id', 'referrer_id'],
      );
      const history: unknown[][] = [];
      for (const r of await trx('referrals').select('id', 'billing_start_date', 'percentage').whereIn('id', referrals.map((x) => x.id))) {
        const start = String(r.billing_start_date);
        if (random() < 0.4) {
          const change = addDays(start, 5 + Math.floor(random() * 20));
          history.push([r.id, start, addDays(change, -1), String(r.percentage)], [r.id, change, null, pick(['2', '3.5', '0.75'])]);
        } else {
          history.push([r.id, start, null, String(r.percentage)]);
        }
      }
      await insertRows(trx, 'referral_percentages', ['referral_id', 'from_date', 'to_date', 'percentage'], history);
      await insertRows(
        trx,
        'revenue_lines',
        ['contract_id', 'external_id', 'amount', 'currency', 'period_start', 'period_end', 'created_at'],
        Array.from({ length: shape.linesPerContract }, (_, i) => {
          const periodStart = addDays('2026-09-01', Math.floor(random() * 50));
          const periodEnd = addDays(periodStart, pick([0, 0, 6, 29, 30, 45]));
          const sign = random() < 0.1 ? '-' : '';
          const amount = `${sign}${1 + Math.floor(random() * 5000)}.${String(Math.floor(random() * 1000)).padStart(3, '0')}`;
          const currency = currencies[contractIds.indexOf(contractId) % currencies.length];
          return [contractId, `L-${contractId}-${i}`, amount, currency, periodStart, periodEnd > '2026-10-31' ? '2026-10-31' : periodEnd, at];
        }),
      );
    }
    return { contractIds, ownerIds, referrerIds };
  });
}

/** Runs `npm run settle` as its own process on a database. */
export function settleCommand(
  url: string,
  args: string[] = [],
  env: Record<string, string> = {},
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/settle.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
      stderr += c.toString();
      onStderr?.(stderr, child);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

/**
 * A run export with the database's ids replaced by their order of appearance: two runs over the
 * same data give the same rows even where ids differ (PostgreSQL's sequences skip numbers a
 * killed transaction took).
 */
export function normalizedExport(csv: string): string[] {
  const rows = csv.trim().split('\r\n');
  const header = rows[0]!.split(',');
  const renumber = new Map<string, Map<string, number>>();
  const id = (kind: string, value: string) => {
    if (value === '') return '';
    let seen = renumber.get(kind);
    if (!seen) renumber.set(kind, (seen = new Map()));
    if (!seen.has(value)) seen.set(value, seen.size + 1);
    return `#${seen.get(value)}`;
  };
  const column = (name: string) => header.indexOf(name);
  return rows.slice(1).map((row) => {
    const cells = row.split(',');
    cells[column('statementId')] = id('statement', cells[column('statementId')]!);
    cells[column('lineId')] = id('line', cells[column('lineId')]!);
    cells[column('adjustsStatementId')] = id('statement', cells[column('adjustsStatementId')]!);
    cells[column('adjustsLineId')] = id('line', cells[column('adjustsLineId')]!);
    return cells.join(',');
  });
}

/** Forgets every settlement run, so that the same data can be settled again from nothing. */
export async function forgetRuns(db: Knex): Promise<void> {
  for (const table of ['statement_lines', 'settled_pairs', 'settlement_sums', 'statements', 'settlement_run_totals', 'settlement_partitions', 'settlement_runs']) {
    await db(table).delete();
  }
}

/**
 * What the ledger's foreign keys would say, where PostgreSQL's ledger goes without them (see the
 * migration 202612010900): how many rows of each kind point at nothing, the kinds that have any.
 * `{}` in a sound ledger.
 */
export async function ledgerOrphans(db: Knex): Promise<Record<string, number>> {
  const count = async (query: Knex.QueryBuilder) => Number((await query.count({ n: '*' }).first())?.n ?? 0);
  const none = (table: string, on: (q: Knex.QueryBuilder) => void) => function (this: Knex.QueryBuilder) {
    on(this.select(db.raw('1')).from(table));
  };
  const counts = {
    'lines without their statement': await count(db('statement_lines as l').whereNotExists(none('statements as s', (q) => q.whereRaw('s.id = l.statement_id')))),
    'lines without their settled pair': await count(
      db('statement_lines as l').whereNotExists(none('settled_pairs as p', (q) => q.whereRaw('p.revenue_line_id = l.revenue_line_id AND p.referral_id = l.referral_id'))),
    ),
    'settled pairs without their referral': await count(db('settled_pairs as p').whereNotExists(none('referrals as r', (q) => q.whereRaw('r.id = p.referral_id')))),
    'settled pairs without their run': await count(db('settled_pairs as p').whereNotExists(none('settlement_runs as r', (q) => q.whereRaw('r.id = p.run_id')))),
    'settled pairs without their revenue line': await count(db('settled_pairs as p').whereNotExists(none('revenue_lines as rl', (q) => q.whereRaw('rl.id = p.revenue_line_id')))),
  };
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

/**
 * Waits until the lease of a killed settle's run has run out (SETTLEMENT_LEASE_SECONDS of that
 * command): a run is taken over on expiry only, never because its process is gone.
 */
export async function untilRunLeaseRunsOut(db: Knex, runId: number): Promise<void> {
  const row = await db('settlement_runs').select('lease_until').where({ id: runId }).first();
  const until = row?.lease_until ? new Date(row.lease_until).getTime() : 0;
  while (until + 50 > Date.now()) await new Promise((r) => setTimeout(r, 50));
}
