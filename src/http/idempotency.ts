import crypto from 'node:crypto';
import type { Request } from 'express';
import type { Knex } from 'knex';
import type { BusinessCalendar } from '../clock';
import { isUniqueViolation, transaction } from '../db';
import { ApiError, conflict, unprocessable, validationFailed } from '../domain/errors';
import {
  completeIdempotencyKey,
  deleteExpiredIdempotencyKeys,
  deleteIdempotencyKey,
  findIdempotencyKey,
  insertIdempotencyKey,
  rememberIdempotencyResource,
  renewIdempotencyKey,
  takeOverIdempotencyKey,
  type IdempotencyScope,
} from '../repositories/idempotency.repository';
import { JsonNumber } from '../schemas/common';
import type { Actor } from '../services/context';
import type { IdempotencyHandle } from './route';

const RETENTION_MS = 24 * 60 * 60 * 1000;
/**
 * How long a first request holds its key while running. A process that dies mid-request cannot
 * release it; after the lease another request may take the key over.
 */
const LEASE_MS = 10 * 60 * 1000;

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The request goes ahead as this attempt holding the key, or its first answer is replayed. */
export type Begin =
  | { kind: 'proceed'; id: number; attempt: string; resource: string | null }
  | { kind: 'replay'; response: StoredResponse };

/** Canonical JSON of a parsed body (sorted keys, numbers as written), so equal bodies hash alike. */
function canonical(value: unknown): string {
  if (value instanceof JsonNumber) return value.raw;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * SPEC §7.2: Idempotency-Key on POST, stored in the database so that it holds across instances;
 * scoped per API key and method+path; kept 24 h.
 */
export class IdempotencyStore {
  constructor(
    private readonly db: Knex,
    private readonly calendar: BusinessCalendar,
  ) {}

  static keyOf(req: Request): string | undefined {
    const value = req.headers['idempotency-key'];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
      throw validationFailed([{ path: 'header.Idempotency-Key', message: 'must be 1 to 255 characters' }]);
    }
    return value;
  }

  async begin(actor: Actor, key: string, req: Request): Promise<Begin> {
    const scope: IdempotencyScope = {
      owner: actor.keyId === null ? `env:${actor.name}` : `key:${actor.keyId}`,
      key,
      method: req.method,
      path: req.originalUrl,
    };
    const requestHash = crypto.createHash('sha256').update(canonical(req.body)).digest('hex');
    for (let tries = 0; tries < 3; tries++) {
      const now = this.calendar.now().getTime();
      const fresh = {
        attempt: crypto.randomUUID(),
        requestHash,
        createdAt: new Date(now).toISOString(),
        leaseUntil: new Date(now + LEASE_MS).toISOString(),
      };
      try {
        const id = await transaction(this.db, (trx) => insertIdempotencyKey(trx, scope, fresh));
        return { kind: 'proceed', id, attempt: fresh.attempt, resource: null };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const stored = await findIdempotencyKey(this.db, scope);
      if (!stored) continue;
      const expired = Date.parse(stored.createdAt) + RETENTION_MS <= now;
      const abandoned = stored.state === 'running' && Date.parse(stored.leaseUntil) <= now;
      if (expired || abandoned) {
        // A first attempt that died keeps what it began, for this one to continue (same body only).
        const keepResource = abandoned && !expired && stored.requestHash === requestHash;
        const taken = await transaction(this.db, (trx) => takeOverIdempotencyKey(trx, stored.id, stored, { ...fresh, keepResource }));
        if (taken) return { kind: 'proceed', id: stored.id, attempt: fresh.attempt, resource: keepResource ? stored.resource : null };
        continue;
      }
      if (stored.requestHash !== requestHash) {
        throw unprocessable(
          'idempotency-key-mismatch',
          `Idempotency-Key ${key} was used with a different request body within the last 24 hours.`,
        );
      }
      if (stored.state === 'running') {
        throw conflict('idempotency-key-in-use', `A request with Idempotency-Key ${key} is still being processed; retry later.`);
      }
      return {
        kind: 'replay',
        response: { status: stored.responseStatus!, headers: stored.responseHeaders ?? {}, body: stored.responseBody ?? '' },
      };
    }
    throw conflict('idempotency-key-in-use', `Idempotency-Key ${key} is being taken by another request; retry later.`);
  }

  /** Stores the answer, if this attempt still holds the key (one that outlived its lease does not overwrite the retry's). */
  complete(id: number, attempt: string, response: StoredResponse): Promise<boolean> {
    return transaction(this.db, (trx) => completeIdempotencyKey(trx, id, attempt, response));
  }

  /** What a long handler may do with the key it holds: renew its lease, note what it began. */
  handle(begun: { id: number; attempt: string; resource: string | null }): IdempotencyHandle {
    return {
      resource: begun.resource,
      remember: (resource) => transaction(this.db, (trx) => rememberIdempotencyResource(trx, begun.id, begun.attempt, resource)),
      renew: () =>
        transaction(this.db, (trx) => renewIdempotencyKey(trx, begun.id, begun.attempt, new Date(this.calendar.now().getTime() + LEASE_MS).toISOString())),
    };
  }

  /** Forgets keys older than 24 h (they no longer replay anyway); returns how many. */
  sweep(): Promise<number> {
    return deleteExpiredIdempotencyKeys(this.db, new Date(this.calendar.now().getTime() - RETENTION_MS).toISOString());
  }

  /** After a failure that a retry may cure (5xx), the key is released. */
  release(id: number, attempt: string): Promise<void> {
    return transaction(this.db, (trx) => deleteIdempotencyKey(trx, id, attempt));
  }
}

/**
 * A 4xx the handler answered is the request's answer, and a retry gets it again. A conflict that
 * only says "not now" (another settlement run is running) is not: the key is freed, so that a
 * retry once the other run has completed does the work.
 */
const NOT_NOW = new Set(['run-in-progress']);

export function isReplayable(err: unknown): err is ApiError {
  return err instanceof ApiError && err.status < 500 && !NOT_NOW.has(err.code);
}
