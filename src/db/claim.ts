import crypto from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import { dialectOf } from './dialect';
import { transaction } from './transaction';

/**
 * One way to claim work (STYLE.md, "Libraries through their public API"), shared by the
 * settlement run and its partitions, webhook endpoints and deliveries, and singleton background
 * jobs. A job is a row with an owner column and a lease column (`lease_until`):
 *
 * - **Claim**: `UPDATE t SET owner = ?, lease_until = now() + lease WHERE id IN (SELECT id FROM t
 *   WHERE <what is due> AND (lease_until IS NULL OR lease_until < now()) ORDER BY … LIMIT n FOR
 *   UPDATE SKIP LOCKED) RETURNING …` on PostgreSQL, as pg-boss claims jobs: workers claim different
 *   rows without waiting for each other. SQLite runs the same statement without the row lock,
 *   inside a write transaction (BEGIN IMMEDIATE): its single writer is the lock.
 * - **Leases are judged by the database's clock** (`now()`, SQLite's `'now'`), never by the
 *   clocks of the instances, which may disagree.
 * - **Renewal**: the holder extends its lease while the work goes on (a Heartbeat, every third of
 *   the lease); a renewal finds the row no longer its own when another worker took it over.
 * - **Expiry only**: a lease held by a process that died is free once it has run out; nothing
 *   probes whether a process is alive.
 */

/** A claim holder's name: `host:pid:nonce` (at most 64 characters), unique per claimer. */
export function newClaimOwner(): string {
  return `${os.hostname().replace(/:/g, '_').slice(0, 40)}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
}

/** The database's clock, now (PostgreSQL: the transaction's start; SQLite: ISO 8601 text, as timestamps are stored). */
export function dbNow(db: Knex): Knex.Raw {
  return dialectOf(db) === 'postgres' ? db.raw('now()') : db.raw("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
}

/** The database's clock `seconds` from now (fractions allowed, negative: ago). */
export function dbNowPlus(db: Knex, seconds: number): Knex.Raw {
  if (dialectOf(db) === 'postgres') return db.raw('now() + make_interval(secs => ?)', [seconds]);
  return db.raw("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)", [`${seconds >= 0 ? '+' : ''}${seconds} seconds`]);
}

/** The columns a claimable table names its id, owner and lease by (default id, lease_owner, lease_until). */
export interface ClaimColumns {
  id?: string;
  owner?: string;
  until?: string;
}

const columnsOf = (c: ClaimColumns = {}) => ({ id: c.id ?? 'id', owner: c.owner ?? 'lease_owner', until: c.until ?? 'lease_until' });

export interface ClaimSpec {
  table: string;
  /** Who claims (newClaimOwner()). */
  owner: string;
  leaseSeconds: number;
  /** Rows claimed at most (default 1). */
  limit?: number;
  /**
   * What is due, besides a free lease: conditions on the candidates' select (columns of `table`,
   * unqualified or `table.column`); `trx` is the claim's transaction (for dbNow(trx)).
   */
  where?: (candidates: Knex.QueryBuilder, trx: Knex) => void;
  /** Which candidates first (raw ORDER BY of the candidates' select). */
  orderBy?: string;
  /** More columns set with the claim (`(trx) => ({ claimed_at: dbNow(trx) })` for "when it was claimed"). */
  set?: Record<string, unknown> | ((trx: Knex) => Record<string, unknown>);
  /** Columns of the claimed rows to return (default all). */
  returning?: readonly string[];
  columns?: ClaimColumns;
}

/**
 * Claims up to `limit` rows of `spec.table` that match `spec.where` and whose lease is free (none,
 * or run out by the database's clock): they are the owner's until `leaseSeconds` from now. The
 * claimed rows, as they are after the claim, in no particular order. Runs in the caller's
 * transaction, or in a short one of its own.
 */
export async function claim<Row = Record<string, unknown>>(db: Knex, spec: ClaimSpec): Promise<Row[]> {
  const col = columnsOf(spec.columns);
  return transaction(
    db,
    async (trx) => {
      const candidates = trx(spec.table)
        .select(col.id)
        .where((q) => q.whereNull(col.until).orWhere(col.until, '<', dbNow(trx)));
      spec.where?.(candidates, trx);
      if (spec.orderBy) candidates.orderByRaw(spec.orderBy);
      candidates.limit(spec.limit ?? 1);
      if (dialectOf(trx) === 'postgres') candidates.forUpdate().skipLocked();
      const rows = await trx(spec.table)
        .whereIn(col.id, candidates)
        .update({ ...(typeof spec.set === 'function' ? spec.set(trx) : spec.set), [col.owner]: spec.owner, [col.until]: dbNowPlus(trx, spec.leaseSeconds) })
        .returning((spec.returning ?? ['*']) as string[]);
      return rows as Row[];
    },
    // A claim lost to a power cut only makes the work claimable again.
    { durable: false },
  );
}

/**
 * Extends the owner's leases of these rows to `leaseSeconds` from now (database clock); how many
 * it still held. A row another worker has claimed meanwhile is not touched.
 */
export async function renewClaims(
  db: Knex,
  spec: { table: string; ids: readonly (number | string)[]; owner: string; leaseSeconds: number; columns?: ClaimColumns },
): Promise<number> {
  if (spec.ids.length === 0) return 0;
  const col = columnsOf(spec.columns);
  return transaction(
    db,
    (trx) =>
      trx(spec.table)
        .whereIn(col.id, spec.ids as (number | string)[])
        .where(col.owner, spec.owner)
        .update({ [col.until]: dbNowPlus(trx, spec.leaseSeconds) }),
    { durable: false },
  );
}

/** Hands back the owner's claims of these rows (with `set`, more columns changed with it); how many it held. */
export async function releaseClaims(
  db: Knex,
  spec: {
    table: string;
    ids: readonly (number | string)[];
    owner: string;
    set?: Record<string, unknown> | ((trx: Knex) => Record<string, unknown>);
    columns?: ClaimColumns;
  },
): Promise<number> {
  if (spec.ids.length === 0) return 0;
  const col = columnsOf(spec.columns);
  return transaction(db, (trx) =>
    trx(spec.table)
      .whereIn(col.id, spec.ids as (number | string)[])
      .where(col.owner, spec.owner)
      .update({ ...(typeof spec.set === 'function' ? spec.set(trx) : spec.set), [col.owner]: null, [col.until]: null }),
  );
}

/**
 * Renews a claim while the work goes on: `renew` every `everyMs` (a third of the lease, say),
 * one at a time. `lost` turns true when a renewal finds the claim taken over (`renew` answered
 * false); a renewal that fails (the database away for a moment) is tried again at the next turn.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lostClaim = false;

  constructor(
    private readonly renew: () => Promise<boolean>,
    everyMs: number,
    private readonly onError?: (err: unknown) => void,
  ) {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.renew()
        .then(
          (held) => {
            if (!held) this.lostClaim = true;
          },
          (err: unknown) => this.onError?.(err),
        )
        .finally(() => {
          this.running = null;
        });
    }, Math.max(10, everyMs));
    this.timer.unref();
  }

  /** Another worker took the claim over: the work should stop. */
  get lost(): boolean {
    return this.lostClaim;
  }

  /** No more renewals; resolves once the one in flight (if any) has finished. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}

/** The renewal interval of a lease: a third of it, so that two renewals may fail before it runs out. */
export const renewEveryMs = (leaseSeconds: number) => (leaseSeconds * 1000) / 3;

export interface ClaimedJob {
  owner: string;
  /** True once the lease was taken over (the job ran longer than its lease without a renewal): stop. */
  readonly lost: boolean;
}

export interface JobOptions {
  /** Runs only if it has not finished (on any instance) within the last this many seconds. */
  everySeconds?: number;
}

/**
 * Runs a singleton background job (the retention sweep, statement auto-acceptance) if this caller
 * gets its claim: the row `name` of `background_jobs`, leased for `leaseSeconds` and renewed
 * while `fn` runs. Whichever instance or command gets there first runs it; the others answer
 * `{ ran: false }` at once. A holder that dies leaves the job free once its lease has run out.
 *
 *   await runClaimedJob(db, 'statement-auto-acceptance', 60, () => acceptDueStatements(…))
 */
export async function runClaimedJob<T>(
  db: Knex,
  name: string,
  leaseSeconds: number,
  fn: (job: ClaimedJob) => Promise<T>,
  options: JobOptions = {},
): Promise<{ ran: true; result: T } | { ran: false }> {
  const owner = newClaimOwner();
  const columns = { id: 'name', owner: 'claimed_by' };
  const claimed = await transaction(
    db,
    async (trx) => {
      await trx('background_jobs').insert({ name }).onConflict('name').ignore();
      return claim(trx, {
        table: 'background_jobs',
        owner,
        leaseSeconds,
        columns,
        returning: ['name'],
        set: (t) => ({ last_started_at: dbNow(t) }),
        where: (q) => {
          q.where({ name });
          const every = options.everySeconds;
          if (every !== undefined) q.where((w) => w.whereNull('last_finished_at').orWhere('last_finished_at', '<', dbNowPlus(trx, -every)));
        },
      });
    },
    { durable: false },
  );
  if (claimed.length === 0) return { ran: false };
  const beat = new Heartbeat(async () => (await renewClaims(db, { table: 'background_jobs', ids: [name], owner, leaseSeconds, columns })) === 1, renewEveryMs(leaseSeconds));
  let finished = false;
  try {
    const result = await fn({
      owner,
      get lost() {
        return beat.lost;
      },
    });
    finished = true;
    return { ran: true, result };
  } finally {
    await beat.stop();
    await releaseClaims(db, { table: 'background_jobs', ids: [name], owner, columns, set: (trx) => (finished ? { last_finished_at: dbNow(trx) } : {}) });
  }
}
