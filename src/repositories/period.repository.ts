import type { Knex } from 'knex';
import { exactIntegerText, insertRows, queryBuilt, toIsoTimestamp } from '../db';
import { roundedAmount } from '../domain/settlement-math';
import { periodBounds, type ReleasedLine, type StatementPart } from '../domain/netting';
import type { Page, PageResult } from './paging';

/**
 * Periods (SPEC §16): the months that have statements, and what a close reads and writes. A
 * period has a row in `periods` once a close has claimed it (`closing`) and until it is done
 * (`closed`); without a row it is open.
 */

export interface PeriodRecord {
  period: string;
  status: 'open' | 'closed';
  /** A close has claimed the period and not finished yet (shown as open). */
  closing: boolean;
  closedAt: string | null;
  closedBy: string | null;
  statementCount: number;
  issuedCount: number;
  openDisputeCount: number;
}

interface PeriodRow {
  period: string;
  status: 'closing' | 'closed' | null;
  closed_at: Date | string | null;
  closed_by: string | null;
  statement_count: number | string;
  issued_count: number | string | null;
  open_dispute_count: number | string | null;
}

const toPeriod = (r: PeriodRow): PeriodRecord => ({
  period: r.period,
  status: r.status === 'closed' ? 'closed' : 'open',
  closing: r.status === 'closing',
  closedAt: r.status === 'closed' ? toIsoTimestamp(r.closed_at) : null,
  closedBy: r.status === 'closed' ? r.closed_by : null,
  statementCount: Number(r.statement_count),
  issuedCount: Number(r.issued_count ?? 0),
  openDisputeCount: Number(r.open_dispute_count ?? 0),
});

/**
 * The periods: those with statements, and those a close claimed or closed (a period whose only
 * nettable lines were released in it has no statements of its own).
 */
function periodsQuery(db: Knex) {
  const keys = db('statements').distinct('period').where('finalized', true).union(db('periods').select('period')).as('k');
  return db
    .from(keys)
    .leftJoin({ p: 'periods' }, 'p.period', 'k.period')
    .select(
      'k.period',
      'p.status',
      'p.closed_at',
      'p.closed_by',
      db.raw('(SELECT COUNT(*) FROM statements s WHERE s.period = k.period AND s.finalized = ?) AS statement_count', [true]),
      db.raw("(SELECT COUNT(*) FROM statements s WHERE s.period = k.period AND s.finalized = ? AND s.status = 'issued') AS issued_count", [true]),
      db.raw(
        "(SELECT COUNT(*) FROM disputes d JOIN statements ds ON ds.id = d.statement_id WHERE ds.period = k.period AND d.status = 'open') AS open_dispute_count",
      ),
    );
}

/** The periods that have statements or a close, newest first. */
export async function listPeriods(db: Knex, page: Page): Promise<PageResult<PeriodRecord>> {
  const [counted] = await queryBuilt<{ total: number | string }>(db.from(periodsQuery(db).as('all_periods')).count({ total: '*' }));
  const rows = await queryBuilt<PeriodRow>(periodsQuery(db).orderBy('k.period', 'desc').limit(page.limit).offset(page.offset));
  return { rows: rows.map(toPeriod), total: Number(counted?.total ?? 0) };
}

/**
 * A period with statements or a close; also one without either whose only nettable lines are
 * lines released in it (so that it can be closed); otherwise undefined (unknown).
 */
export async function findPeriod(db: Knex, period: string): Promise<PeriodRecord | undefined> {
  const [row] = await queryBuilt<PeriodRow>(periodsQuery(db).where('k.period', period));
  if (row) return toPeriod(row);
  const { first, last } = periodBounds(period);
  if (!(await hasReleasedLines(db, first, last))) return undefined;
  return { period, status: 'open', closing: false, closedAt: null, closedBy: null, statementCount: 0, issuedCount: 0, openDisputeCount: 0 };
}

/** The period's row: null while no close has claimed it. */
export async function periodState(db: Knex, period: string): Promise<'closing' | 'closed' | null> {
  const row: { status: 'closing' | 'closed' } | undefined = await db('periods').select('status').where({ period }).first();
  return row?.status ?? null;
}

/** Claims a period for its close; the caller holds lockPeriods exclusively. */
export async function insertClosingPeriod(trx: Knex, period: string, by: { name: string; keyId: number | null }, at: string): Promise<void> {
  await trx('periods').insert({ period, status: 'closing', closed_by: by.name, closed_by_key_id: by.keyId, started_at: at });
}

/** Marks a claimed period closed; false when another close did it first. */
export async function markPeriodClosed(trx: Knex, period: string, at: string): Promise<boolean> {
  return (await trx('periods').where({ period, status: 'closing' }).update({ status: 'closed', closed_at: at })) > 0;
}

/** Every statement of the period becomes `closed` (SPEC §15: the last status). */
export async function closeStatementsOf(trx: Knex, period: string): Promise<number> {
  return trx('statements').where({ period, finalized: true }).whereNot('status', 'closed').update({ status: 'closed' });
}

// ---- what stands in the way of a close ---------------------------------------------------------

/**
 * Open periods before this one: those with statements, and those with lines released in them
 * (held at an earlier close, the dispute ended in that period, not netted yet).
 */
export async function earlierOpenPeriods(db: Knex, period: string): Promise<string[]> {
  const rows: { period: string }[] = await db({ s: 'statements' })
    .distinct('s.period')
    .where('s.finalized', true)
    .where('s.period', '<', period)
    .whereNotExists(db('periods as p').select(db.raw('1')).whereRaw('p.period = s.period').where('p.status', 'closed'))
    .orderBy('s.period');
  const open = new Set(rows.map((r) => r.period));
  const ended: { ended_date: string | Date }[] = await pendingReleases(db)
    .where('d.ended_date', '<', periodBounds(period).first)
    .distinct('d.ended_date');
  for (const e of ended) {
    const month = dateText(e.ended_date).slice(0, 7);
    if ((await periodState(db, month)) !== 'closed') open.add(month);
  }
  return [...open].sort();
}

const dateText = (v: string | Date) => (typeof v === 'string' ? v : v.toISOString().slice(0, 10));

/** Lines held at their period's close, no longer held and not netted since (joined to their dispute as d). */
function pendingReleases(db: Knex) {
  return db({ c: 'held_at_close' })
    .join({ d: 'disputes' }, 'd.id', 'c.dispute_id')
    .whereNotNull('d.ended_date')
    .whereNotExists(db('held_lines as h').select(db.raw('1')).whereRaw('h.statement_line_id = c.statement_line_id'))
    .whereNotExists(db('netted_lines as n').select(db.raw('1')).whereRaw('n.statement_line_id = c.statement_line_id'));
}

/** Whether lines are released into first..last (see releasedLinesFor). */
async function hasReleasedLines(db: Knex, first: string, last: string): Promise<boolean> {
  const row = await pendingReleases(db).whereBetween('d.ended_date', [first, last]).select('c.statement_line_id').first();
  return row !== undefined;
}

/** Running runs whose `through` lies in first..last. */
export async function runningRunsIn(db: Knex, first: string, last: string): Promise<{ id: number; through: string }[]> {
  const rows: { id: number; through: string | Date }[] = await db('settlement_runs')
    .select('id', 'through')
    .where('status', 'running')
    .whereBetween('through', [first, last])
    .orderBy('id');
  return rows.map((r) => ({ id: r.id, through: typeof r.through === 'string' ? r.through : r.through.toISOString().slice(0, 10) }));
}

/** The ids of the period's statements still `issued` (the first `limit`), and how many there are. */
export async function issuedStatements(db: Knex, period: string, limit: number): Promise<{ ids: number[]; count: number }> {
  const base = db('statements').where({ period, finalized: true, status: 'issued' });
  const [counted] = await queryBuilt<{ n: number | string }>(base.clone().count({ n: '*' }));
  const rows = await queryBuilt<{ id: number }>(base.clone().select('id').orderBy('id').limit(limit));
  return { ids: rows.map((r) => r.id), count: Number(counted?.n ?? 0) };
}

// ---- what a close nets --------------------------------------------------------------------------

/** The period's statements with their totals. */
export async function statementsOfPeriod(db: Knex, period: string): Promise<Omit<StatementPart, 'heldMinor'>[]> {
  const rows: { id: number; payer_id: number; referrer_id: number; currency: string; total_minor: string }[] = await db('statements')
    .select('id', 'payer_id', 'referrer_id', 'currency', exactIntegerText(db, 'total_minor', 'total_minor'))
    .where({ period, finalized: true })
    .orderBy('id');
  return rows.map((r) => ({ statementId: r.id, payerId: r.payer_id, referrerId: r.referrer_id, currency: r.currency, totalMinor: BigInt(r.total_minor) }));
}

interface LineAmountRow {
  id: number;
  statement_id: number;
  payer_id: number;
  referrer_id: number;
  currency: string;
  dispute_id: number;
  floor_minor: string;
  remainder_key: string;
  revenue_line_id: number;
  referral_id: number;
  round_up_key: string | null;
  round_up_line: number | null;
  round_up_referral: number | null;
}

/** A line's amount (its floor, plus the round-up its statement gives it) with its statement's parties. */
function lineAmountQuery(db: Knex) {
  return db({ l: 'statement_lines' })
    .join({ s: 'statements' }, 's.id', 'l.statement_id')
    .select(
      'l.id',
      'l.statement_id',
      's.payer_id',
      's.referrer_id',
      's.currency',
      exactIntegerText(db, 'l.floor_minor', 'floor_minor'),
      'l.remainder_key',
      'l.revenue_line_id',
      'l.referral_id',
      's.round_up_key',
      's.round_up_line',
      's.round_up_referral',
    );
}

const amountOf = (r: LineAmountRow): bigint =>
  roundedAmount(
    BigInt(r.floor_minor),
    { remainderKey: r.remainder_key, revenueLineId: r.revenue_line_id, referralId: r.referral_id },
    r.round_up_key === null ? null : { remainderKey: r.round_up_key, revenueLineId: r.round_up_line!, referralId: r.round_up_referral! },
  );

export interface HeldLine {
  lineId: number;
  statementId: number;
  disputeId: number;
  amountMinor: bigint;
}

/**
 * The lines `ids` with their amounts, a few hundred a query. The close's line queries start from
 * the few lines held or released (their ids) and look those lines up by primary key, never from
 * the statements' lines (a planner that starts there reads every line of the period).
 */
async function linesByIds(db: Knex, ids: readonly number[]): Promise<(LineAmountRow & { period: string })[]> {
  const out: (LineAmountRow & { period: string })[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    out.push(...(await queryBuilt<LineAmountRow & { period: string }>(lineAmountQuery(db).select('s.period').whereIn('l.id', ids.slice(i, i + 500)))));
  }
  return out.sort((x, y) => x.id - y.id);
}

/** The lines of the period's statements held by an open dispute now. */
export async function heldLinesOfPeriod(db: Knex, period: string): Promise<HeldLine[]> {
  const held: { statement_line_id: number; dispute_id: number }[] = await db('held_lines').select('statement_line_id', 'dispute_id');
  const disputeOf = new Map(held.map((h) => [h.statement_line_id, h.dispute_id]));
  const rows = (await linesByIds(db, [...disputeOf.keys()])).filter((r) => r.period === period);
  return rows.map((r) => ({ lineId: r.id, statementId: r.statement_id, disputeId: disputeOf.get(r.id)!, amountMinor: amountOf(r) }));
}

export async function insertHeldAtClose(trx: Knex, period: string, lines: readonly HeldLine[]): Promise<void> {
  await insertRows(trx, 'held_at_close', ['statement_line_id', 'period', 'dispute_id'], lines.map((l) => [l.lineId, period, l.disputeId]));
}

/**
 * The lines released into this period: held at the close of their own, earlier period, not
 * netted since, no longer held, and their dispute ended in first..last.
 */
export async function releasedLinesFor(db: Knex, first: string, last: string): Promise<ReleasedLine[]> {
  const ids: number[] = await pendingReleases(db).whereBetween('d.ended_date', [first, last]).pluck('c.statement_line_id');
  const rows = await linesByIds(db, ids);
  return rows.map((r) => ({
    lineId: r.id,
    statementId: r.statement_id,
    payerId: r.payer_id,
    referrerId: r.referrer_id,
    currency: r.currency,
    amountMinor: amountOf(r),
  }));
}
