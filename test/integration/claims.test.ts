import { expect } from 'chai';
import type { Knex } from 'knex';
import { Heartbeat, claim, createDb, dbNow, releaseClaims, renewClaims, runClaimedJob } from '../../src/db';
import { resetDatabase, testDatabases } from '../helpers/databases';

/**
 * The one way to claim work (src/db/claim.ts), on every database: claimers never get the same row,
 * leases are judged by the database's clock and end only by expiry or release, a renewal fails
 * once another claimer took the row over, and a singleton job runs once however many call it.
 */
const JOB = { id: 'name', owner: 'claimed_by' };
const jobs = (owner: string, leaseSeconds: number, limit = 10) => ({ table: 'background_jobs', owner, leaseSeconds, limit, columns: JOB, orderBy: 'name' });
const names = (rows: { name: string }[]) => rows.map((r) => r.name).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const database of testDatabases) {
  describe(`claiming work [${database.name}]`, function () {
    this.timeout(30_000);
    let db: Knex;
    let url: string;
    let drop: () => Promise<void>;

    before(async () => {
      const created = await database.create();
      db = created.db;
      url = created.url;
      drop = created.drop;
    });
    beforeEach(async () => {
      await resetDatabase(db);
      await db('background_jobs').insert(Array.from({ length: 30 }, (_, i) => ({ name: `job-${String(i).padStart(2, '0')}` })));
    });
    after(async () => drop());

    it('claimers on separate connections (another process) never get the same row, and together get every free one', async () => {
      const other = createDb(url);
      try {
        const rounds = await Promise.all(
          Array.from({ length: 12 }, (_, i) => claim<{ name: string }>(i % 2 === 0 ? db : other, { ...jobs(`worker-${i}`, 30, 4), returning: ['name'] })),
        );
        const claimed = rounds.flatMap((r) => names(r));
        expect(new Set(claimed).size, 'no row twice').to.equal(claimed.length);
        expect(claimed.length).to.equal(30);
        const owners = await db('background_jobs').select('name', 'claimed_by');
        for (const [i, round] of rounds.entries()) {
          for (const row of round) expect(owners.find((o) => o.name === row.name)?.claimed_by).to.equal(`worker-${i}`);
        }
        expect(await claim(db, jobs('late', 30)), 'nothing free is left').to.deep.equal([]);
      } finally {
        await other.destroy();
      }
    });

    it('a lease ends by expiry (the database’s clock) or release only; a renewal fails once another claimer took the row over', async () => {
      const first = await claim<{ name: string; lease_until: unknown }>(db, { ...jobs('a', 0.4, 2) });
      expect(names(first)).to.deep.equal(['job-00', 'job-01']);
      expect(names(await claim(db, { ...jobs('b', 30, 2) }))).to.deep.equal(['job-02', 'job-03']);
      // Held while it runs: b gets other rows, never a's.
      expect(names(await claim(db, { ...jobs('b', 30, 1), where: (q) => q.whereIn('name', ['job-00', 'job-01']) }))).to.deep.equal([]);
      await sleep(600);
      // Run out, and not renewed: free for another claimer.
      const taken = await claim<{ name: string }>(db, { ...jobs('c', 30, 5), where: (q) => q.whereIn('name', ['job-00', 'job-01', 'job-02']) });
      expect(names(taken)).to.deep.equal(['job-00', 'job-01']);
      expect(await renewClaims(db, { table: 'background_jobs', ids: ['job-00', 'job-01'], owner: 'a', leaseSeconds: 30, columns: JOB }), 'a lost both').to.equal(0);
      expect(await renewClaims(db, { table: 'background_jobs', ids: ['job-02', 'job-03'], owner: 'b', leaseSeconds: 30, columns: JOB })).to.equal(2);
      // The lease is the database's now + the lease, whatever the claimer's clock says.
      const [{ lease_until: until, now }] = await db('background_jobs').select('lease_until', dbNow(db).wrap('(', ') as now')).where({ name: 'job-02' });
      const leftMs = new Date(until).getTime() - new Date(now).getTime();
      expect(leftMs).to.be.within(25_000, 30_000);
      expect(await releaseClaims(db, { table: 'background_jobs', ids: ['job-02'], owner: 'b', columns: JOB })).to.equal(1);
      expect(names(await claim(db, { ...jobs('d', 30, 1), where: (q) => q.whereIn('name', ['job-02', 'job-03']) }))).to.deep.equal(['job-02']);
    });

    it('a heartbeat keeps a claim alive past its lease, and notices when it was taken over', async () => {
      await claim(db, { ...jobs('holder', 0.3, 1) });
      const beat = new Heartbeat(async () => (await renewClaims(db, { table: 'background_jobs', ids: ['job-00'], owner: 'holder', leaseSeconds: 0.3, columns: JOB })) === 1, 100);
      try {
        await sleep(700);
        expect(await claim(db, { ...jobs('thief', 30, 1), where: (q) => q.where({ name: 'job-00' }) }), 'renewed, so never free').to.deep.equal([]);
        expect(beat.lost).to.equal(false);
        await db('background_jobs').where({ name: 'job-00' }).update({ claimed_by: 'thief' });
        await sleep(300);
        expect(beat.lost).to.equal(true);
      } finally {
        await beat.stop();
      }
    });

    it('runs a singleton job once however many instances ask at the same time, and not again within everySeconds', async () => {
      const other = createDb(url);
      let runs = 0;
      try {
        const job = async () => {
          runs += 1;
          await sleep(200);
          return 'swept';
        };
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => runClaimedJob(i % 2 ? other : db, 'sweep', 30, job, { everySeconds: 60 })));
        expect(runs).to.equal(1);
        expect(results.filter((r) => r.ran)).to.deep.equal([{ ran: true, result: 'swept' }]);
        expect(await runClaimedJob(db, 'sweep', 30, job, { everySeconds: 60 }), 'finished within the minute').to.deep.equal({ ran: false });
        expect(await runClaimedJob(db, 'sweep', 30, job), 'without everySeconds: free once finished').to.deep.equal({ ran: true, result: 'swept' });
        const row = await db('background_jobs').where({ name: 'sweep' }).first();
        expect([row.claimed_by, row.lease_until]).to.deep.equal([null, null]);
        expect(row.last_finished_at).to.not.equal(null);
        // A job that throws hands its claim back without counting as finished.
        await db('background_jobs').where({ name: 'sweep' }).update({ last_finished_at: null });
        await runClaimedJob(db, 'sweep', 30, async () => Promise.reject(new Error('boom'))).catch(() => undefined);
        expect(await runClaimedJob(db, 'sweep', 30, job, { everySeconds: 60 })).to.deep.equal({ ran: true, result: 'swept' });
      } finally {
        await other.destroy();
      }
    });
  });
}
