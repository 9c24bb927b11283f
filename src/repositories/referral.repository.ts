import type { Knex } from 'knex';
import { decimalOrderExpr, toIsoTimestamp } from '../db';
import { toDec } from '../domain/decimal';
import type { PercentageSegment } from '../domain/referral-timeline';
import { fetchPage, whereArchived, type Page, type PageResult, type Sort } from './paging';

export interface ReferralRecord {
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
  version: number;
  history: PercentageSegment[];
}

export interface ReferralContent {
  percentage: string;
  billingStartDate: string;
  billingEndDate: string | null;
  history: PercentageSegment[];
}

interface Row {
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
  version: number;
}

interface HistoryRow {
  referral_id: number;
  from_date: string;
  to_date: string | null;
  percentage: string;
}

const SORT_COLUMNS = {
  id: 'r.id',
  billingStartDate: 'r.billing_start_date',
  createdDate: 'r.created_at',
  percentage: 'r.percentage',
} as const;

function baseQuery(db: Knex) {
  return db({ r: 'referrals' })
    .join({ c: 'contracts' }, 'c.id', 'r.contract_id')
    .join({ b: 'business_units' }, 'b.id', 'r.referrer_id')
    .select(
      'r.id',
      'r.contract_id',
      { contract_bunit_id: 'c.bunit_id', contract_number: 'c.number', contract_currency: 'c.currency' },
      'r.referrer_id',
      { referrer_code: 'b.code', referrer_name: 'b.name' },
      'r.billing_start_date',
      'r.billing_end_date',
      'r.created_at',
      'r.archived_at',
      'r.version',
    );
}

async function withHistories(db: Knex, rows: Row[]): Promise<ReferralRecord[]> {
  const histories = await loadHistories(db, rows.map((r) => r.id));
  return rows.map((r) => ({
    id: r.id,
    contractId: r.contract_id,
    contractBunitId: r.contract_bunit_id,
    contractNumber: r.contract_number,
    contractCurrency: r.contract_currency,
    referrerId: r.referrer_id,
    referrerCode: r.referrer_code,
    referrerName: r.referrer_name,
    billingStartDate: r.billing_start_date,
    billingEndDate: r.billing_end_date,
    createdAt: toIsoTimestamp(r.created_at)!,
    archivedAt: toIsoTimestamp(r.archived_at),
    version: r.version,
    history: histories.get(r.id) ?? [],
  }));
}

export async function loadHistories(db: Knex, referralIds: number[]): Promise<Map<number, PercentageSegment[]>> {
  const out = new Map<number, PercentageSegment[]>();
  // Chunked so that an IN list never exceeds SQLite's parameter limit.
  for (let i = 0; i < referralIds.length; i += 500) {
    const rows: HistoryRow[] = await db('referral_percentages')
      .select('referral_id', 'from_date', 'to_date', 'percentage')
      .whereIn('referral_id', referralIds.slice(i, i + 500))
      .orderBy([{ column: 'referral_id' }, { column: 'from_date' }]);
    for (const row of rows) {
      const list = out.get(row.referral_id) ?? [];
      list.push({ from: row.from_date, to: row.to_date, percentage: toDec(row.percentage) });
      out.set(row.referral_id, list);
    }
  }
  return out;
}

export async function findReferral(db: Knex, id: number): Promise<ReferralRecord | undefined> {
  const row: Row | undefined = await baseQuery(db).where('r.id', id).first();
  return row ? (await withHistories(db, [row]))[0] : undefined;
}

/** Every referral of a contract, archived ones included (they were billable before their archive day). */
export async function findReferralsOfContract(db: Knex, contractId: number): Promise<ReferralRecord[]> {
  return withHistories(db, await baseQuery(db).where('r.contract_id', contractId).orderBy('r.id'));
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
}

export async function listReferrals(
  db: Knex,
  filter: ReferralFilter,
  sort: Sort<keyof typeof SORT_COLUMNS>,
  page: Page,
): Promise<PageResult<ReferralRecord>> {
  const query = baseQuery(db);
  if (filter.role === 'owner') query.where('c.bunit_id', filter.bunitId);
  else if (filter.role === 'referrer') query.where('r.referrer_id', filter.bunitId);
  else query.where((q) => q.where('c.bunit_id', filter.bunitId).orWhere('r.referrer_id', filter.bunitId));
  if (filter.contractId !== undefined) query.where('r.contract_id', filter.contractId);
  if (filter.referrerId !== undefined) query.where('r.referrer_id', filter.referrerId);
  if (filter.activeOn) {
    const { day, nextDayStartsIso } = filter.activeOn;
    query
      .where('r.billing_start_date', '<=', day)
      .where((q) => q.whereNull('r.billing_end_date').orWhere('r.billing_end_date', '>=', day))
      .where((q) => q.whereNull('r.archived_at').orWhere('r.archived_at', '>=', nextDayStartsIso));
  }
  if (filter.overlaps) {
    const { from, to } = filter.overlaps;
    query
      .where('r.billing_start_date', '<=', to)
      .where((q) => q.whereNull('r.billing_end_date').orWhere('r.billing_end_date', '>=', from));
  }
  whereArchived(query, 'r.archived_at', filter.archived, filter.nowIso);
  const orderBy = sort.field === 'percentage' ? decimalOrderExpr(db, SORT_COLUMNS.percentage) : SORT_COLUMNS[sort.field];
  const result = await fetchPage<Row>(query, 'r.id', orderBy, sort, page);
  return { rows: await withHistories(db, result.rows), total: result.total };
}

export async function insertReferral(
  trx: Knex,
  values: ReferralContent & { contractId: number; referrerId: number; createdAt: string },
): Promise<number> {
  const [row] = await trx('referrals')
    .insert({
      contract_id: values.contractId,
      referrer_id: values.referrerId,
      percentage: values.percentage,
      billing_start_date: values.billingStartDate,
      billing_end_date: values.billingEndDate,
      created_at: values.createdAt,
      version: 1,
    })
    .returning('id');
  const id = (row as { id: number }).id;
  await insertHistory(trx, id, values.history);
  return id;
}

export async function updateReferral(trx: Knex, id: number, values: ReferralContent): Promise<void> {
  await trx('referrals')
    .where({ id })
    .update({
      percentage: values.percentage,
      billing_start_date: values.billingStartDate,
      billing_end_date: values.billingEndDate,
      version: trx.raw('version + 1'),
    });
  await trx('referral_percentages').where({ referral_id: id }).delete();
  await insertHistory(trx, id, values.history);
}

async function insertHistory(trx: Knex, referralId: number, history: PercentageSegment[]): Promise<void> {
  await trx('referral_percentages').insert(
    history.map((s) => ({ referral_id: referralId, from_date: s.from, to_date: s.to, percentage: s.percentage.toFixed() })),
  );
}

export async function setReferralArchivedAt(trx: Knex, id: number, at: string): Promise<void> {
  await trx('referrals').where({ id }).update({ archived_at: at, version: trx.raw('version + 1') });
}

/** R12: archive every referral of a contract that is not archived yet (bringing scheduled ones forward). */
export async function archiveReferralsOfContract(
  trx: Knex,
  contractId: number,
  at: string,
): Promise<{ id: number; archivedAt: string | null }[]> {
  const rows: { id: number; archived_at: Date | string | null }[] = await trx('referrals')
    .select('id', 'archived_at')
    .where({ contract_id: contractId })
    .where((q) => q.whereNull('archived_at').orWhere('archived_at', '>', at));
  const ids = rows.map((r) => r.id);
  if (ids.length > 0) {
    await trx('referrals').whereIn('id', ids).update({ archived_at: at, version: trx.raw('version + 1') });
  }
  return rows.map((r) => ({ id: r.id, archivedAt: toIsoTimestamp(r.archived_at) }));
}
