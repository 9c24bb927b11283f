import type { Knex } from 'knex';
import { toIsoTimestamp } from '../db';

export interface IdempotencyScope {
  owner: string;
  key: string;
  method: string;
  path: string;
}

export interface IdempotencyRecord {
  id: number;
  /** The attempt that holds the record while it runs. */
  attempt: string | null;
  /** What an attempt began (a settlement run), for a retry to continue. */
  resource: string | null;
  requestHash: string;
  state: 'running' | 'done';
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  createdAt: string;
  leaseUntil: string;
}

const where = (s: IdempotencyScope) => ({ owner: s.owner, idempotency_key: s.key, method: s.method, path: s.path });

const COLUMNS = ['id', 'attempt', 'resource', 'request_hash', 'state', 'response_status', 'response_headers', 'response_body', 'created_at', 'lease_until'];

export async function insertIdempotencyKey(
  db: Knex,
  scope: IdempotencyScope,
  values: { attempt: string; requestHash: string; createdAt: string; leaseUntil: string },
): Promise<number> {
  const [row] = await db('idempotency_keys')
    .insert({
      ...where(scope),
      attempt: values.attempt,
      request_hash: values.requestHash,
      state: 'running',
      created_at: values.createdAt,
      lease_until: values.leaseUntil,
    })
    .returning('id');
  return (row as { id: number }).id;
}

export async function findIdempotencyKey(db: Knex, scope: IdempotencyScope): Promise<IdempotencyRecord | undefined> {
  const r = await db('idempotency_keys').select(COLUMNS).where(where(scope)).first();
  if (!r) return undefined;
  return {
    id: r.id,
    attempt: r.attempt,
    resource: r.resource,
    requestHash: r.request_hash,
    state: r.state,
    responseStatus: r.response_status,
    responseHeaders: r.response_headers ? (JSON.parse(r.response_headers) as Record<string, string>) : null,
    responseBody: r.response_body,
    createdAt: toIsoTimestamp(r.created_at)!,
    leaseUntil: toIsoTimestamp(r.lease_until)!,
  };
}

/**
 * Takes over a record that expired or whose first request died, if nobody else did first. A
 * record taken over while its first attempt was still running keeps what that attempt began
 * (`resource`), unless it had expired (24 h).
 */
export async function takeOverIdempotencyKey(
  db: Knex,
  id: number,
  previous: { createdAt: string; leaseUntil: string; attempt: string | null },
  values: { attempt: string; requestHash: string; createdAt: string; leaseUntil: string; keepResource: boolean },
): Promise<boolean> {
  const query = db('idempotency_keys').where({ id, created_at: previous.createdAt, lease_until: previous.leaseUntil });
  const changed = await query.update({
    attempt: values.attempt,
    request_hash: values.requestHash,
    state: 'running',
    response_status: null,
    response_headers: null,
    response_body: null,
    created_at: values.createdAt,
    lease_until: values.leaseUntil,
    ...(values.keepResource ? {} : { resource: null }),
  });
  return changed === 1;
}

/** Stores the answer; only the attempt that holds the record may (false: another took it over). */
export async function completeIdempotencyKey(
  db: Knex,
  id: number,
  attempt: string,
  response: { status: number; headers: Record<string, string>; body: string },
): Promise<boolean> {
  const changed = await db('idempotency_keys')
    .where({ id, attempt })
    .update({
      state: 'done',
      response_status: response.status,
      response_headers: JSON.stringify(response.headers),
      response_body: response.body,
    });
  return changed === 1;
}

/** Forgets the record (a failure a retry may cure), if this attempt still holds it. */
export async function deleteIdempotencyKey(db: Knex, id: number, attempt: string): Promise<void> {
  await db('idempotency_keys').where({ id, attempt }).delete();
}

/** Extends the lease of the attempt that holds the record. */
export async function renewIdempotencyKey(db: Knex, id: number, attempt: string, leaseUntil: string): Promise<void> {
  await db('idempotency_keys').where({ id, attempt, state: 'running' }).update({ lease_until: leaseUntil });
}

/** Notes what the attempt that holds the record began. */
export async function rememberIdempotencyResource(db: Knex, id: number, attempt: string, resource: string): Promise<void> {
  await db('idempotency_keys').where({ id, attempt }).update({ resource });
}

export async function deleteExpiredIdempotencyKeys(db: Knex, createdBefore: string): Promise<number> {
  return db('idempotency_keys').where('created_at', '<', createdBefore).delete();
}
