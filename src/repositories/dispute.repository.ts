import type { Knex } from 'knex';
import { exactIntegerText, insertRows, queryBuilt, toIsoTimestamp } from '../db';
import type { DisputeOutcome, DisputeReasonCode, DisputeStatus } from '../domain/statement-lifecycle';
import { fetchPage, type Page, type PageResult, type Sort } from './paging';

/**
 * Disputes over statement lines (SPEC §15). A dispute keeps its lines for good (dispute_lines);
 * while it is open, each of them has a row in held_lines, whose primary key is the line: a line
 * is held by one open dispute at most, which the database holds. Ending a dispute deletes its
 * held_lines rows.
 */

export interface DisputeRecord {
  id: number;
  statementId: number;
  /** The party that raised it. */
  bunitId: number;
  /** The statement's parties and currency. */
  payerId: number;
  referrerId: number;
  currency: string;
  raisedBy: string;
  raisedByKeyId: number | null;
  reasonCode: DisputeReasonCode;
  comment: string;
  status: DisputeStatus;
  amountMinor: bigint;
  lineCount: number;
  resolvedBy: string | null;
  resolvedByKeyId: number | null;
  outcome: DisputeOutcome | null;
  resolutionReason: string | null;
  correctionChangeRequestId: number | null;
  correctionRevenueLineId: number | null;
  endedDate: string | null;
  createdAt: string;
}

interface Row {
  id: number;
  statement_id: number;
  bunit_id: number;
  payer_id: number;
  referrer_id: number;
  currency: string;
  raised_by: string;
  raised_by_key_id: number | null;
  reason_code: DisputeReasonCode;
  comment: string;
  status: DisputeStatus;
  amount_minor: string;
  line_count: number;
  resolved_by: string | null;
  resolved_by_key_id: number | null;
  outcome: DisputeOutcome | null;
  resolution_reason: string | null;
  correction_change_request_id: number | null;
  correction_revenue_line_id: number | null;
  ended_date: string | null;
  created_at: Date | string;
}

function disputeQuery(db: Knex) {
  return db({ d: 'disputes' })
    .join({ s: 'statements' }, 's.id', 'd.statement_id')
    .select(
      'd.id',
      'd.statement_id',
      'd.bunit_id',
      's.payer_id',
      's.referrer_id',
      's.currency',
      'd.raised_by',
      'd.raised_by_key_id',
      'd.reason_code',
      'd.comment',
      'd.status',
      exactIntegerText(db, 'd.amount_minor', 'amount_minor'),
      'd.line_count',
      'd.resolved_by',
      'd.resolved_by_key_id',
      'd.outcome',
      'd.resolution_reason',
      'd.correction_change_request_id',
      'd.correction_revenue_line_id',
      'd.ended_date',
      'd.created_at',
    );
}

const toRecord = (r: Row): DisputeRecord => ({
  id: r.id,
  statementId: r.statement_id,
  bunitId: r.bunit_id,
  payerId: r.payer_id,
  referrerId: r.referrer_id,
  currency: r.currency,
  raisedBy: r.raised_by,
  raisedByKeyId: r.raised_by_key_id,
  reasonCode: r.reason_code,
  comment: r.comment,
  status: r.status,
  amountMinor: BigInt(r.amount_minor),
  lineCount: r.line_count,
  resolvedBy: r.resolved_by,
  resolvedByKeyId: r.resolved_by_key_id,
  outcome: r.outcome,
  resolutionReason: r.resolution_reason,
  correctionChangeRequestId: r.correction_change_request_id,
  correctionRevenueLineId: r.correction_revenue_line_id,
  endedDate: r.ended_date,
  createdAt: toIsoTimestamp(r.created_at)!,
});

export async function findDispute(db: Knex, id: number): Promise<DisputeRecord | undefined> {
  const [row] = await queryBuilt<Row>(disputeQuery(db).where('d.id', id));
  return row && toRecord(row);
}

/** The line ids of each dispute, in id order. */
export async function lineIdsOfDisputes(db: Knex, disputeIds: readonly number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>(disputeIds.map((id) => [id, []]));
  if (disputeIds.length === 0) return out;
  const rows = await queryBuilt<{ dispute_id: number; statement_line_id: number }>(
    db('dispute_lines').select('dispute_id', 'statement_line_id').whereIn('dispute_id', [...disputeIds]).orderBy(['dispute_id', 'statement_line_id']),
  );
  for (const r of rows) out.get(r.dispute_id)!.push(r.statement_line_id);
  return out;
}

export interface DisputeFilter {
  /** A party of the disputes' statements: the payer or the referrer. */
  bunitId: number;
  status?: DisputeStatus | undefined;
  statementId?: number | undefined;
}

const SORT_COLUMNS = { id: 'd.id', createdDate: 'd.created_at' } as const;

export async function listDisputes(
  db: Knex,
  filter: DisputeFilter,
  sort: Sort<keyof typeof SORT_COLUMNS>,
  page: Page,
): Promise<PageResult<DisputeRecord>> {
  const query = disputeQuery(db).where((q) => q.where('s.payer_id', filter.bunitId).orWhere('s.referrer_id', filter.bunitId));
  if (filter.status !== undefined) query.where('d.status', filter.status);
  if (filter.statementId !== undefined) query.where('d.statement_id', filter.statementId);
  const result = await fetchPage<Row>(query, 'd.id', SORT_COLUMNS[sort.field], sort, page);
  return { rows: result.rows.map(toRecord), total: result.total };
}

export interface NewDispute {
  statementId: number;
  bunitId: number;
  raisedBy: string;
  raisedByKeyId: number | null;
  reasonCode: DisputeReasonCode;
  comment: string;
  amountMinor: bigint;
  lineCount: number;
  createdAt: string;
}

export async function insertDispute(trx: Knex, d: NewDispute): Promise<number> {
  const [row] = await trx('disputes')
    .insert({
      statement_id: d.statementId,
      bunit_id: d.bunitId,
      raised_by: d.raisedBy,
      raised_by_key_id: d.raisedByKeyId,
      reason_code: d.reasonCode,
      comment: d.comment,
      status: 'open',
      amount_minor: d.amountMinor.toString(),
      line_count: d.lineCount,
      created_at: d.createdAt,
    })
    .returning('id');
  return typeof row === 'object' ? (row as { id: number }).id : (row as number);
}

/**
 * Records the dispute's lines and holds them: a line another open dispute holds violates
 * held_lines' primary key (the caller turns it into 409 line-disputed), and each line then names
 * this dispute as its last.
 */
export async function holdDisputedLines(trx: Knex, disputeId: number, lineIds: readonly number[]): Promise<void> {
  await insertRows(trx, 'dispute_lines', ['dispute_id', 'statement_line_id'], lineIds.map((id) => [disputeId, id]));
  await insertRows(trx, 'held_lines', ['statement_line_id', 'dispute_id'], lineIds.map((id) => [id, disputeId]));
  for (let i = 0; i < lineIds.length; i += 500) {
    await trx('statement_lines').whereIn('id', lineIds.slice(i, i + 500)).update({ dispute_id: disputeId });
  }
}

/** Of these lines, those an open dispute holds, with that dispute. */
export async function heldAmong(db: Knex, lineIds: readonly number[]): Promise<{ lineId: number; disputeId: number }[]> {
  const out: { lineId: number; disputeId: number }[] = [];
  for (let i = 0; i < lineIds.length; i += 500) {
    const rows = await queryBuilt<{ statement_line_id: number; dispute_id: number }>(
      db('held_lines').select('statement_line_id', 'dispute_id').whereIn('statement_line_id', lineIds.slice(i, i + 500)),
    );
    out.push(...rows.map((r) => ({ lineId: r.statement_line_id, disputeId: r.dispute_id })));
  }
  return out.sort((a, b) => a.lineId - b.lineId);
}

/** The referrals and contracts of a dispute's lines: what a correction must concern. */
export async function subjectsOfDispute(db: Knex, disputeId: number): Promise<{ referralIds: Set<number>; contractIds: Set<number> }> {
  const rows = await queryBuilt<{ referral_id: number; contract_id: number }>(
    db({ dl: 'dispute_lines' })
      .join({ l: 'statement_lines' }, 'l.id', 'dl.statement_line_id')
      .distinct('l.referral_id', 'l.contract_id')
      .where('dl.dispute_id', disputeId),
  );
  return { referralIds: new Set(rows.map((r) => r.referral_id)), contractIds: new Set(rows.map((r) => r.contract_id)) };
}

export interface DisputeEnd {
  status: DisputeOutcome;
  by: string;
  byKeyId: number | null;
  reason: string | null;
  correctionChangeRequestId: number | null;
  correctionRevenueLineId: number | null;
  endedDate: string;
}

/**
 * Ends an open dispute and releases its lines; false when it was no longer open (another
 * resolution or withdrawal committed first): exactly one end wins.
 */
export async function endDispute(trx: Knex, id: number, end: DisputeEnd): Promise<boolean> {
  const changed = await trx('disputes').where({ id, status: 'open' }).update({
    status: end.status,
    outcome: end.status,
    resolved_by: end.by,
    resolved_by_key_id: end.byKeyId,
    resolution_reason: end.reason,
    correction_change_request_id: end.correctionChangeRequestId,
    correction_revenue_line_id: end.correctionRevenueLineId,
    ended_date: end.endedDate,
  });
  if (changed !== 1) return false;
  await trx('held_lines').where({ dispute_id: id }).delete();
  return true;
}
