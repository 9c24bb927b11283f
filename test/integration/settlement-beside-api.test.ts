import { expect } from 'chai';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { seedPortfolio, settleCommand } from '../helpers/portfolio';
import { startServer, type ServerProcess } from '../helpers/server-process';

/**
 * A run never stalls the service it shares a database with (SPEC §6.5): the server and the
 * nightly settle command as two processes on one database, a run of some hundred thousand
 * revenue lines; meanwhile health checks, reads and revenue ingests are answered, without an error,
 * all through the run: answers come back while it advances from partition to partition, so none
 * waits for the run to end. On PostgreSQL, a revenue POST to a contract the run has already passed
 * is answered while the run is still running. No wall-clock bound: how fast belongs in the bench
 * (a loaded 2-core machine makes any bound a coin toss).
 */
describeApi('the API while a settlement run executes beside it (SPEC §6.5)', (ctx) => {
  let server: ServerProcess;
  before(async function () {
    this.timeout(60_000);
    server = await startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY });
  });
  after(async () => server?.stop());

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text };
  };

  it('answers health checks, reads and revenue posts without an error all through the run, while the settle command runs', async function () {
    this.timeout(240_000);
    // SQLite: a few hundred thousand lines; PostgreSQL (slower to seed here): enough for a run of seconds.
    const linesPerContract = ctx.database === 'sqlite' ? 1000 : 300;
    const { contractIds, ownerIds } = await seedPortfolio(ctx.db, { owners: 200, referrers: 2, linesPerContract, currencies: ['EUR'] });
    const revenueLines = 200 * linesPerContract;

    const settling = settleCommand(ctx.url, ['--through', '2026-10-31']);
    let finished = false;
    void settling.then(() => (finished = true));
    let posts = 0;
    let passedPost: { status: number; runStillRunning: boolean } | null = null;
    /** The partitions done when a round of answers had come back, while the run was still running. */
    const progressSeen = new Set<number>();
    const running = async () => ctx.db('settlement_runs').where({ status: 'running' }).first();
    const partitionsDone = async () =>
      Number((await ctx.db('settlement_partitions').whereIn('status', ['done', 'failed']).count({ n: '*' }).first())?.n ?? 0);
    // Wait for the run to exist, then probe until it is over.
    while (!finished && (await ctx.db('settlement_runs').count({ n: '*' }).first())?.n == 0) await new Promise((r) => setTimeout(r, 20));
    while (!finished) {
      const health = await call('GET', '/healthz');
      expect(health.status).to.equal(200);
      const owner = ownerIds[posts % ownerIds.length]!;
      const read = await call('GET', `/v1/bunits/${owner}/contracts/${contractIds[posts % contractIds.length]}`);
      expect(read.status, read.text).to.equal(200);
      const post = await call('POST', `/v1/bunits/${owner}/contracts/${contractIds[posts % contractIds.length]}/revenue`, {
        lines: [{ externalId: `DURING-${posts}`, amount: '12.34', date: '2026-11-20' }],
      });
      expect(post.status, post.text).to.equal(201);
      posts += 1;
      const done = await partitionsDone();
      if (await running()) progressSeen.add(done);
      if (ctx.database === 'postgres' && passedPost === null) {
        // A contract of a partition the run has committed: its lock is released, nothing waits for the rest of the run.
        const done = await ctx.db('settlement_partitions').where({ status: 'done' }).orderBy('seq').first();
        const runStillRunning = await ctx.db('settlement_runs').where({ status: 'running' }).first();
        if (done && runStillRunning && done.last_contract_id < contractIds[contractIds.length - 1]!) {
          const passed = contractIds.find((id) => id >= done.first_contract_id && id <= done.last_contract_id)!;
          const ownerOfPassed = ownerIds[contractIds.indexOf(passed)]!;
          const answer = await call('POST', `/v1/bunits/${ownerOfPassed}/contracts/${passed}/revenue`, {
            lines: [{ externalId: 'AFTER-ITS-PARTITION', amount: '1', date: '2026-11-20' }],
          });
          // Answered while the run still runs: it did not wait for the rest of the run.
          passedPost = { status: answer.status, runStillRunning: (await running()) !== undefined };
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const settled = await settling;
    expect(settled.code, settled.output).to.equal(0);
    expect(settled.output).to.match(/^run \d+:/m);
    expect(posts, 'the run lasted long enough to be probed').to.be.greaterThan(5);
    // Rounds of answers came back at three or more stages of the run: nothing waited for its end.
    expect(progressSeen.size, `partitions done when answers came back: ${[...progressSeen].join(', ')}`).to.be.at.least(3);
    if (ctx.database === 'postgres') {
      expect(passedPost, 'a POST to a passed contract was made while the run was running').to.not.equal(null);
      expect(passedPost!.status).to.equal(201);
      expect(passedPost!.runStillRunning, 'the POST was answered before the run ended').to.equal(true);
    }
    const during = await ctx.db('revenue_lines').where('external_id', 'like', 'DURING-%').count({ n: '*' }).first();
    expect(Number(during?.n)).to.equal(posts);
    const pairs = await ctx.db('settled_pairs').count({ n: '*' }).first();
    expect(Number(pairs?.n), 'every pair of the seeded lines').to.equal(revenueLines * 2);
  });
});
