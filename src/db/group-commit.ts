import type { Knex } from 'knex';
import { sqliteState } from './sqlite';

/**
 * Group commit for SQLite's durable transactions.
 *
 * A process has one SQLite connection, so its write transactions run one after the other anyway,
 * and each durable commit waits for its own fsync of the WAL: under concurrent writes that fsync,
 * not the work, is most of a request (bench scenario 3). Here the transactions that are ready
 * while one group is open run one after the other inside one transaction, each in a savepoint of
 * its own (Knex's nested transaction, which Knex runs strictly after the one before), and the
 * group commits once, with one fsync, when none of them is running any more.
 *
 * What a caller sees does not change:
 * - its work is atomic: if it throws, its savepoint is rolled back and only it fails;
 * - `transaction()` returns only after the COMMIT that made its work durable, so nothing is
 *   answered, and no after-commit effect runs, before its data is on disk;
 * - if the COMMIT fails (the disk is full, the file went away), every member fails with that error
 *   and none of their work is kept.
 *
 * A group is closed to newcomers after MAX_MEMBERS members or MAX_OPEN_MS: the write lock of the
 * file is never held long for other processes, and later transactions begin the next group (which
 * waits for this one's connection like any Knex query).
 */
const MAX_MEMBERS = 64;
const MAX_OPEN_MS = 20;

interface Group {
  /** The open transaction once begun; rejects when it could not begin (the lock wait ran out). */
  readonly ready: Promise<Knex.Transaction>;
  /** Resolves once the group has committed; rejects with the COMMIT's (or BEGIN's) error. */
  readonly committed: Promise<void>;
  /** Ends the group's work: Knex then commits it. */
  readonly finish: () => void;
  readonly openedAt: number;
  joined: number;
  running: number;
  closed: boolean;
  /** An error after which SQLite rolled the whole transaction back: no member may run in it any more. */
  broken: unknown;
  /** A check for the end of the group is scheduled. */
  checking: boolean;
}

const openGroups = new WeakMap<object, Group>();

/**
 * Runs `work` as a member of the open group of the SQLite Knex `db` (beginning one if none is
 * open), with `begin(work)` being how a transaction of its own is run (./transaction.ts).
 */
export async function inGroupCommit<T>(
  db: Knex,
  work: (trx: Knex.Transaction) => Promise<T>,
  begin: (db: Knex, work: (trx: Knex.Transaction) => Promise<void>) => Promise<void>,
): Promise<T> {
  const group = joinGroup(db, begin);
  group.joined += 1;
  group.running += 1;
  let result: T;
  try {
    const outer = await group.ready;
    result = await outer.transaction(async (trx) => {
      if (group.broken !== undefined) throw group.broken;
      return work(trx);
    });
  } catch (err) {
    // SQLite rolls a whole transaction back after some errors (a full disk, an I/O error): the
    // members after this one must not start a transaction of their own with their savepoint.
    if (group.broken === undefined && !inTransaction(db)) group.broken = err;
    leave(group, db);
    throw err;
  }
  leave(group, db);
  await group.committed;
  return result;
}

const joinable = (group: Group) => !group.closed && group.joined < MAX_MEMBERS && Date.now() - group.openedAt < MAX_OPEN_MS;

function joinGroup(db: Knex, begin: (db: Knex, work: (trx: Knex.Transaction) => Promise<void>) => Promise<void>): Group {
  const open = openGroups.get(db.client);
  if (open && joinable(open)) return open;
  if (open) open.closed = true;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let begun!: (trx: Knex.Transaction) => void;
  const committed = begin(db, async (trx) => {
    begun(trx);
    await finished;
  });
  const ready = new Promise<Knex.Transaction>((resolve, reject) => {
    begun = resolve;
    committed.catch(reject);
  });
  // A group no member waits on any more (its last one failed) must not leave an unhandled rejection.
  committed.catch(() => undefined);
  const group: Group = { ready, committed, finish, openedAt: Date.now(), joined: 0, running: 0, closed: false, broken: undefined, checking: false };
  openGroups.set(db.client, group);
  return group;
}

/**
 * A member is done. When none is running, the group ends after the transactions that are ready
 * now had their turn to join (the rest of this turn of the event loop): then Knex commits it.
 */
function leave(group: Group, db: Knex): void {
  group.running -= 1;
  if (group.running > 0 || group.checking) return;
  group.checking = true;
  setImmediate(() => {
    group.checking = false;
    if (group.running > 0) return;
    group.closed = true;
    if (openGroups.get(db.client) === group) openGroups.delete(db.client);
    group.finish();
  });
}

function inTransaction(db: Knex): boolean {
  const conn = sqliteState(db.client)?.conn;
  return conn !== undefined && conn.open && conn.inTransaction;
}
