import type { Knex } from 'knex';
import { queryBuilt } from '../db';

export interface Page {
  limit: number;
  offset: number;
}

export interface Sort<F extends string = string> {
  field: F;
  descending: boolean;
}

export interface PageResult<T> {
  rows: T[];
  total: number;
}

/**
 * Runs a filtered query as one page plus the total. `orderBy` is the sort column (or expression);
 * the id is always the last key so that the order is deterministic. Both run as prepared statements.
 */
export async function fetchPage<R>(
  query: Knex.QueryBuilder,
  idColumn: string,
  orderBy: string | Knex.Raw,
  sort: Sort,
  page: Page,
): Promise<PageResult<R>> {
  const direction = sort.descending ? 'desc' : 'asc';
  const [counted] = await queryBuilt<{ total: number | string }>(query.clone().clearSelect().clearOrder().count({ total: '*' }));
  const ordered = query.clone();
  if (typeof orderBy === 'string') ordered.orderBy(orderBy, direction);
  else ordered.orderByRaw(`${orderBy.toQuery()} ${direction}`);
  if (orderBy !== idColumn) ordered.orderBy(idColumn, direction);
  const rows = await queryBuilt<R>(ordered.limit(page.limit).offset(page.offset));
  return { rows, total: Number(counted?.total ?? 0) };
}

/** `archived` filter on a column holding the archive instant (a future one is not archived yet). */
export function whereArchived(query: Knex.QueryBuilder, column: string, mode: 'exclude' | 'include' | 'only', nowIso: string) {
  if (mode === 'exclude') query.where((q) => q.whereNull(column).orWhere(column, '>', nowIso));
  if (mode === 'only') query.where(column, '<=', nowIso);
  return query;
}
