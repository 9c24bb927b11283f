import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createDb, transaction } from '../../src/db';

/**
 * SQLite's durable transactions commit in groups (src/db/group-commit.ts): those ready at the
 * same time run one after the other, each in a savepoint, and commit with one fsync. What each
 * caller was promised must not change: its work is atomic and alone in failing, and transaction()
 * returns only once that work is committed (another connection sees it).
 */
describe('SQLite group commit', function () {
  this.timeout(30_000);
  let dir: string;
  let db: Knex;
  let reader: Database.Database;
  let commits: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'referrals-group-commit-'));
    const file = path.join(dir, 'group.db');
    db = createDb(`sqlite:${file}`);
    await db.raw('CREATE TABLE t (id integer PRIMARY KEY, v text NOT NULL UNIQUE)');
    await db.raw('CREATE TABLE c (id integer PRIMARY KEY, parent integer REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)');
    reader = new Database(file, { readonly: true });
    db.on('query', (q: { sql: string }) => {
      if (/^COMMIT\b/i.test(q.sql)) commits += 1;
    });
  });
  beforeEach(async () => {
    await db.raw('DELETE FROM c');
    await db.raw('DELETE FROM t');
    commits = 0;
  });
  after(async () => {
    reader?.close();
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const seen = (v: string) => reader.prepare('SELECT count(*) AS n FROM t WHERE v = ?').get(v) as { n: number };
  const insert = (trx: Knex.Transaction, v: string) => trx('t').insert({ v });

  it('commits the transactions that are ready together once, and each returns only when another connection sees its work', async () => {
    const visibleOnReturn: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        transaction(db, async (trx) => {
          await insert(trx, `row-${i}`);
          await trx('t').where({ v: `row-${i}` }).first();
        }).then(() => visibleOnReturn.push(seen(`row-${i}`).n)),
      ),
    );
    expect(visibleOnReturn).to.deep.equal(Array(20).fill(1));
    expect(commits).to.be.at.least(1).and.below(20);
  });

  it('a transaction that throws is rolled back alone; the others of its group commit', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        transaction(db, async (trx) => {
          await insert(trx, `row-${i}`);
          if (i === 2) throw new Error('refused');
          return i;
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason.message).to.equal('refused');
    expect([0, 1, 2, 3, 4].map((i) => seen(`row-${i}`).n)).to.deep.equal([1, 1, 0, 1, 1]);
    expect(commits).to.be.below(5);
  });

  it('a statement that fails (a unique violation) fails only its own transaction', async () => {
    await transaction(db, (trx) => insert(trx, 'taken'));
    const outcomes = await Promise.allSettled([
      transaction(db, (trx) => insert(trx, 'a')),
      transaction(db, async (trx) => {
        await insert(trx, 'b');
        await insert(trx, 'taken');
      }),
      transaction(db, (trx) => insert(trx, 'c')),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(['a', 'b', 'c', 'taken'].map((v) => seen(v).n)).to.deep.equal([1, 0, 1, 1]);
  });

  it('when the COMMIT fails, every transaction of the group fails, nothing of them is kept, and the next transaction works', async () => {
    const outcomes = await Promise.allSettled([
      transaction(db, (trx) => insert(trx, 'kept-only-if-committed')),
      // A deferred foreign key is checked at COMMIT, so this one fails the whole group there.
      transaction(db, (trx) => trx('c').insert({ parent: 999 })),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).to.match(/FOREIGN KEY/);
    expect(seen('kept-only-if-committed').n).to.equal(0);
    expect((reader.prepare('SELECT count(*) AS n FROM c').get() as { n: number }).n).to.equal(0);

    await transaction(db, (trx) => insert(trx, 'after'));
    expect(seen('after').n).to.equal(1);
    expect((await db('t').count({ n: '*' }))[0]!.n).to.equal(1);
  });

  it('a group takes at most 64 transactions: 200 at once commit in at least 4 groups, all of them', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => transaction(db, (trx) => insert(trx, `many-${i}`))));
    expect((reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).to.equal(200);
    expect(commits).to.be.at.least(4).and.below(200);
  });

  it('a transaction that need not be durable never joins a group: it commits on its own, without waiting for the disk, even while a group is open', async () => {
    const synchronous = async (trx: Knex.Transaction) => ((await trx.raw('PRAGMA synchronous')) as { synchronous: number }[])[0]!.synchronous;
    const NORMAL = 1;
    const [, relaxed] = await Promise.all([
      transaction(db, (trx) => insert(trx, 'durable')),
      transaction(db, async (trx) => (await insert(trx, 'relaxed'), synchronous(trx)), { durable: false }),
    ]);
    expect(relaxed).to.equal(NORMAL);
    expect(commits).to.equal(2); // the group's and its own
    expect(await transaction(db, synchronous, { durable: false })).to.equal(NORMAL);
    expect([seen('durable').n, seen('relaxed').n]).to.deep.equal([1, 1]);
  });

  it('a transaction nested in another (a service called inside a unit of work) is part of it', async () => {
    const outcome = await transaction(db, async (outer) => {
      await insert(outer, 'outer');
      await transaction(outer, (inner) => insert(inner, 'inner'));
      throw new Error('undo both');
    }).catch((err: Error) => err.message);
    expect(outcome).to.equal('undo both');
    expect([seen('outer').n, seen('inner').n]).to.deep.equal([0, 0]);
  });
});
