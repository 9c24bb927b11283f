import type { Knex } from 'knex';
import { executePrepared, insertRows, exactIntegerText, preparedSql, queryBuilt, queryPrepared, toIsoTimestamp, updateRows } from '../db';
import { fetchPage, type Page, type PageResult, type Sort } from './paging';

/** SQL of settlement runs, statements, statement lines and the settled-pairs ledger. */

export interface CandidateLine {
  id: number;
  contractId: number;
  amount: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
}

const UNSETTLED_PAIR_EXISTS = `EXISTS (
  SELECT 1 FROM referrals r
  WHERE r.contract_id = l.contract_id
    AND NOT EXISTS (SELECT 1 FROM settled_pairs sp WHERE sp.revenue_line_id = l.id AND sp.referral_id = r.id)
)`;

/** Revenue lines ending on or before `through` that have a referral they are not settled with. */
export async function countCandidateLines(db: Knex, through: string): Promise<number> {
  const row = await db({ l: 'revenue_lines' }).where('l.period_end', '<=', through).whereRaw(UNSETTLED_PAIR_EXISTS).count({ n: '*' }).first();
  return Number((row as { n: number | string } | undefined)?.n ?? 0);
}

// The run's own inserts grow settled_pairs under this query: planned for each batch (replan).
const NEXT_CANDIDATE_LINES = preparedSql(
  `SELECT l.id, l.contract_id FROM revenue_lines l WHERE l.period_end <= ? AND l.id > ? AND ${UNSETTLED_PAIR_EXISTS} ORDER BY l.id LIMIT ?`,
  { replan: true },
);

export async function nextCandidateLineIds(
  db: Knex,
  through: string,
  afterId: number,
  limit: number,
): Promise<{ id: number; contractId: number }[]> {
  const rows = await queryPrepared<{ id: number; contract_id: number }>(db, NEXT_CANDIDATE_LINES, [through, afterId, limit]);
  return rows.map((r) => ({ id: r.id, contractId: r.contract_id }));
}

export async function loadLines(db: Knex, ids: number[]): Promise<CandidateLine[]> {
  if (ids.length === 0) return [];
  const rows: {
    id: number;
    contract_id: number;
    amount: string;
    currency: string;
    period_start: string;
    period_end: string;
  }[] = await queryBuilt(
    db('revenue_lines').select('id', 'contract_id', 'amount', 'currency', 'period_start', 'period_end').whereIn('id', ids).orderBy('id'),
  );
  return rows.map((r) => ({
    id: r.id,
    contractId: r.contract_id,
    amount: String(r.amount),
    currency: r.currency,
    periodStart: r.period_start,
    periodEnd: r.period_end,
  }));
}

/** For each line, the referrals it is already settled with. */
export async function settledReferralsOf(db: Knex, lineIds: number[]): Promise<Map<number, Set<number>>> {
  const out = new Map<number, Set<number>>();
  if (lineIds.length === 0) return out;
  const rows = await queryBuilt<{ revenue_line_id: number; referral_id: number }>(
    db('settled_pairs').select('revenue_line_id', 'referral_id').whereIn('revenue_line_id', lineIds),
    { replan: true },
  );
  for (const r of rows) {
    const set = out.get(r.revenue_line_id) ?? new Set<number>();
    set.add(r.referral_id);
    out.set(r.revenue_line_id, set);
  }
  return out;
}

/** R9: the last day already settled (paid for) for a referral, or null. */
export async function lastSettledDay(db: Knex, referralId: number): Promise<string | null> {
  const row = await db('settled_pairs').where({ referral_id: referralId }).max({ last: 'last_billable_date' }).first();
  return ((row as { last: string | null } | undefined)?.last ?? null) as string | null;
}

export async function insertRun(trx: Knex, values: { through: string; createdBy: string; createdAt: string }): Promise<number> {
  const [row] = await trx('settlement_runs')
    .insert({ through: values.through, created_by: values.createdBy, created_at: values.createdAt })
    .returning('id');
  return (row as { id: number }).id;
}

export interface StatementKey {
  payerId: number;
  referrerId: number;
  currency: string;
}

/** Opens the statements of a run, one per key; their ids, in the order of the keys. */
export async function insertStatements(trx: Knex, runId: number, createdAt: string, keys: StatementKey[]): Promise<number[]> {
  const rows = await insertRows<{ id: number; payer_id: number; referrer_id: number; currency: string }>(
    trx,
    'statements',
    ['run_id', 'payer_id', 'referrer_id', 'currency', 'created_at'],
    keys.map((k) => [runId, k.payerId, k.referrerId, k.currency, createdAt]),
    ['id', 'payer_id', 'referrer_id', 'currency'],
  );
  const ids = new Map(rows.map((r) => [`${r.payer_id}/${r.referrer_id}/${r.currency}`, r.id]));
  return keys.map((k) => ids.get(`${k.payerId}/${k.referrerId}/${k.currency}`)!);
}

export interface NewStatementLine {
  statementId: number;
  revenueLineId: number;
  referralId: number;
  contractId: number;
  periodStart: string;
  periodEnd: string;
  periodDays: number;
  billableDays: number;
  revenueAmount: string;
  exactAmount: string;
  /** floor(exact) in minor units; the rounding step adds one to the lines that get it. */
  floorMinor: bigint;
  remainderKey: string;
}

export interface NewSettledPair {
  revenueLineId: number;
  referralId: number;
  runId: number;
  lastBillableDate: string | null;
}

const STATEMENT_LINE_COLUMNS = [
  'statement_id', 'revenue_line_id', 'referral_id', 'contract_id', 'period_start', 'period_end', 'period_days',
  'billable_days', 'revenue_amount', 'exact_amount', 'amount_minor', 'remainder_key',
];

export async function insertStatementLines(trx: Knex, lines: NewStatementLine[]): Promise<void> {
  await insertRows(
    trx,
    'statement_lines',
    STATEMENT_LINE_COLUMNS,
    lines.map((l) => [
      l.statementId, l.revenueLineId, l.referralId, l.contractId, l.periodStart, l.periodEnd, l.periodDays, l.billableDays,
      l.revenueAmount, l.exactAmount, l.floorMinor.toString(), l.remainderKey,
    ]),
  );
}

/** Inserting a pair twice violates the primary key: the database itself guarantees "at most once". */
export async function insertSettledPairs(trx: Knex, pairs: NewSettledPair[]): Promise<void> {
  await insertRows(
    trx,
    'settled_pairs',
    ['revenue_line_id', 'referral_id', 'run_id', 'last_billable_date'],
    pairs.map((p) => [p.revenueLineId, p.referralId, p.runId, p.lastBillableDate]),
  );
}

/** Sets the totals and line counts of statements. */
export async function finishStatements(trx: Knex, statements: { id: number; totalMinor: bigint; lineCount: number }[]): Promise<void> {
  await updateRows(
    trx,
    'statements',
    'id',
    ['total_minor', 'line_count'],
    ['integer', 'numeric', 'integer'],
    statements.map((s) => [s.id, s.totalMinor.toString(), s.lineCount]),
  );
}

const ROUND_UP_LARGEST_REMAINDERS = preparedSql(`UPDATE statement_lines SET amount_minor = amount_minor + 1 WHERE id IN (
  SELECT id FROM statement_lines WHERE statement_id = ?
  ORDER BY remainder_key DESC, revenue_line_id ASC, referral_id ASC LIMIT ?)`);

/** Gives one more minor unit to the k lines with the largest remainders (ties: lower line id, then referral id). */
export async function roundUpLargestRemainders(trx: Knex, statementId: number, k: number): Promise<void> {
  if (k <= 0) return;
  await executePrepared(trx, ROUND_UP_LARGEST_REMAINDERS, [statementId, k]);
}

export async function finishRun(
  trx: Knex,
  id: number,
  values: { statementCount: number; lineCount: number; totals: { currency: string; amountMinor: bigint }[] },
): Promise<void> {
  await trx('settlement_runs').where({ id }).update({ statement_count: values.statementCount, line_count: values.lineCount });
  if (values.totals.length) {
    await trx('settlement_run_totals').insert(
      values.totals.map((t) => ({ run_id: id, currency: t.currency, amount_minor: t.amountMinor.toString() })),
    );
  }
}

// ---- reading ----------------------------------------------------------------------------------

export interface RunRecord {
  id: number;
  through: string;
  createdAt: string;
  createdBy: string;
  statementCount: number;
  lineCount: number;
  totals: { currency: string; amountMinor: bigint }[];
}

interface RunRow {
  id: number;
  through: string;
  created_at: Date | string;
  created_by: string;
  statement_count: number;
  line_count: number;
}

async function withTotals(db: Knex, rows: RunRow[]): Promise<RunRecord[]> {
  const totals: { run_id: number; currency: string; amount_minor: string }[] = rows.length
    ? await db('settlement_run_totals')
        .select('run_id', 'currency', exactIntegerText(db, 'amount_minor', 'amount_minor'))
        .whereIn('run_id', rows.map((r) => r.id))
        .orderBy(['run_id', 'currency'])
    : [];
  return rows.map((r) => ({
    id: r.id,
    through: r.through,
    createdAt: toIsoTimestamp(r.created_at)!,
    createdBy: r.created_by,
    statementCount: r.statement_count,
    lineCount: r.line_count,
    totals: totals
      .filter((t) => t.run_id === r.id)
      .map((t) => ({ currency: t.currency, amountMinor: BigInt(t.amount_minor) })),
  }));
}

const RUN_COLUMNS = ['id', 'through', 'created_at', 'created_by', 'statement_count', 'line_count'];

export async function findRun(db: Knex, id: number): Promise<RunRecord | undefined> {
  const row: RunRow | undefined = await db('settlement_runs').select(RUN_COLUMNS).where({ id }).first();
  return row ? (await withTotals(db, [row]))[0] : undefined;
}

const RUN_SORT = { id: 'id', through: 'through', createdDate: 'created_at' } as const;

export async function listRuns(db: Knex, sort: Sort<keyof typeof RUN_SORT>, page: Page): Promise<PageResult<RunRecord>> {
  const result = await fetchPage<RunRow>(db('settlement_runs').select(RUN_COLUMNS), 'id', RUN_SORT[sort.field], sort, page);
  return { rows: await withTotals(db, result.rows), total: result.total };
}

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
  revenueLineId: number;
  referralId: number;
  contractId: number;
  periodStart: string;
  periodEnd: string;
  periodDays: number;
  billableDays: number;
  revenueAmount: string;
  exactAmount: string;
  amountMinor: bigint;
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
    );
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

export async function findStatementsOfRun(db: Knex, runId: number): Promise<StatementRecord[]> {
  const rows: StatementRow[] = await statementQuery(db).where('s.run_id', runId).orderBy('s.id');
  return rows.map(toStatement);
}

export interface StatementFilter {
  bunitId: number;
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
  if (filter.role === 'payer') query.where('s.payer_id', filter.bunitId);
  else if (filter.role === 'referrer') query.where('s.referrer_id', filter.bunitId);
  else query.where((q) => q.where('s.payer_id', filter.bunitId).orWhere('s.referrer_id', filter.bunitId));
  if (filter.runId !== undefined) query.where('s.run_id', filter.runId);
  if (filter.currency !== undefined) query.where('s.currency', filter.currency);
  const result = await fetchPage<StatementRow>(query, 's.id', STATEMENT_SORT[sort.field], sort, page);
  return { rows: result.rows.map(toStatement), total: result.total };
}

export async function findStatementLines(db: Knex, statementId: number): Promise<StatementLineRecord[]> {
  const rows: {
    id: number;
    revenue_line_id: number;
    referral_id: number;
    contract_id: number;
    period_start: string;
    period_end: string;
    period_days: number;
    billable_days: number;
    revenue_amount: string;
    exact_amount: string;
    amount_minor: string;
  }[] = await db('statement_lines')
    .select(
      'id',
      'revenue_line_id',
      'referral_id',
      'contract_id',
      'period_start',
      'period_end',
      'period_days',
      'billable_days',
      'revenue_amount',
      'exact_amount',
      exactIntegerText(db, 'amount_minor', 'amount_minor'),
    )
    .where({ statement_id: statementId })
    .orderBy('id');
  return rows.map((r) => ({
    id: r.id,
    revenueLineId: r.revenue_line_id,
    referralId: r.referral_id,
    contractId: r.contract_id,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    periodDays: r.period_days,
    billableDays: r.billable_days,
    revenueAmount: String(r.revenue_amount),
    exactAmount: String(r.exact_amount),
    amountMinor: BigInt(r.amount_minor),
  }));
}
