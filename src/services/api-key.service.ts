import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { notFound, unprocessable } from '../domain/errors';
import {
  countApiKeys,
  findActiveApiKeyByHash,
  findApiKey,
  insertApiKey,
  listApiKeys,
  revocationStamp,
  revokeApiKey,
  type ApiKeyRecord,
  type Role,
} from '../repositories/api-key.repository';
import { findBunits } from '../repositories/bunit.repository';
import type { Page, Sort } from '../repositories/paging';
import type { Actor, ServiceContext } from './context';
import { apiKeyEvent } from './event.service';
import { withUnitOfWork, type Acting } from './unit-of-work';

/** 32 random bytes, base64url, with a prefix that makes a leaked key easy to recognise. */
export function newSecret(): string {
  return `rsk_${crypto.randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface NewApiKey {
  name: string;
  role: Role;
  bunitIds?: number[] | undefined;
}

export class ApiKeyService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly onRevoke: () => void = () => undefined,
  ) {}

  /** Creates a key; the secret is returned this once and only its hash is stored. */
  async create(input: NewApiKey, by: Acting): Promise<{ key: ApiKeyRecord; secret: string }> {
    const secret = newSecret();
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { trx } = uow;
      const bunitIds = input.role === 'admin' ? null : [...new Set(input.bunitIds ?? [])].sort((a, b) => a - b);
      if (bunitIds !== null) {
        const found = new Set((await findBunits(trx, bunitIds)).map((b) => b.id));
        const missing = bunitIds.filter((id) => !found.has(id));
        if (missing.length > 0) {
          // Each error names the place of the id in the request (the first, if it is there twice).
          const given = input.bunitIds ?? [];
          throw unprocessable(
            'invalid-reference',
            `Business units ${missing.join(', ')} do not exist.`,
            missing.map((id) => ({ path: `body.bunitIds.${given.indexOf(id)}`, message: `business unit ${id} does not exist` })),
          );
        }
      }
      const id = await insertApiKey(trx, { name: input.name, role: input.role, bunitIds, secretHash: hashSecret(secret), createdAt: uow.nowIso });
      uow.record({
        entity: 'api-key',
        id,
        action: 'create',
        changes: [
          { field: 'name', from: null, to: input.name },
          { field: 'role', from: null, to: input.role },
          { field: 'bunitIds', from: null, to: bunitIds },
        ],
        events: [apiKeyEvent('api_key.created', id)],
      });
      return { key: (await findApiKey(trx, id))!, secret };
    });
  }

  async get(id: number): Promise<ApiKeyRecord> {
    const key = await findApiKey(this.ctx.db, id);
    if (!key) throw notFound(`API key ${id} does not exist.`);
    return key;
  }

  list(filter: { revoked: 'exclude' | 'include' | 'only' }, sort: Sort<'id' | 'name' | 'createdDate'>, page: Page) {
    return listApiKeys(this.ctx.db, filter, sort, page);
  }

  /** Revokes a key; this instance forgets it at once, the others at their next poll. */
  async revoke(id: number, by: Acting): Promise<void> {
    await withUnitOfWork(this.ctx, by, async (uow) => {
      const key = await findApiKey(uow.trx, id);
      if (!key) throw notFound(`API key ${id} does not exist.`);
      if (key.revokedAt !== null) return;
      await revokeApiKey(uow.trx, id, uow.nowIso);
      uow.record({
        entity: 'api-key',
        id,
        action: 'revoke',
        changes: [{ field: 'revokedDate', from: null, to: uow.nowIso }],
        events: [apiKeyEvent('api_key.revoked', id)],
      });
      uow.afterCommit(this.onRevoke);
    });
  }

  count(): Promise<number> {
    return countApiKeys(this.ctx.db);
  }
}

const toActor = (key: ApiKeyRecord): Actor => ({
  keyId: key.id,
  name: key.name,
  role: key.role,
  bunitIds: key.bunitIds === null ? 'all' : key.bunitIds,
});

/**
 * Resolves bearer secrets without a database round trip on the hot path: keys found once are
 * kept in memory by their hash. A revocation through this instance clears the cache at once;
 * revocations through other instances are seen by poll() of a revocation stamp (count and
 * latest revocation time), which a background worker of the app calls every second.
 */
/** Who acts with ADMIN_API_KEY: one object, shared by every request (actors are never changed). */
const ADMIN_ACTOR: Actor = Object.freeze({ keyId: null, name: 'ADMIN_API_KEY', role: 'admin', bunitIds: 'all' });

export class KeyCache {
  private readonly byHash = new Map<string, Actor>();
  private stamp: string | null = null;
  /** Bumped by every clear(): a look-up that raced with a revocation does not refill the cache. */
  private generation = 0;
  /** SHA-256 of ADMIN_API_KEY, computed once: every request compares against it. */
  private readonly adminDigest: Buffer | null;

  constructor(
    private readonly db: Knex,
    adminApiKey: string | undefined,
  ) {
    this.adminDigest = adminApiKey === undefined ? null : sha256(adminApiKey);
  }

  clear(): void {
    this.generation += 1;
    this.byHash.clear();
  }

  async poll(): Promise<void> {
    const stamp = await revocationStamp(this.db);
    // The first poll clears too: keys cached before it may predate a revocation it cannot see.
    if (stamp !== this.stamp) this.clear();
    this.stamp = stamp;
  }

  async resolve(secret: string): Promise<Actor | null> {
    // One hash of the secret serves both the constant-time comparison and the look-up by hash.
    const digest = sha256(secret);
    if (this.adminDigest !== null && crypto.timingSafeEqual(digest, this.adminDigest)) {
      return ADMIN_ACTOR;
    }
    const hash = digest.toString('hex');
    const cached = this.byHash.get(hash);
    if (cached) return cached;
    const generation = this.generation;
    const key = await findActiveApiKeyByHash(this.db, hash);
    if (!key) return null;
    const actor = toActor(key);
    if (generation === this.generation) this.byHash.set(hash, actor);
    return actor;
  }
}

/** Hashing first makes the lengths equal, so secrets compare in constant time. */
const sha256 = (text: string) => crypto.hash('sha256', text, 'buffer');
