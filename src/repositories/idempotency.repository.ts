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
  requestHash: string;
  state: 'running' | 'done';
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  createdAt: string;
  leaseUntil: string;
}

const where = (s: IdempotencyScope) => ({ owner: s.owner, idempotency_key: s.key, method: s.method, path: s.path });

export async function insertIdempotencyKey(
  db: Knex,
  scope: IdempotencyScope,
  values: { requestHash: string; createdAt: string; leaseUntil: string },
): Promise<number> {
  const [row] = await db('idempotency_keys')
    .insert({
      ...where(scope),
      request_hash: values.requestHash,
      state: 'running',
      created_at: values.createdAt,
      lease_until: values.leaseUntil,
    })
    .returning('id');
  return (row as { id: number }).id;
}

export async function findIdempotencyKey(db: Knex, scope: IdempotencyScope): Promise<IdempotencyRecord | undefined> {
  const r = await db('idempotency_keys').where(where(scope)).first();
  if (!r) return undefined;
  return {
    id: r.id,
    requestHash: r.request_hash,
    state: r.state,
    responseStatus: r.response_status,
    responseHeaders: r.response_headers ? (JSON.parse(r.response_headers) as Record<string, string>) : null,
    responseBody: r.response_body,
    createdAt: toIsoTimestamp(r.created_at)!,
    leaseUntil: toIsoTimestamp(r.lease_until)!,
  };
}

/** Takes over a record that expired or whose first request died, if nobody else did first. */
export async function takeOverIdempotencyKey(
  db: Knex,
  id: number,
  previous: { createdAt: string; leaseUntil: string },
  values: { requestHash: string; createdAt: string; leaseUntil: string },
): Promise<boolean> {
  const changed = await db('idempotency_keys')
    .where({ id, created_at: previous.createdAt, lease_until: previous.leaseUntil })
    .update({
      request_hash: values.requestHash,
      state: 'running',
      response_status: null,
      response_headers: null,
      response_body: null,
      created_at: values.createdAt,
      lease_until: values.leaseUntil,
    });
  return changed === 1;
}

export async function completeIdempotencyKey(
  db: Knex,
  id: number,
  response: { status: number; headers: Record<string, string>; body: string },
): Promise<void> {
  await db('idempotency_keys')
    .where({ id })
    .update({
      state: 'done',
      response_status: response.status,
      response_headers: JSON.stringify(response.headers),
      response_body: response.body,
    });
}

export async function deleteIdempotencyKey(db: Knex, id: number): Promise<void> {
  await db('idempotency_keys').where({ id }).delete();
}

export async function deleteExpiredIdempotencyKeys(db: Knex, createdBefore: string): Promise<number> {
  return db('idempotency_keys').where('created_at', '<', createdBefore).delete();
}
