import type { Knex } from 'knex';
import { preparedSql, queryPrepared, toIsoTimestamp } from '../db';
import type { Page, PageResult } from './paging';

/** Change requests (SPEC §11): a change to a referral that waits for another key's decision. */

export type ChangeKind = 'create' | 'update' | 'archive' | 'amend';
export type ChangeStatus = 'pending' | 'approved' | 'denied' | 'withdrawn';

export interface ChangeRequestRecord {
  id: number;
  referralId: number;
  /** The referral's contract. */
  contractId: number;
  /** The business unit that owns the referral's contract (the one that asks and decides). */
  bunitId: number;
  /** The referrer, which sees the request too (R11). */
  referrerId: number;
  kind: ChangeKind;
  status: ChangeStatus;
  /** The terms asked for, as the API shows them. */
  proposed: Record<string, unknown>;
  reason: string | null;
  requestedBy: string;
  requestedByKey: string;
  requestedAt: string;
  decidedBy: string | null;
  decidedByKey: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
}

interface Row {
  id: number;
  referral_id: number;
  contract_id: number;
  bunit_id: number;
  referrer_id: number;
  kind: ChangeKind;
  status: ChangeStatus;
  proposed: string;
  reason: string | null;
  requested_by: string;
  requested_by_key: string;
  requested_at: Date | string;
  decided_by: string | null;
  decided_by_key: string | null;
  decided_at: Date | string | null;
  decision_reason: string | null;
}

const SELECT = `SELECT cr.id, cr.referral_id, r.contract_id, c.bunit_id, r.referrer_id, cr.kind, cr.status, cr.proposed, cr.reason, cr.requested_by,
  cr.requested_by_key, cr.requested_at, cr.decided_by, cr.decided_by_key, cr.decided_at, cr.decision_reason
  FROM change_requests cr JOIN referrals r ON r.id = cr.referral_id JOIN contracts c ON c.id = r.contract_id`;

const toRecord = (r: Row): ChangeRequestRecord => ({
  id: r.id,
  referralId: r.referral_id,
  contractId: r.contract_id,
  bunitId: r.bunit_id,
  referrerId: r.referrer_id,
  kind: r.kind,
  status: r.status,
  proposed: JSON.parse(r.proposed) as Record<string, unknown>,
  reason: r.reason,
  requestedBy: r.requested_by,
  requestedByKey: r.requested_by_key,
  requestedAt: toIsoTimestamp(r.requested_at)!,
  decidedBy: r.decided_by,
  decidedByKey: r.decided_by_key,
  decidedAt: toIsoTimestamp(r.decided_at),
  decisionReason: r.decision_reason,
});

export async function findChangeRequest(db: Knex, id: number): Promise<ChangeRequestRecord | undefined> {
  const [row] = await queryPrepared<Row>(db, BY_ID, [id]);
  return row && toRecord(row);
}
const BY_ID = preparedSql(`${SELECT} WHERE cr.id = ?`);

/** Several change requests in one read (chunked under SQLite's parameter limit), by id; ids that do not exist are absent. */
export async function findChangeRequests(db: Knex, ids: readonly number[]): Promise<Map<number, ChangeRequestRecord>> {
  const out = new Map<number, ChangeRequestRecord>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await queryPrepared<Row>(db, preparedSql(`${SELECT} WHERE cr.id IN (${chunk.map(() => '?').join(', ')})`), chunk);
    for (const row of rows) out.set(row.id, toRecord(row));
  }
  return out;
}

export async function insertChangeRequest(
  trx: Knex,
  values: { referralId: number; kind: ChangeKind; proposed: Record<string, unknown>; reason: string | null; requestedBy: string; requestedByKey: string; requestedAt: string },
): Promise<number> {
  const [row] = await queryPrepared<{ id: number }>(trx, INSERT, [
    values.referralId,
    values.kind,
    'pending',
    JSON.stringify(values.proposed),
    values.reason,
    values.requestedBy,
    values.requestedByKey,
    values.requestedAt,
  ]);
  return row!.id;
}
const INSERT = preparedSql(`INSERT INTO change_requests (referral_id, kind, status, proposed, reason, requested_by, requested_by_key, requested_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`);

/** Records the decision on a pending request; false when it was no longer pending. */
export async function decideChangeRequest(
  trx: Knex,
  id: number,
  values: { status: Exclude<ChangeStatus, 'pending'>; decidedBy: string; decidedByKey: string; decidedAt: string; decisionReason: string | null },
): Promise<boolean> {
  const changed = await trx('change_requests').where({ id, status: 'pending' }).update({
    status: values.status,
    decided_by: values.decidedBy,
    decided_by_key: values.decidedByKey,
    decided_at: values.decidedAt,
    decision_reason: values.decisionReason,
  });
  return changed === 1;
}

/** Records one decision on many pending requests in one statement per chunk; how many were still pending. */
export async function decideChangeRequests(
  trx: Knex,
  ids: readonly number[],
  values: { status: Exclude<ChangeStatus, 'pending'>; decidedBy: string; decidedByKey: string; decidedAt: string; decisionReason: string | null },
): Promise<number> {
  let changed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    changed += await trx('change_requests')
      .whereIn('id', ids.slice(i, i + 500))
      .where({ status: 'pending' })
      .update({
        status: values.status,
        decided_by: values.decidedBy,
        decided_by_key: values.decidedByKey,
        decided_at: values.decidedAt,
        decision_reason: values.decisionReason,
      });
  }
  return changed;
}

export interface ChangeRequestFilter {
  bunitId: number;
  status?: ChangeStatus | undefined;
  kind?: ChangeKind | undefined;
  referralId?: number | undefined;
}

/** The change requests of the referrals a business unit sees (it owns the contract, or it is the referrer), newest first by default. */
export async function listChangeRequests(
  db: Knex,
  filter: ChangeRequestFilter,
  sort: { field: 'id' | 'requestedDate' | 'decidedDate'; descending: boolean },
  page: Page,
): Promise<PageResult<ChangeRequestRecord>> {
  const conditions = ['(c.bunit_id = ? OR r.referrer_id = ?)'];
  const params: unknown[] = [filter.bunitId, filter.bunitId];
  if (filter.status !== undefined) (conditions.push('cr.status = ?'), params.push(filter.status));
  if (filter.kind !== undefined) (conditions.push('cr.kind = ?'), params.push(filter.kind));
  if (filter.referralId !== undefined) (conditions.push('cr.referral_id = ?'), params.push(filter.referralId));
  const where = conditions.join(' AND ');
  const [count] = await queryPrepared<{ n: number | string }>(
    db,
    preparedSql(`SELECT count(*) AS n FROM change_requests cr JOIN referrals r ON r.id = cr.referral_id JOIN contracts c ON c.id = r.contract_id WHERE ${where}`),
    params,
  );
  const column = { id: 'cr.id', requestedDate: 'cr.requested_at', decidedDate: 'cr.decided_at' }[sort.field];
  const direction = sort.descending ? 'DESC' : 'ASC';
  const order = sort.field === 'id' ? `cr.id ${direction}` : `${column} ${direction}, cr.id ${direction}`;
  const rows = await queryPrepared<Row>(db, preparedSql(`${SELECT} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`), [...params, page.limit, page.offset]);
  return { rows: rows.map(toRecord), total: Number(count?.n ?? 0) };
}
