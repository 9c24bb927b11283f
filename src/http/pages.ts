import type { PageResult } from '../repositories/paging';

/** A page of records as the API's list envelope (SPEC §2): `{data, meta: {total, limit, offset}}`. */
export function presentPage<R, T>(page: PageResult<R>, query: { limit: number; offset: number }, present: (r: R) => T) {
  return { data: page.rows.map(present), meta: { total: page.total, limit: query.limit, offset: query.offset } };
}
