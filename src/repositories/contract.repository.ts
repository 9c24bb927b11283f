import type { Knex } from 'knex';
import { preparedSql, queryPrepared, toIsoTimestamp } from '../db';
import { fetchPage, whereArchived, type Page, type PageResult, type Sort } from './paging';

export interface ContractRecord {
  id: number;
  bunitId: number;
  number: string;
  name: string;
  customer: string | null;
  currency: string;
  startDate: string;
  endDate: string | null;
  createdAt: string;
  archivedAt: string | null;
  version: number;
}

export interface ContractContent {
  number: string;
  name: string;
  customer: string | null;
  startDate: string;
  endDate: string | null;
}

interface Row {
  id: number;
  bunit_id: number;
  number: string;
  name: string;
  customer: string | null;
  currency: string;
  start_date: string;
  end_date: string | null;
  created_at: Date | string;
  archived_at: Date | string | null;
  version: number;
}

const COLUMNS = [
  'id', 'bunit_id', 'number', 'name', 'customer', 'currency', 'start_date', 'end_date', 'created_at', 'archived_at', 'version',
];
const SORT_COLUMNS = { id: 'id', number: 'number', startDate: 'start_date', createdDate: 'created_at' } as const;

const toRecord = (r: Row): ContractRecord => ({
  id: r.id,
  bunitId: r.bunit_id,
  number: r.number,
  name: r.name,
  customer: r.customer,
  currency: r.currency,
  startDate: r.start_date,
  endDate: r.end_date,
  createdAt: toIsoTimestamp(r.created_at)!,
  archivedAt: toIsoTimestamp(r.archived_at),
  version: r.version,
});

const toRow = (c: ContractContent) => ({
  number: c.number,
  name: c.name,
  customer: c.customer,
  start_date: c.startDate,
  end_date: c.endDate,
});

const CONTRACT_BY_ID = preparedSql(`SELECT ${COLUMNS.join(', ')} FROM contracts WHERE id = ?`);

export async function findContract(db: Knex, id: number): Promise<ContractRecord | undefined> {
  const [row] = await queryPrepared<Row>(db, CONTRACT_BY_ID, [id]);
  return row && toRecord(row);
}

export async function listContracts(
  db: Knex,
  filter: { bunitId: number; archived: 'exclude' | 'include' | 'only'; nowIso: string },
  sort: Sort<keyof typeof SORT_COLUMNS>,
  page: Page,
): Promise<PageResult<ContractRecord>> {
  const query = db('contracts').select(COLUMNS).where({ bunit_id: filter.bunitId });
  whereArchived(query, 'archived_at', filter.archived, filter.nowIso);
  const result = await fetchPage<Row>(query, 'id', SORT_COLUMNS[sort.field], sort, page);
  return { rows: result.rows.map(toRecord), total: result.total };
}

export async function insertContract(
  trx: Knex,
  values: ContractContent & { bunitId: number; currency: string; createdAt: string },
): Promise<number> {
  const [row] = await trx('contracts')
    .insert({ ...toRow(values), bunit_id: values.bunitId, currency: values.currency, created_at: values.createdAt, version: 1 })
    .returning('id');
  return (row as { id: number }).id;
}

export async function updateContract(trx: Knex, id: number, values: ContractContent): Promise<void> {
  await trx('contracts').where({ id }).update({ ...toRow(values), version: trx.raw('version + 1') });
}

export async function archiveContract(trx: Knex, id: number, at: string): Promise<void> {
  await trx('contracts').where({ id }).update({ archived_at: at, version: trx.raw('version + 1') });
}
