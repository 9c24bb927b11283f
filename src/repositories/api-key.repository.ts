import type { Knex } from 'knex';
import { toIsoTimestamp } from '../db';
import { fetchPage, type Page, type PageResult, type Sort } from './paging';

import type { Role } from '../domain/access';

export type { Role };

export interface ApiKeyRecord {
  id: number;
  name: string;
  role: Role;
  /** null: all business units (admin). */
  bunitIds: number[] | null;
  createdAt: string;
  revokedAt: string | null;
}

interface Row {
  id: number;
  name: string;
  role: Role;
  bunit_ids: string | null;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const COLUMNS = ['id', 'name', 'role', 'bunit_ids', 'created_at', 'revoked_at'];

const toRecord = (r: Row): ApiKeyRecord => ({
  id: r.id,
  name: r.name,
  role: r.role,
  bunitIds: r.bunit_ids === null ? null : (JSON.parse(r.bunit_ids) as number[]),
  createdAt: toIsoTimestamp(r.created_at)!,
  revokedAt: toIsoTimestamp(r.revoked_at),
});

export async function insertApiKey(
  trx: Knex,
  values: { name: string; role: Role; bunitIds: number[] | null; secretHash: string; createdAt: string },
): Promise<number> {
  const [row] = await trx('api_keys')
    .insert({
      name: values.name,
      role: values.role,
      bunit_ids: values.bunitIds === null ? null : JSON.stringify(values.bunitIds),
      secret_hash: values.secretHash,
      created_at: values.createdAt,
    })
    .returning('id');
  return (row as { id: number }).id;
}

export async function findApiKey(db: Knex, id: number): Promise<ApiKeyRecord | undefined> {
  const row: Row | undefined = await db('api_keys').select(COLUMNS).where({ id }).first();
  return row && toRecord(row);
}

/** The unrevoked key with this secret hash. */
export async function findActiveApiKeyByHash(db: Knex, secretHash: string): Promise<ApiKeyRecord | undefined> {
  const row: Row | undefined = await db('api_keys').select(COLUMNS).where({ secret_hash: secretHash }).whereNull('revoked_at').first();
  return row && toRecord(row);
}

const SORT = { id: 'id', name: 'name', createdDate: 'created_at' } as const;

export async function listApiKeys(
  db: Knex,
  filter: { revoked: 'exclude' | 'include' | 'only' },
  sort: Sort<keyof typeof SORT>,
  page: Page,
): Promise<PageResult<ApiKeyRecord>> {
  const query = db('api_keys').select(COLUMNS);
  if (filter.revoked === 'exclude') query.whereNull('revoked_at');
  if (filter.revoked === 'only') query.whereNotNull('revoked_at');
  const result = await fetchPage<Row>(query, 'id', SORT[sort.field], sort, page);
  return { rows: result.rows.map(toRecord), total: result.total };
}

export async function revokeApiKey(trx: Knex, id: number, at: string): Promise<void> {
  await trx('api_keys').where({ id }).whereNull('revoked_at').update({ revoked_at: at });
}

export async function countApiKeys(db: Knex): Promise<number> {
  const row = await db('api_keys').count({ n: '*' }).first();
  return Number((row as { n: number | string } | undefined)?.n ?? 0);
}

/** Changes whenever a key is revoked: instances compare it to drop their cached keys. */
export async function revocationStamp(db: Knex): Promise<string> {
  const row = await db('api_keys').whereNotNull('revoked_at').count({ n: '*' }).max({ last: 'revoked_at' }).first();
  const r = row as { n: number | string; last: Date | string | null } | undefined;
  return `${Number(r?.n ?? 0)}/${toIsoTimestamp(r?.last ?? null) ?? '-'}`;
}
