import type { Knex } from 'knex';
import { executePrepared, exactIntegerText, insertRows, preparedSql, queryBuilt, queryPrepared, toIsoTimestamp } from '../db';
import { fetchPage, type Page, type PageResult, type Sort } from './paging';

/**
 * Statements and their lines. A statement belongs to a run and to one (payer, referrer,
 * currency); it is visible once its run completed (finalize sets its total). A line's exact share
 * is the rational exact_num / (10^12 × period_days); its amount is floor_minor + round_up minor
 * units, round_up being set by finalize for the lines with the largest remainders.
 */

export interface StatementKey {
  payerId: number;
  referrerId: number;
  currency: string;
}

export const statementKeyOf = (k: StatementKey) => `${k.payerId}/${k.referrerId}/${k.currency}`;

/**
 * The ids of a run's statements for these keys, opening those that do not exist yet. Two workers
 * opening the same statement at once: one inserts it, the other finds it.
 */
export async function openStatements(trx: Knex, runId: number, createdAt: string, keys: StatementKey[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const k of keys) {
    const [inserted] = await queryPrepared<{ id: number }>(trx, OPEN_STATEMENT, [runId, k.payerId, k.referrerId, k.currency, createdAt, false]);
    const id = inserted?.id ?? (await queryPrepared<{ id: number }>(trx, FIND_STATEMENT, [runId, k.payerId, k.referrerId, k.currency]))[0]!.id;
    out.set(statementKeyOf(k), id);
  }
  return out;
}
const OPEN_STATEMENT = preparedSql(
  `INSERT INTO statements (run_id, payer_id, referrer_id, currency, created_at, finalized) VALUES (?, ?, ?, ?, ?, ?)
   ON CONFLICT (run_id, payer_id, referrer_id, currency) DO NOTHING RETURNING id`,
);
const FIND_STATEMENT = preparedSql('SELECT id FROM statements WHERE run_id = ? AND payer_id = ? AND referrer_id = ? AND currency = ?');

export interface NewStatementLine {
  runId: number;
  statementId: number;
  kind: 'share' | 'adjustment';
  revenueLineId: number;
  referralId: number;
  contractId: number;
  periodStart: string;
  periodEnd: string;
  periodDays: number;
  billableDays: number;
  revenueAmount: string;
  /** The exact share × 10^12 × periodDays: an integer. */
  exactNum: bigint;
  /** floor(exact) in minor units; finalize adds one to the lines that get it. */
  floorMinor: bigint;
  remainderKey: string;
  adjusts: { statementId: number; lineId: number } | null;
}

const LINE_COLUMNS = [
  'run_id', 'statement_id', 'kind', 'revenue_line_id', 'referral_id', 'contract_id', 'period_start', 'period_end', 'period_days',
  'billable_days', 'revenue_amount', 'exact_num', 'floor_minor', 'round_up', 'remainder_key', 'adjusts_statement_id', 'adjusts_line_id',
];

export async function insertStatementLines(trx: Knex, lines: NewStatementLine[]): Promise<void> {
  await insertRows(
    trx,
    'statement_lines',
    LINE_COLUMNS,
    lines.map((l) => [
      l.runId, l.statementId, l.kind, l.revenueLineId, l.referralId, l.contractId, l.periodStart, l.periodEnd, l.periodDays,
      l.billableDays, l.revenueAmount, l.exactNum.toString(), l.floorMinor.toString(), 0, l.remainderKey,
      l.adjusts?.statementId ?? null, l.adjusts?.lineId ?? null,
    ]),
  );
}

/** A page of the statements of a run that finalize has not rounded yet, after the id `after`. */
export async function unfinalizedStatements(db: Knex, runId: number, after: number, limit: number): Promise<{ id: number; currency: string }[]> {
  return queryPrepared(db, UNFINALIZED, [runId, false, after, limit]);
}
const UNFINALIZED = preparedSql('SELECT id, currency FROM statements WHERE run_id = ? AND finalized = ? AND id > ? ORDER BY id LIMIT ?');

/**
 * Gives one more minor unit to the k lines of each statement with the largest remainders (ties:
 * lower revenue line id, then lower referral id): one statement for many statements, ranking
 * each statement's lines with a window function.
 */
export async function roundUpLargestRemainders(trx: Knex, extra: { statementId: number; k: number }[]): Promise<void> {
  const due = extra.filter((e) => e.k > 0);
  for (let i = 0; i < due.length; i += 500) {
    const chunk = due.slice(i, i + 500);
    const cases = chunk.map(() => 'WHEN ? THEN CAST(? AS INTEGER)').join(' ');
    const sql = preparedSql(
      `UPDATE statement_lines SET round_up = 1 WHERE id IN (
        SELECT id FROM (
          SELECT id, statement_id, ROW_NUMBER() OVER (PARTITION BY statement_id ORDER BY remainder_key DESC, revenue_line_id ASC, referral_id ASC) AS rank
          FROM statement_lines WHERE statement_id IN (${chunk.map(() => '?').join(', ')})
        ) ranked WHERE ranked.rank <= CASE ranked.statement_id ${cases} END)`,
    );
    await executePrepared(trx, sql, [...chunk.map((e) => e.statementId), ...chunk.flatMap((e) => [e.statementId, e.k])]);
  }
}

/** Sets a statement's total and line count; from now on it is final. False when it was final already. */
export async function finalizeStatement(trx: Knex, id: number, totalMinor: bigint, lineCount: number): Promise<boolean> {
  return (await executePrepared(trx, FINALIZE_STATEMENT, [totalMinor.toString(), lineCount, true, id, false])) === 1;
}
const FINALIZE_STATEMENT = preparedSql('UPDATE statements SET total_minor = ?, line_count = ?, finalized = ? WHERE id = ? AND finalized = ?');

/** Locks a statement for finalize and tells whether it still needs it (PostgreSQL: a row lock; SQLite: the write lock). */
export async function lockUnfinalizedStatement(trx: Knex.Transaction, id: number): Promise<boolean> {
  const forUpdate = trx.client.config.client === 'pg' ? ' FOR UPDATE' : '';
  const rows = await queryPrepared<{ finalized: boolean | number }>(trx, preparedSql(`SELECT finalized FROM statements WHERE id = ?${forUpdate}`), [id]);
  return rows.length === 1 && !rows[0]!.finalized;
}

// ---- reading ----------------------------------------------------------------------------------

export interface PartyRecord {
  id: number;
  code: string;
  name: string;
}

export interface StatementRecord {
  id: number;
  runId: number;
  payer: PartyRecord;
  referrer: PartyRecord;
  currency: string;
  totalMinor: bigint;
  lineCount: number;
  createdAt: string;
}

export interface StatementLineRecord {
  id: number;
  kind: 'share' | 'adjustment';
  revenueLineId: number;
  referralId: number;
  contractId: number;
  periodStart: string;
  periodEnd: string;
  periodDays: number;
  billableDays: number;
  revenueAmount: string;
  exactNum: bigint;
  amountMinor: bigint;
  adjusts: { statementId: number; lineId: number } | null;
}

interface StatementRow {
  id: number;
  run_id: number;
  payer_id: number;
  payer_code: string;
  payer_name: string;
  referrer_id: number;
  referrer_code: string;
  referrer_name: string;
  currency: string;
  total_minor: string;
  line_count: number;
  created_at: Date | string;
}

/** Statements with their parties; only final ones (a running run's statements are listed nowhere). */
function statementQuery(db: Knex) {
  return db({ s: 'statements' })
    .join({ p: 'business_units' }, 'p.id', 's.payer_id')
    .join({ f: 'business_units' }, 'f.id', 's.referrer_id')
    .select(
      's.id',
      's.run_id',
      's.payer_id',
      { payer_code: 'p.code', payer_name: 'p.name' },
      's.referrer_id',
      { referrer_code: 'f.code', referrer_name: 'f.name' },
      's.currency',
      exactIntegerText(db, 's.total_minor', 'total_minor'),
      's.line_count',
      's.created_at',
    )
    .where('s.finalized', true);
}

const toStatement = (r: StatementRow): StatementRecord => ({
  id: r.id,
  runId: r.run_id,
  payer: { id: r.payer_id, code: r.payer_code, name: r.payer_name },
  referrer: { id: r.referrer_id, code: r.referrer_code, name: r.referrer_name },
  currency: r.currency,
  totalMinor: BigInt(r.total_minor),
  lineCount: r.line_count,
  createdAt: toIsoTimestamp(r.created_at)!,
});

export async function findStatement(db: Knex, id: number): Promise<StatementRecord | undefined> {
  const row: StatementRow | undefined = await statementQuery(db).where('s.id', id).first();
  return row && toStatement(row);
}

export interface StatementFilter {
  /** The business unit that pays or earns; none: every statement (the run's list, for admins). */
  bunitId?: number | undefined;
  role: 'payer' | 'referrer' | 'any';
  runId?: number | undefined;
  currency?: string | undefined;
}

const STATEMENT_SORT = { id: 's.id', runId: 's.run_id', createdDate: 's.created_at' } as const;

export async function listStatements(
  db: Knex,
  filter: StatementFilter,
  sort: Sort<keyof typeof STATEMENT_SORT>,
  page: Page,
): Promise<PageResult<StatementRecord>> {
  const query = statementQuery(db);
  const { bunitId } = filter;
  if (bunitId !== undefined) {
    if (filter.role === 'payer') query.where('s.payer_id', bunitId);
    else if (filter.role === 'referrer') query.where('s.referrer_id', bunitId);
    else query.where((q) => q.where('s.payer_id', bunitId).orWhere('s.referrer_id', bunitId));
  }
  if (filter.runId !== undefined) query.where('s.run_id', filter.runId);
  if (filter.currency !== undefined) query.where('s.currency', filter.currency);
  const result = await fetchPage<StatementRow>(query, 's.id', STATEMENT_SORT[sort.field], sort, page);
  return { rows: result.rows.map(toStatement), total: result.total };
}

interface LineRow {
  id: number;
  kind: 'share' | 'adjustment';
  revenue_line_id: number;
  referral_id: number;
  contract_id: number;
  period_start: string;
  period_end: string;
  period_days: number;
  billable_days: number;
  revenue_amount: string;
  exact_num: string;
  floor_minor: string;
  round_up: number;
  adjusts_statement_id: number | null;
  adjusts_line_id: number | null;
}

const LINE_SELECT = `id, kind, revenue_line_id, referral_id, contract_id, period_start, period_end, period_days, billable_days,
  CAST(revenue_amount AS TEXT) AS revenue_amount, CAST(exact_num AS TEXT) AS exact_num, CAST(floor_minor AS TEXT) AS floor_minor,
  round_up, adjusts_statement_id, adjusts_line_id`;

const toLine = (r: LineRow): StatementLineRecord => ({
  id: r.id,
  kind: r.kind,
  revenueLineId: r.revenue_line_id,
  referralId: r.referral_id,
  contractId: r.contract_id,
  periodStart: r.period_start,
  periodEnd: r.period_end,
  periodDays: r.period_days,
  billableDays: r.billable_days,
  revenueAmount: r.revenue_amount,
  exactNum: BigInt(r.exact_num),
  amountMinor: BigInt(r.floor_minor) + BigInt(r.round_up),
  adjusts: r.adjusts_line_id === null ? null : { statementId: r.adjusts_statement_id!, lineId: r.adjusts_line_id },
});

/** A page of a statement's lines in their order (revenue line, then referral), after the pair (`after`). */
const LINES_AFTER = preparedSql(
  `SELECT ${LINE_SELECT} FROM statement_lines WHERE statement_id = ? AND (revenue_line_id > ? OR (revenue_line_id = ? AND referral_id > ?))
   ORDER BY revenue_line_id, referral_id LIMIT ?`,
);

/** The lines of a statement, page by page (memory holds one page), in their order. */
export async function* statementLines(db: Knex, statementId: number, pageSize = 5000): AsyncGenerator<StatementLineRecord[]> {
  let after = { line: 0, referral: 0 };
  for (;;) {
    const rows = await queryPrepared<LineRow>(db, LINES_AFTER, [statementId, after.line, after.line, after.referral, pageSize]);
    if (rows.length === 0) return;
    yield rows.map(toLine);
    const last = rows[rows.length - 1]!;
    after = { line: last.revenue_line_id, referral: last.referral_id };
    if (rows.length < pageSize) return;
  }
}

export async function findStatementLines(db: Knex, statementId: number): Promise<StatementLineRecord[]> {
  const out: StatementLineRecord[] = [];
  for await (const page of statementLines(db, statementId)) out.push(...page);
  return out;
}

/**
 * The statements of a completed run in the order of their key (payer, referrer, currency), page by
 * page: the run export walks them, then each one's lines.
 */
export async function* statementsOfRun(db: Knex, runId: number, pageSize = 1000): AsyncGenerator<StatementRecord[]> {
  for (let offset = 0; ; offset += pageSize) {
    const rows = await queryBuilt<StatementRow>(
      statementQuery(db).where('s.run_id', runId).orderBy(['s.payer_id', 's.referrer_id', 's.currency']).limit(pageSize).offset(offset),
    );
    if (rows.length === 0) return;
    yield rows.map(toStatement);
    if (rows.length < pageSize) return;
  }
}

/** A statement a partition opened whose lines were then rolled back: it has none, and goes. */
export async function deleteEmptyStatement(trx: Knex, id: number): Promise<void> {
  await trx('statements').where({ id, finalized: false }).delete();
}

/** The totals and line counts of a run's final statements, for the run's totals per currency. */
export async function statementTotalsOfRun(db: Knex, runId: number): Promise<{ currency: string; totalMinor: bigint; lineCount: number }[]> {
  const rows: { currency: string; total_minor: string; line_count: number }[] = await db('statements')
    .select('currency', exactIntegerText(db, 'total_minor', 'total_minor'), 'line_count')
    .where({ run_id: runId, finalized: true });
  return rows.map((r) => ({ currency: r.currency, totalMinor: BigInt(r.total_minor), lineCount: r.line_count }));
}
