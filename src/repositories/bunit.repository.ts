import type { Knex } from 'knex';
import type { Accounts } from '../domain/journal';
import { dialectOf, preparedSql, queryPrepared, toIsoTimestamp } from '../db';
import { fetchPage, whereArchived, type Page, type PageResult, type Sort } from './paging';

export interface BunitRecord {
  id: number;
  code: string;
  name: string;
  createdAt: string;
  archivedAt: string | null;
  version: number;
  /** The accounts its journals book on (SPEC §16). */
  accounts: Accounts;
}

const COLUMNS = [
  'id',
  'code',
  'name',
  'created_at',
  'archived_at',
  'version',
  'account_receivable',
  'account_payable',
  'account_income',
  'account_expense',
  'account_clearing',
];
const SORT_COLUMNS = { id: 'id', code: 'code', name: 'name', createdDate: 'created_at' } as const;

interface Row {
  id: number;
  code: string;
  name: string;
  created_at: Date | string;
  archived_at: Date | string | null;
  version: number;
  account_receivable: string;
  account_payable: string;
  account_income: string;
  account_expense: string;
  account_clearing: string;
}

const toRecord = (r: Row): BunitRecord => ({
  id: r.id,
  code: r.code,
  name: r.name,
  createdAt: toIsoTimestamp(r.created_at)!,
  archivedAt: toIsoTimestamp(r.archived_at),
  version: r.version,
  accounts: {
    receivable: r.account_receivable,
    payable: r.account_payable,
    income: r.account_income,
    expense: r.account_expense,
    clearing: r.account_clearing,
  },
});

const BUNIT_BY_ID = preparedSql(`SELECT ${COLUMNS.join(', ')} FROM business_units WHERE id = ?`);

export async function findBunit(db: Knex, id: number): Promise<BunitRecord | undefined> {
  const [row] = await queryPrepared<Row>(db, BUNIT_BY_ID, [id]);
  return row && toRecord(row);
}

/** One or two business units by id, share-locked on PostgreSQL (see lockRowsShared): the referral writer's look-up. */
const SHARED_BY_IDS = new Map<string, ReturnType<typeof preparedSql>>();
export async function findBunitsLockedShared(trx: Knex.Transaction, ids: readonly number[]): Promise<Map<number, BunitRecord>> {
  const unique = [...new Set(ids)].sort((a, b) => a - b);
  if (unique.length === 0) return new Map();
  const pg = dialectOf(trx) === 'postgres';
  const key = `${unique.length}:${pg}`;
  let sql = SHARED_BY_IDS.get(key);
  if (!sql) {
    const marks = unique.map(() => '?').join(', ');
    sql = preparedSql(`SELECT ${COLUMNS.join(', ')} FROM business_units WHERE id IN (${marks}) ORDER BY id${pg ? ' FOR SHARE' : ''}`);
    SHARED_BY_IDS.set(key, sql);
  }
  const rows = await queryPrepared<Row>(trx, sql, unique);
  return new Map(rows.map((r) => [r.id, toRecord(r)]));
}

export async function findBunits(db: Knex, ids: number[]): Promise<BunitRecord[]> {
  if (ids.length === 0) return [];
  const rows: Row[] = await db('business_units').select(COLUMNS).whereIn('id', ids).orderBy('id');
  return rows.map(toRecord);
}

export interface BunitFilter {
  /** Only these BUs (the key's scope), or all. */
  scope: number[] | 'all';
  archived: 'exclude' | 'include' | 'only';
  nowIso: string;
}

export async function listBunits(
  db: Knex,
  filter: BunitFilter,
  sort: Sort<keyof typeof SORT_COLUMNS>,
  page: Page,
): Promise<PageResult<BunitRecord>> {
  const query = db('business_units').select(COLUMNS);
  if (filter.scope !== 'all') query.whereIn('id', filter.scope);
  whereArchived(query, 'archived_at', filter.archived, filter.nowIso);
  const result = await fetchPage<Row>(query, 'id', SORT_COLUMNS[sort.field], sort, page);
  return { rows: result.rows.map(toRecord), total: result.total };
}

export async function insertBunit(trx: Knex, values: { code: string; name: string; createdAt: string }): Promise<number> {
  const [row] = await trx('business_units')
    .insert({ code: values.code, name: values.name, created_at: values.createdAt, version: 1 })
    .returning('id');
  return (row as { id: number }).id;
}

export async function updateBunit(trx: Knex, id: number, values: { code: string; name: string }): Promise<void> {
  await trx('business_units').where({ id }).update({ ...values, version: trx.raw('version + 1') });
}

export async function archiveBunit(trx: Knex, id: number, at: string): Promise<void> {
  await trx('business_units').where({ id }).update({ archived_at: at, version: trx.raw('version + 1') });
}
