import type { Knex } from 'knex';
import { dialectOf, exactIntegerText, insertRows, preparedSql, queryBuilt, queryPrepared, skipLocked, toIsoTimestamp, updateRows } from '../db';
import { roundedAmount, type RankKey } from '../domain/settlement-math';
import type { StatementStatus } from '../domain/statement-lifecycle';
import { fetchPage, type Page, type PageResult, type Sort } from './paging';

/**
 * Statements and their lines. A statement belongs to a run and to one (payer, referrer,
 * currency); it is visible once finalize has rounded it. A line's exact share is the rational
 * exact_num / (10^12 × period_days); its amount is floor_minor, plus one minor unit if it ranks
 * up to the statement's round-up boundary (the last of the lines with the largest remainders
 * that get one). Lines are written once and never updated.
 */

export interface StatementKey {
  payerId: number;
  referrerId: number;
  currency: string;
}

export const statementKeyOf = (k: StatementKey) => `${k.payerId}/${k.referrerId}/${k.currency}`;

/**
 * The ids of a run's statements for these keys, opening those that do not exist yet (in the run's
 * period, `yyyy-MM`, SPEC §15). Two workers opening the same statement at once: one inserts it,
 * the other finds it.
 */
export async function openStatements(
  trx: Knex,
  run: { id: number; createdAt: string; period: string },
  keys: StatementKey[],
): Promise<Map<string, number>> {
  const runId = run.id;
  const out = new Map<string, number>();
  if (keys.length === 0) return out;
  const opened = await insertRows<{ id: number; payer_id: number; referrer_id: number; currency: string }>(
    trx,
    'statements',
    ['run_id', 'payer_id', 'referrer_id', 'currency', 'created_at', 'finalized', 'period'],
    keys.map((k) => [runId, k.payerId, k.referrerId, k.currency, run.createdAt, false, run.period]),
    ['id', 'payer_id', 'referrer_id', 'currency'],
    { ignoreConflictOn: ['run_id', 'payer_id', 'referrer_id', 'currency'] },
  );
  for (const r of opened) out.set(statementKeyOf({ payerId: r.payer_id, referrerId: r.referrer_id, currency: r.currency }), r.id);
  // Those another worker opened first.
  for (const k of keys) {
    const key = statementKeyOf(k);
    if (out.has(key)) continue;
    out.set(key, (await queryPrepared<{ id: number }>(trx, FIND_STATEMENT, [runId, k.payerId, k.referrerId, k.currency]))[0]!.id);
  }
  return out;
}
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
  'billable_days', 'revenue_amount', 'exact_num', 'floor_minor', 'remainder_key', 'adjusts_statement_id', 'adjusts_line_id',
];

export async function insertStatementLines(trx: Knex, lines: NewStatementLine[]): Promise<void> {
  await insertRows(
    trx,
    'statement_lines',
    LINE_COLUMNS,
    lines.map((l) => [
      l.runId, l.statementId, l.kind, l.revenueLineId, l.referralId, l.contractId, l.periodStart, l.periodEnd, l.periodDays,
      l.billableDays, l.revenueAmount, l.exactNum.toString(), l.floorMinor.toString(), l.remainderKey,
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
 * For each statement, the line ranked k-th by remainder (largest first, ties: lower revenue line
 * id, then lower referral id): the last that gets one more minor unit. One read for many
 * statements, ranking each one's lines with a window function; nothing is written to the lines.
 */
export async function roundUpBoundaries(db: Knex, extra: { statementId: number; k: number }[]): Promise<Map<number, RankKey>> {
  const out = new Map<number, RankKey>();
  const due = extra.filter((e) => e.k > 0);
  for (let i = 0; i < due.length; i += 500) {
    const chunk = due.slice(i, i + 500);
    const cases = chunk.map(() => 'WHEN ? THEN CAST(? AS INTEGER)').join(' ');
    const sql = preparedSql(
      `SELECT statement_id, remainder_key, revenue_line_id, referral_id FROM (
        SELECT statement_id, remainder_key, revenue_line_id, referral_id,
          ROW_NUMBER() OVER (PARTITION BY statement_id ORDER BY remainder_key DESC, revenue_line_id ASC, referral_id ASC) AS rank
        FROM statement_lines WHERE statement_id IN (${chunk.map(() => '?').join(', ')})
      ) ranked WHERE ranked.rank = CASE ranked.statement_id ${cases} END`,
    );
    const rows = await queryPrepared<{ statement_id: number; remainder_key: string; revenue_line_id: number; referral_id: number }>(db, sql, [
      ...chunk.map((e) => e.statementId),
      ...chunk.flatMap((e) => [e.statementId, e.k]),
    ]);
    for (const r of rows) out.set(r.statement_id, { remainderKey: r.remainder_key, revenueLineId: r.revenue_line_id, referralId: r.referral_id });
  }
  return out;
}

/**
 * Sets statements' totals, line counts and round-up boundaries; from now on they are final. Call
 * with the statements locked by lockUnfinalizedStatements.
 */
export async function finalizeStatements(
  trx: Knex,
  statements: { id: number; totalMinor: bigint; lineCount: number; roundUpThrough: RankKey | null }[],
): Promise<void> {
  await updateRows(
    trx,
    'statements',
    'id',
    ['total_minor', 'line_count', 'round_up_key', 'round_up_line', 'round_up_referral', 'finalized'],
    ['integer', 'numeric', 'integer', 'text', 'integer', 'integer', 'boolean'],
    statements.map((s) => [
      s.id,
      s.totalMinor.toString(),
      s.lineCount,
      s.roundUpThrough?.remainderKey ?? null,
      s.roundUpThrough?.revenueLineId ?? null,
      s.roundUpThrough?.referralId ?? null,
      true,
    ]),
  );
}

/**
 * Locks statements for finalize (PostgreSQL: row locks, in id order; SQLite: the transaction's
 * write lock) and answers those that still need it: a statement another finalize rounded
 * meanwhile is left alone.
 */
export async function lockUnfinalizedStatements(trx: Knex.Transaction, ids: number[]): Promise<Set<number>> {
  const open = new Set<number>();
  const sorted = [...ids].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i += 500) {
    const query = trx('statements').select('id').whereIn('id', sorted.slice(i, i + 500)).where({ finalized: false }).orderBy('id');
    if (dialectOf(trx) === 'postgres') query.forUpdate();
    for (const r of await queryBuilt<{ id: number }>(query)) open.add(r.id);
  }
  return open;
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
  /** The last line that gets one more minor unit (null: none), by which each line's amount is known. */
  roundUpThrough: RankKey | null;
  /** SPEC §15: the month of the run's through (yyyy-MM), and where the statement is in its lifecycle. */
  period: string;
  status: StatementStatus;
  acceptedBy: string | null;
  acceptedDate: string | null;
  /** Σ of the amounts of its lines held by an open dispute (each open dispute's amount). */
  heldMinor: bigint;
}

/** A statement as lists show it: without the round-up boundary, which only its lines need. */
export type ListedStatement = Omit<StatementRecord, 'roundUpThrough'>;

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
  /** For the CSV (SPEC §6.3): what a reader reconciles the line with, without another look-up. */
  contractNumber: string;
  externalId: string;
  /** The line's open or last dispute (SPEC §15), and whether that dispute holds it now. */
  disputeId: number | null;
  held: boolean;
}

interface ListedStatementRow {
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
  period: string;
  status: StatementStatus;
  accepted_by: string | null;
  accepted_date: string | null;
  held_minor: string;
}

interface StatementRow extends ListedStatementRow {
  round_up_key: string | null;
  round_up_line: number | null;
  round_up_referral: number | null;
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
      's.round_up_key',
      's.round_up_line',
      's.round_up_referral',
      's.period',
      's.status',
      's.accepted_by',
      's.accepted_date',
      // The lines an open dispute holds are its lines, all of them: Σ of the open disputes' amounts.
      db.raw(
        "(SELECT CAST(COALESCE(SUM(d.amount_minor), 0) AS TEXT) FROM disputes d WHERE d.statement_id = s.id AND d.status = 'open') AS held_minor",
      ),
    )
    .where('s.finalized', true);
}

const toListedStatement = (r: ListedStatementRow): ListedStatement => ({
  id: r.id,
  runId: r.run_id,
  payer: { id: r.payer_id, code: r.payer_code, name: r.payer_name },
  referrer: { id: r.referrer_id, code: r.referrer_code, name: r.referrer_name },
  currency: r.currency,
  totalMinor: BigInt(r.total_minor),
  lineCount: r.line_count,
  createdAt: toIsoTimestamp(r.created_at)!,
  period: r.period,
  status: r.status,
  acceptedBy: r.accepted_by,
  acceptedDate: r.accepted_date,
  heldMinor: BigInt(r.held_minor),
});

const toStatement = (r: StatementRow): StatementRecord =>
  Object.assign(toListedStatement(r), {
    roundUpThrough:
      r.round_up_key === null ? null : { remainderKey: r.round_up_key, revenueLineId: r.round_up_line!, referralId: r.round_up_referral! },
  });

export async function findStatement(db: Knex, id: number): Promise<StatementRecord | undefined> {
  const row: StatementRow | undefined = await statementQuery(db).where('s.id', id).first();
  return row && toStatement(row);
}

export async function findStatements(db: Knex, ids: readonly number[]): Promise<StatementRecord[]> {
  if (ids.length === 0) return [];
  const rows: StatementRow[] = await statementQuery(db).whereIn('s.id', ids).orderBy('s.id');
  return rows.map(toStatement);
}

export interface StatementFilter {
  /** The business unit that pays or earns; none: every statement (the run's list, for admins). */
  bunitId?: number | undefined;
  role: 'payer' | 'referrer' | 'any';
  runId?: number | undefined;
  currency?: string | undefined;
  status?: StatementStatus | undefined;
  /** yyyy-MM */
  period?: string | undefined;
}

const STATEMENT_SORT = { id: 's.id', runId: 's.run_id', createdDate: 's.created_at' } as const;

/** The columns statementQuery selects, as fixed SQL (the list's, which runs prepared). */
/** A statement as lists read it: the columns of ListedStatementRow. */
const SELECT_STATEMENTS = `SELECT s.id, s.run_id, s.payer_id, p.code AS payer_code, p.name AS payer_name,
  s.referrer_id, f.code AS referrer_code, f.name AS referrer_name, s.currency, CAST(s.total_minor AS TEXT) AS total_minor,
  s.line_count, s.created_at, s.period, s.status, s.accepted_by, s.accepted_date,
  (SELECT CAST(COALESCE(SUM(d.amount_minor), 0) AS TEXT) FROM disputes d WHERE d.statement_id = s.id AND d.status = 'open') AS held_minor`;
const FROM_STATEMENTS = 'FROM statements s JOIN business_units p ON p.id = s.payer_id JOIN business_units f ON f.id = s.referrer_id';

/**
 * A page of statements and the total. As the referral list, the SQL is assembled from fixed
 * pieces (one shape for each combination of filters and sort) and runs as prepared statements:
 * building the two queries with Knex cost more than running them (bench scenario 16).
 */
export async function listStatements(
  db: Knex,
  filter: StatementFilter,
  sort: Sort<keyof typeof STATEMENT_SORT>,
  page: Page,
): Promise<PageResult<ListedStatement>> {
  const conditions = ['s.finalized = ?'];
  const params: unknown[] = [true];
  const add = (condition: string, ...values: unknown[]) => {
    conditions.push(condition);
    params.push(...values);
  };
  const { bunitId } = filter;
  if (bunitId !== undefined) {
    if (filter.role === 'payer') add('s.payer_id = ?', bunitId);
    else if (filter.role === 'referrer') add('s.referrer_id = ?', bunitId);
    else add('(s.payer_id = ? OR s.referrer_id = ?)', bunitId, bunitId);
  }
  if (filter.runId !== undefined) add('s.run_id = ?', filter.runId);
  if (filter.currency !== undefined) add('s.currency = ?', filter.currency);
  if (filter.period !== undefined) add('s.period = ?', filter.period);
  if (filter.status !== undefined) add('s.status = ?', filter.status);
  const where = conditions.join(' AND ');
  // Every statement has its payer and referrer (foreign keys): the total needs no join.
  const [count] = await queryPrepared<{ total: number | string }>(db, preparedSql(`SELECT count(*) AS total FROM statements s WHERE ${where}`), params);
  const direction = sort.descending ? 'DESC' : 'ASC';
  const order = sort.field === 'id' ? `s.id ${direction}` : `${STATEMENT_SORT[sort.field]} ${direction}, s.id ${direction}`;
  const rows = await queryPrepared<ListedStatementRow>(
    db,
    preparedSql(`${SELECT_STATEMENTS} ${FROM_STATEMENTS} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`),
    [...params, page.limit, page.offset],
  );
  return { rows: rows.map(toListedStatement), total: Number(count?.total ?? 0) };
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
  remainder_key: string;
  adjusts_statement_id: number | null;
  adjusts_line_id: number | null;
  contract_number: string;
  external_id: string;
  dispute_id: number | null;
  held: number | string;
}

/**
 * A line's columns, with its contract's number and its revenue line's externalId (never deleted
 * once settled), and its dispute; held: a held_lines row exists, looked up only for the few lines
 * that were ever disputed.
 */
const LINE_SELECT = `l.id, l.kind, l.revenue_line_id, l.referral_id, l.contract_id, l.period_start, l.period_end, l.period_days, l.billable_days,
  CAST(l.revenue_amount AS TEXT) AS revenue_amount, CAST(l.exact_num AS TEXT) AS exact_num, CAST(l.floor_minor AS TEXT) AS floor_minor,
  l.remainder_key, l.adjusts_statement_id, l.adjusts_line_id, c.number AS contract_number, r.external_id AS external_id, l.dispute_id,
  CASE WHEN l.dispute_id IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM held_lines h WHERE h.statement_line_id = l.id) END AS held`;

const toLine = (r: LineRow, roundUpThrough: RankKey | null): StatementLineRecord => ({
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
  amountMinor: roundedAmount(BigInt(r.floor_minor), { remainderKey: r.remainder_key, revenueLineId: r.revenue_line_id, referralId: r.referral_id }, roundUpThrough),
  adjusts: r.adjusts_line_id === null ? null : { statementId: r.adjusts_statement_id!, lineId: r.adjusts_line_id },
  contractNumber: r.contract_number,
  externalId: r.external_id,
  disputeId: r.dispute_id,
  held: Number(r.held) > 0,
});

/** A page of a statement's lines in their order (revenue line, then referral), after the pair (`after`). */
const LINES_AFTER = preparedSql(
  `SELECT ${LINE_SELECT} FROM statement_lines l
   JOIN contracts c ON c.id = l.contract_id JOIN revenue_lines r ON r.id = l.revenue_line_id
   WHERE l.statement_id = ? AND (l.revenue_line_id > ? OR (l.revenue_line_id = ? AND l.referral_id > ?))
   ORDER BY l.revenue_line_id, l.referral_id LIMIT ?`,
);

/** The lines of a (final) statement, page by page (memory holds one page), in their order. */
export async function* statementLines(
  db: Knex,
  statement: Pick<StatementRecord, 'id' | 'roundUpThrough'>,
  pageSize = 5000,
): AsyncGenerator<StatementLineRecord[]> {
  let after = { line: 0, referral: 0 };
  for (;;) {
    const rows = await queryPrepared<LineRow>(db, LINES_AFTER, [statement.id, after.line, after.line, after.referral, pageSize]);
    if (rows.length === 0) return;
    yield rows.map((r) => toLine(r, statement.roundUpThrough));
    const last = rows[rows.length - 1]!;
    after = { line: last.revenue_line_id, referral: last.referral_id };
    if (rows.length < pageSize) return;
  }
}

export async function findStatementLines(db: Knex, statement: Pick<StatementRecord, 'id' | 'roundUpThrough'>): Promise<StatementLineRecord[]> {
  const out: StatementLineRecord[] = [];
  for await (const page of statementLines(db, statement)) out.push(...page);
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

/**
 * A statement a partition opened whose lines were then rolled back: it has none, and goes. The
 * WHERE says "none" itself (on PostgreSQL no foreign key from its lines would refuse it).
 */
export async function deleteEmptyStatement(trx: Knex, id: number): Promise<void> {
  await trx('statements')
    .where({ id, finalized: false })
    .whereNotExists(trx('statement_lines').select(trx.raw('1')).where('statement_id', id))
    .delete();
}

/** The totals and line counts of a run's final statements, for the run's totals per currency. */
export async function statementTotalsOfRun(db: Knex, runId: number): Promise<{ currency: string; totalMinor: bigint; lineCount: number }[]> {
  const rows: { currency: string; total_minor: string; line_count: number }[] = await db('statements')
    .select('currency', exactIntegerText(db, 'total_minor', 'total_minor'), 'line_count')
    .where({ run_id: runId, finalized: true });
  return rows.map((r) => ({ currency: r.currency, totalMinor: BigInt(r.total_minor), lineCount: r.line_count }));
}

// ---- after the run: acceptance and disputes (SPEC §15) -----------------------------------------

/** Of these line ids, the lines of the statement (any other id is left out), in id order. */
export async function findLinesOfStatement(
  db: Knex,
  statement: Pick<StatementRecord, 'id' | 'roundUpThrough'>,
  ids: readonly number[],
): Promise<StatementLineRecord[]> {
  const out: StatementLineRecord[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await queryBuilt<LineRow>(
      db
        .select(db.raw(LINE_SELECT))
        .from({ l: 'statement_lines' })
        .join({ c: 'contracts' }, 'c.id', 'l.contract_id')
        .join({ r: 'revenue_lines' }, 'r.id', 'l.revenue_line_id')
        .where('l.statement_id', statement.id)
        .whereIn('l.id', chunk),
    );
    out.push(...rows.map((r) => toLine(r, statement.roundUpThrough)));
  }
  return out.sort((a, b) => a.id - b.id);
}

/**
 * Locks a final statement until the transaction ends (PostgreSQL: its row, FOR UPDATE; SQLite:
 * the transaction holds the write lock) and answers its status now: a dispute, an acceptance or
 * a close (§16) of one statement happen one after the other.
 */
export async function lockStatement(trx: Knex.Transaction, id: number): Promise<StatementStatus | undefined> {
  const query = trx('statements').select('status').where({ id, finalized: true });
  if (dialectOf(trx) === 'postgres') query.forUpdate();
  const [row] = await queryBuilt<{ status: StatementStatus }>(query);
  return row?.status;
}

/**
 * Accepts the statements among `ids` that are still issued; the ids it accepted. A conditional
 * UPDATE: of two acceptances of one statement (a key's and the automatic one, or two instances'),
 * exactly one changes it.
 */
export async function acceptStatements(trx: Knex, ids: readonly number[], by: string, date: string): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows: { id: number }[] = await trx('statements')
    .whereIn('id', [...ids])
    .where({ status: 'issued', finalized: true })
    .update({ status: 'accepted', accepted_by: by, accepted_date: date }, ['id']);
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/**
 * Up to `limit` statements still issued that were created before `before` (an instant), in id
 * order. PostgreSQL claims them for the transaction (FOR UPDATE SKIP LOCKED): another instance's
 * batch takes other statements instead of waiting for these.
 */
export async function claimDueStatements(trx: Knex.Transaction, before: string, limit: number): Promise<number[]> {
  const query = trx('statements')
    .select('id')
    .where({ status: 'issued', finalized: true })
    .where('created_at', '<', before)
    .orderBy('id')
    .limit(limit);
  return (await queryBuilt<{ id: number }>(skipLocked(trx, query))).map((r) => r.id);
}
