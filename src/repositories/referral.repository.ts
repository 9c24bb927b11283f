import type { Knex } from 'knex';
import { decimalOrderSql, executePrepared, insertRows, preparedSql, queryPrepared, toIsoTimestamp } from '../db';
import { toDec } from '../domain/decimal';
import type { ReferralTerms } from '../domain/referral-rules';
import type { PercentageSegment } from '../domain/referral-timeline';
import type { Page, PageResult, Sort } from './paging';

export type ReferralStatus = 'pending' | 'approved' | 'denied';

/** The change request a referral waits for (SPEC §11), as the referral shows it. */
export interface PendingChange {
  id: number;
  kind: 'create' | 'update' | 'archive' | 'amend';
  requestedAt: string;
}

/**
 * A referral as a list shows it, and as the billing windows read it: everything but the
 * revisions and versions that only a change (and the ETag of one referral) needs. A list reads
 * fewer columns for each of its rows (bench scenario 2).
 */
export interface ListedReferral {
  id: number;
  contractId: number;
  contractBunitId: number;
  contractNumber: string;
  contractCurrency: string;
  referrerId: number;
  referrerCode: string;
  referrerName: string;
  billingStartDate: string;
  billingEndDate: string | null;
  createdAt: string;
  archivedAt: string | null;
  /** The stored archive day (R10); null when not archived, or archived before days were stored. */
  archiveDay: string | null;
  /** pending until its creation is approved (maker-checker), approved, or denied (final). */
  status: ReferralStatus;
  /** The last change of anything the referral shows: a change, an approval, a change request. */
  updatedAt: string;
  pendingChange: PendingChange | null;
  history: PercentageSegment[];
}

export interface ReferralRecord extends ListedReferral {
  /** Revisions of its terms, and the one its settled pairs were brought to (SPEC §12). */
  termsRevision: number;
  adjustedRevision: number;
  version: number;
  /** The versions of the contract and the referrer: the referral shows some of their fields. */
  contractVersion: number;
  referrerVersion: number;
}

/** A row of LISTED_REFERRALS, by the names its columns are selected under. */
interface ListedRow {
  id: number;
  contract_id: number;
  contract_bunit_id: number;
  contract_number: string;
  contract_currency: string;
  referrer_id: number;
  referrer_code: string;
  referrer_name: string;
  billing_start_date: string;
  billing_end_date: string | null;
  created_at: Date | string;
  archived_at: Date | string | null;
  archive_day: string | null;
  status: ReferralStatus;
  updated_at: Date | string;
  pending_change_id: number | null;
  pending_change_kind: PendingChange['kind'] | null;
  pending_change_at: Date | string | null;
}

/** A row of SELECT_REFERRALS. */
interface Row extends ListedRow {
  terms_revision: number;
  adjusted_revision: number;
  version: number;
  contract_version: number;
  referrer_version: number;
}

const SORT_COLUMNS = {
  id: 'r.id',
  billingStartDate: 'r.billing_start_date',
  createdDate: 'r.created_at',
  updatedDate: 'r.updated_at',
  percentage: 'r.percentage',
} as const;

/** A referral with its contract and referrer (no history), as lists read it: the columns of ListedRow. */
const LISTED_REFERRALS = `SELECT r.id, r.contract_id, c.bunit_id AS contract_bunit_id, c.number AS contract_number,
  c.currency AS contract_currency, r.referrer_id, b.code AS referrer_code, b.name AS referrer_name, r.billing_start_date,
  r.billing_end_date, r.created_at, r.archived_at, r.archive_day, r.status, r.updated_at, r.pending_change_id,
  r.pending_change_kind, r.pending_change_at`;
/** The same with the revisions and versions: the columns of Row. */
const SELECT_REFERRALS = `${LISTED_REFERRALS}, r.terms_revision, r.adjusted_revision, r.version, c.version AS contract_version,
  b.version AS referrer_version`;
const FROM_REFERRALS = 'FROM referrals r JOIN contracts c ON c.id = r.contract_id JOIN business_units b ON b.id = r.referrer_id';

/**
 * The same plus one segment of the history: one row per segment, in order. The look-ups by id and
 * by contract read a referral with its history in one statement.
 */
const SELECT_WITH_HISTORY = `${SELECT_REFERRALS}, p.from_date AS segment_from, p.to_date AS segment_to, p.percentage AS segment_percentage
  ${FROM_REFERRALS} LEFT JOIN referral_percentages p ON p.referral_id = r.id`;
const REFERRAL_BY_ID = preparedSql(`${SELECT_WITH_HISTORY} WHERE r.id = ? ORDER BY p.from_date`);
const REFERRALS_OF_CONTRACT = preparedSql(`${SELECT_WITH_HISTORY} WHERE r.contract_id = ? ORDER BY r.id, p.from_date`);

interface HistoryRow {
  referral_id: number;
  from_date: string;
  to_date: string | null;
  percentage: string;
}

/** A row of SELECT_WITH_HISTORY: the referral's columns, then one segment's (all null when it has none). */
interface RowWithSegment extends Row {
  segment_from: string | null;
  segment_to: string | null;
  segment_percentage: string | null;
}

/** Rows of referral × history segment, ordered by referral, as records. */
function foldSegments(rows: RowWithSegment[]): ReferralRecord[] {
  const out: ReferralRecord[] = [];
  let last: ReferralRecord | undefined;
  for (const row of rows) {
    if (last?.id !== row.id) out.push((last = toRecord(row, [])));
    if (row.segment_from !== null) last.history.push({ from: row.segment_from, to: row.segment_to, percentage: toDec(row.segment_percentage!) });
  }
  return out;
}

function toListed(row: ListedRow, history: PercentageSegment[]): ListedReferral {
  return {
    id: row.id,
    contractId: row.contract_id,
    contractBunitId: row.contract_bunit_id,
    contractNumber: row.contract_number,
    contractCurrency: row.contract_currency,
    referrerId: row.referrer_id,
    referrerCode: row.referrer_code,
    referrerName: row.referrer_name,
    billingStartDate: row.billing_start_date,
    billingEndDate: row.billing_end_date,
    createdAt: toIsoTimestamp(row.created_at)!,
    archivedAt: toIsoTimestamp(row.archived_at),
    archiveDay: row.archive_day,
    status: row.status,
    updatedAt: toIsoTimestamp(row.updated_at)!,
    pendingChange:
      row.pending_change_id === null
        ? null
        : { id: row.pending_change_id, kind: row.pending_change_kind!, requestedAt: toIsoTimestamp(row.pending_change_at)! },
    history,
  };
}

function toRecord(row: Row, history: PercentageSegment[]): ReferralRecord {
  // Added to the listed referral, not copied with it: one referral's GET is a hot path too.
  return Object.assign(toListed(row, history), {
    termsRevision: row.terms_revision,
    adjustedRevision: row.adjusted_revision,
    version: row.version,
    contractVersion: row.contract_version,
    referrerVersion: row.referrer_version,
  });
}

export async function findReferral(db: Knex, id: number): Promise<ReferralRecord | undefined> {
  return foldSegments(await queryPrepared<RowWithSegment>(db, REFERRAL_BY_ID, [id]))[0];
}

/** Every referral of a contract, archived ones included (they were billable before their archive day). */
export async function findReferralsOfContract(db: Knex, contractId: number): Promise<ReferralRecord[]> {
  return foldSegments(await queryPrepared<RowWithSegment>(db, REFERRALS_OF_CONTRACT, [contractId]));
}

/** The referrals of several contracts (as findReferralsOfContract), by contract id; every id is a key. */
export async function findReferralsOfContracts(db: Knex, contractIds: number[]): Promise<Map<number, ReferralRecord[]>> {
  const out = new Map<number, ReferralRecord[]>(contractIds.map((id) => [id, []]));
  // Chunked so that an IN list never exceeds SQLite's parameter limit.
  for (let i = 0; i < contractIds.length; i += 500) {
    const chunk = contractIds.slice(i, i + 500);
    const sql = preparedSql(`${SELECT_WITH_HISTORY} WHERE r.contract_id IN (${chunk.map(() => '?').join(', ')}) ORDER BY r.id, p.from_date`);
    for (const referral of foldSegments(await queryPrepared<RowWithSegment>(db, sql, chunk))) out.get(referral.contractId)!.push(referral);
  }
  return out;
}

export interface ReferralFilter {
  bunitId: number;
  role: 'owner' | 'referrer' | 'any';
  contractId?: number;
  referrerId?: number;
  /** billable on this day: inside the billing window and not archived by the start of the next day */
  activeOn?: { day: string; nextDayStartsIso: string } | undefined;
  /** billing window (start..end) touches this range; the archive cut is left to the caller */
  overlaps?: { from: string; to: string } | undefined;
  archived: 'exclude' | 'include' | 'only';
  nowIso: string;
  status?: ReferralStatus | undefined;
  /** changed at or after this instant */
  updatedSince?: string | undefined;
  /** created at or after `from`, before `before` (instants) */
  created?: { from?: string | undefined; before?: string | undefined } | undefined;
  /** billingEndDate in from..to (days, inclusive); open-ended referrals have none */
  billingEnd?: { from?: string | undefined; to?: string | undefined } | undefined;
}

/**
 * A page of referrals and the total. The SQL is assembled from fixed pieces (one shape for each
 * combination of filters and sort) and runs as prepared statements: a list is a hot path.
 */
export async function listReferrals(
  db: Knex,
  filter: ReferralFilter,
  sort: Sort<keyof typeof SORT_COLUMNS>,
  page: Page,
): Promise<PageResult<ListedReferral>> {
  const { where, params } = referralConditions(filter);
  // The total needs the contract only to filter by its owner: every referral has its contract
  // and referrer (foreign keys), so joining them cannot change a count.
  const counted = filter.role === 'referrer' ? 'FROM referrals r' : 'FROM referrals r JOIN contracts c ON c.id = r.contract_id';
  const [count] = await queryPrepared<{ total: number | string }>(db, preparedSql(`SELECT count(*) AS total ${counted} WHERE ${where}`), params);

  const direction = sort.descending ? 'DESC' : 'ASC';
  const sortKey = sort.field === 'percentage' ? decimalOrderSql(db, SORT_COLUMNS.percentage) : SORT_COLUMNS[sort.field];
  const order = sort.field === 'id' ? `r.id ${direction}` : `${sortKey} ${direction}, r.id ${direction}`;
  const rows = await queryPrepared<ListedRow>(
    db,
    preparedSql(`${LISTED_REFERRALS} ${FROM_REFERRALS} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`),
    [...params, page.limit, page.offset],
  );
  const histories = await historiesOf(db, rows.map((r) => r.id));
  return { rows: rows.map((r) => toListed(r, histories.get(r.id) ?? [])), total: Number(count?.total ?? 0) };
}

/** The filter as SQL conditions on referrals r (and, for the owner, their contracts c). */
function referralConditions(filter: ReferralFilter): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, ...values: unknown[]) => {
    conditions.push(condition);
    params.push(...values);
  };
  if (filter.role === 'owner') add('c.bunit_id = ?', filter.bunitId);
  else if (filter.role === 'referrer') add('r.referrer_id = ?', filter.bunitId);
  else add('(c.bunit_id = ? OR r.referrer_id = ?)', filter.bunitId, filter.bunitId);
  if (filter.contractId !== undefined) add('r.contract_id = ?', filter.contractId);
  if (filter.referrerId !== undefined) add('r.referrer_id = ?', filter.referrerId);
  if (filter.activeOn) {
    const { day, nextDayStartsIso } = filter.activeOn;
    // Billable: approved (a pending or denied referral earns nothing), inside its window, not archived.
    add("r.status = 'approved'");
    add('r.billing_start_date <= ?', day);
    add('(r.billing_end_date IS NULL OR r.billing_end_date >= ?)', day);
    // Not archived by that day: its stored archive day after it (or, not stored yet, its archive instant after the day).
    add('(r.archived_at IS NULL OR COALESCE(r.archive_day > ?, r.archived_at >= ?))', day, nextDayStartsIso);
  }
  if (filter.overlaps) {
    add('r.billing_start_date <= ?', filter.overlaps.to);
    add('(r.billing_end_date IS NULL OR r.billing_end_date >= ?)', filter.overlaps.from);
  }
  // An archive instant in the future is not archived yet.
  if (filter.archived === 'exclude') add('(r.archived_at IS NULL OR r.archived_at > ?)', filter.nowIso);
  if (filter.archived === 'only') add('r.archived_at <= ?', filter.nowIso);
  if (filter.status !== undefined) add('r.status = ?', filter.status);
  if (filter.updatedSince !== undefined) add('r.updated_at >= ?', filter.updatedSince);
  if (filter.created?.from !== undefined) add('r.created_at >= ?', filter.created.from);
  if (filter.created?.before !== undefined) add('r.created_at < ?', filter.created.before);
  if (filter.billingEnd) {
    add('r.billing_end_date IS NOT NULL');
    if (filter.billingEnd.from !== undefined) add('r.billing_end_date >= ?', filter.billingEnd.from);
    if (filter.billingEnd.to !== undefined) add('r.billing_end_date <= ?', filter.billingEnd.to);
  }
  return { where: conditions.join(' AND '), params };
}

/** The percentage histories of some referrals, by referral id. */
async function historiesOf(db: Knex, referralIds: number[]): Promise<Map<number, PercentageSegment[]>> {
  const out = new Map<number, PercentageSegment[]>();
  // Chunked so that an IN list never exceeds SQLite's parameter limit.
  for (let i = 0; i < referralIds.length; i += 500) {
    const ids = referralIds.slice(i, i + 500);
    const sql = preparedSql(
      `SELECT referral_id, from_date, to_date, percentage FROM referral_percentages WHERE referral_id IN (${ids.map(() => '?').join(', ')}) ORDER BY referral_id, from_date`,
    );
    for (const row of await queryPrepared<HistoryRow>(db, sql, ids)) {
      let list = out.get(row.referral_id);
      if (!list) out.set(row.referral_id, (list = []));
      list.push({ from: row.from_date, to: row.to_date, percentage: toDec(row.percentage) });
    }
  }
  return out;
}

const INSERT_REFERRAL = preparedSql(`INSERT INTO referrals
  (contract_id, referrer_id, percentage, billing_start_date, billing_end_date, created_at, updated_at, status, version)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`);

export async function insertReferral(
  trx: Knex,
  values: { contractId: number; referrerId: number; terms: ReferralTerms; createdAt: string; status: ReferralStatus },
): Promise<number> {
  const { terms } = values;
  const [row] = await queryPrepared<{ id: number }>(trx, INSERT_REFERRAL, [
    values.contractId,
    values.referrerId,
    terms.history[terms.history.length - 1]!.percentage.toFixed(),
    terms.billingStartDate,
    terms.billingEndDate,
    values.createdAt,
    values.createdAt,
    values.status,
  ]);
  await insertHistory(trx, row!.id, terms.history);
  return row!.id;
}

/**
 * Stores a referral's new terms (window, archive instant, percentages) and bumps its version.
 * The history is rewritten only when it changed.
 */
export async function saveReferralTerms(
  trx: Knex,
  id: number,
  terms: ReferralTerms,
  changed: { history: boolean; window: boolean },
  at: string,
): Promise<void> {
  await executePrepared(trx, SAVE_TERMS, [
    terms.history[terms.history.length - 1]!.percentage.toFixed(),
    terms.billingStartDate,
    terms.billingEndDate,
    terms.archivedAt,
    terms.archiveDay,
    at,
    changed.history || changed.window ? 1 : 0,
    id,
  ]);
  const historyChanged = changed.history;
  if (!historyChanged) return;
  await executePrepared(trx, DELETE_HISTORY, [id]);
  await insertHistory(trx, id, terms.history);
}

/**
 * A change of the window or the percentages is a new revision of the terms: the next run
 * checks the referral's settled pairs against it (SPEC §12).
 */
const SAVE_TERMS = preparedSql(
  `UPDATE referrals SET percentage = ?, billing_start_date = ?, billing_end_date = ?, archived_at = ?, archive_day = ?, updated_at = ?,
   terms_revision = terms_revision + ?, version = version + 1 WHERE id = ?`,
);

/**
 * What the referral shows of approval (SPEC §11): its status, and the change request it waits
 * for (null: none); a new version, since its representation changes.
 */
export async function saveReferralApproval(
  trx: Knex,
  id: number,
  values: { status: ReferralStatus; pendingChange: PendingChange | null; at: string },
): Promise<void> {
  const p = values.pendingChange;
  await executePrepared(trx, SAVE_APPROVAL, [values.status, p?.id ?? null, p?.kind ?? null, p?.requestedAt ?? null, values.at, id]);
}
/** saveReferralApproval for many referrals at once, none left with a pending change: one statement per status and chunk. */
export async function saveReferralApprovals(trx: Knex, byStatus: ReadonlyMap<ReferralStatus, readonly number[]>, at: string): Promise<void> {
  for (const [status, ids] of byStatus) {
    for (let i = 0; i < ids.length; i += 500) {
      await trx('referrals')
        .whereIn('id', ids.slice(i, i + 500))
        .update({ status, pending_change_id: null, pending_change_kind: null, pending_change_at: null, updated_at: at, version: trx.raw('version + 1') });
    }
  }
}
const SAVE_APPROVAL = preparedSql(
  'UPDATE referrals SET status = ?, pending_change_id = ?, pending_change_kind = ?, pending_change_at = ?, updated_at = ?, version = version + 1 WHERE id = ?',
);
const DELETE_HISTORY = preparedSql('DELETE FROM referral_percentages WHERE referral_id = ?');

async function insertHistory(trx: Knex, referralId: number, history: PercentageSegment[]): Promise<void> {
  await insertRows(
    trx,
    'referral_percentages',
    ['referral_id', 'from_date', 'to_date', 'percentage'],
    history.map((s) => [referralId, s.from, s.to, s.percentage.toFixed()]),
  );
}

/** R12: archive every referral of a contract that is not archived yet (bringing scheduled ones forward). */
export async function archiveReferralsOfContract(
  trx: Knex,
  contractId: number,
  at: string,
  day: string,
): Promise<{ id: number; archivedAt: string | null }[]> {
  const rows: { id: number; archived_at: Date | string | null }[] = await trx('referrals')
    .select('id', 'archived_at')
    .where({ contract_id: contractId })
    .where((q) => q.whereNull('archived_at').orWhere('archived_at', '>', at));
  const ids = rows.map((r) => r.id);
  if (ids.length > 0) {
    await trx('referrals').whereIn('id', ids).update({ archived_at: at, archive_day: day, updated_at: at, version: trx.raw('version + 1') });
  }
  return rows.map((r) => ({ id: r.id, archivedAt: toIsoTimestamp(r.archived_at) }));
}
