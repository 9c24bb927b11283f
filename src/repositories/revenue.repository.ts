import type { Knex } from 'knex';
import { insertRows, queryBuilt, toIsoTimestamp } from '../db';
import { fetchPage, type Page, type PageResult, type Sort } from './paging';

export interface RevenueLineRecord {
  id: number;
  contractId: number;
  externalId: string;
  amount: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
  createdAt: string;
  settled: boolean;
}

export interface NewRevenueLine {
  externalId: string;
  amount: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
}

interface Row {
  id: number;
  contract_id: number;
  external_id: string;
  amount: string;
  currency: string;
  period_start: string;
  period_end: string;
  created_at: Date | string;
  settled: number | boolean;
}

const SORT_COLUMNS = { id: 'l.id', periodStart: 'l.period_start', periodEnd: 'l.period_end', createdDate: 'l.created_at' } as const;

function baseQuery(db: Knex) {
  return db({ l: 'revenue_lines' }).select(
    'l.id',
    'l.contract_id',
    'l.external_id',
    'l.amount',
    'l.currency',
    'l.period_start',
    'l.period_end',
    'l.created_at',
    db.raw('(CASE WHEN EXISTS (SELECT 1 FROM settled_pairs sp WHERE sp.revenue_line_id = l.id) THEN 1 ELSE 0 END) AS settled'),
  );
}

const toRecord = (r: Row): RevenueLineRecord => ({
  id: r.id,
  contractId: r.contract_id,
  externalId: r.external_id,
  amount: String(r.amount),
  currency: r.currency,
  periodStart: r.period_start,
  periodEnd: r.period_end,
  createdAt: toIsoTimestamp(r.created_at)!,
  settled: Number(r.settled) === 1,
});

export async function findRevenueLine(db: Knex, id: number): Promise<RevenueLineRecord | undefined> {
  const row: Row | undefined = await baseQuery(db).where('l.id', id).first();
  return row && toRecord(row);
}

export async function findRevenueByExternalIds(db: Knex, contractId: number, externalIds: string[]): Promise<RevenueLineRecord[]> {
  const out: RevenueLineRecord[] = [];
  for (let i = 0; i < externalIds.length; i += 500) {
    const rows = await queryBuilt<Row>(baseQuery(db).where('l.contract_id', contractId).whereIn('l.external_id', externalIds.slice(i, i + 500)));
    out.push(...rows.map(toRecord));
  }
  return out;
}

export async function insertRevenueLines(trx: Knex, contractId: number, lines: NewRevenueLine[], createdAt: string): Promise<void> {
  await insertRows(
    trx,
    'revenue_lines',
    ['contract_id', 'external_id', 'amount', 'currency', 'period_start', 'period_end', 'created_at'],
    lines.map((l) => [contractId, l.externalId, l.amount, l.currency, l.periodStart, l.periodEnd, createdAt]),
  );
}

export async function listRevenueLines(
  db: Knex,
  filter: { contractId: number; settled?: boolean | undefined },
  sort: Sort<keyof typeof SORT_COLUMNS>,
  page: Page,
): Promise<PageResult<RevenueLineRecord>> {
  const query = baseQuery(db).where('l.contract_id', filter.contractId);
  if (filter.settled !== undefined) {
    const exists = db.raw('EXISTS (SELECT 1 FROM settled_pairs sp WHERE sp.revenue_line_id = l.id)');
    if (filter.settled) query.whereRaw(exists.toQuery());
    else query.whereRaw(`NOT ${exists.toQuery()}`);
  }
  const result = await fetchPage<Row>(query, 'l.id', SORT_COLUMNS[sort.field], sort, page);
  return { rows: result.rows.map(toRecord), total: result.total };
}

export async function deleteRevenueLine(trx: Knex, id: number): Promise<void> {
  await trx('revenue_lines').where({ id }).delete();
}
