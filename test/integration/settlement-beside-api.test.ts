import { expect } from 'chai';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { seedPortfolio, settleCommand } from '../helpers/portfolio';
import { startServer, type ServerProcess } from '../helpers/server-process';

/**
 * A run never stalls the service it shares a database with (SPEC §6.5): the server and the
 * nightly settle command as two processes on one database, a run of some hundred thousand
 * revenue lines; meanwhile health checks, reads and revenue ingests answer within a second,
 * without an error. On PostgreSQL, a revenue POST to a contract the run has already passed does
 * not wait for the rest of the run.
 */
describeApi('the API while a settlement run executes beside it (SPEC §6.5)', (ctx) => {
  let server: ServerProcess;
  before(async function () {
    this.timeout(60_000);
    server = await startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY });
  });
  after(async () => server?.stop());

  const call = async (method: string, path: string, body?: unknown) => {
    const started = Date.now();
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, ms: Date.now() - started, text };
  };

  it('answers health checks, reads and revenue posts within a second, without an error, while the settle command runs', async function () {
    this.timeout(240_000);
    // SQLite: a few hundred thousand lines; PostgreSQL (slower to seed here): enough for a run of seconds.
    const linesPerContract = ctx.database === 'sqlite' ? 1000 : 300;
    const { contractIds, ownerIds } = await seedPortfolio(ctx.db, { owners: 200, referrers: 2, linesPerContract, currencies: ['EUR'] });
    const revenueLines = 200 * linesPerContract;

    const settling = settleCommand(ctx.url, ['--through', '2026-10-31']);
    let finished = false;
    void settling.then(() => (finished = true));
    const slowest = { health: 0, read: 0, post: 0 };
    let posts = 0;
    let passedPost: { status: number; ms: number } | null = null;
    // Wait for the run to exist, then probe until it is over.
    while (!finished && (await ctx.db('settlement_runs').count({ n: '*' }).first())?.n == 0) await new Promise((r) => setTimeout(r, 20));
    while (!finished) {
      const health = await call('GET', '/healthz');
      expect(health.status).to.equal(200);
      slowest.health = Math.max(slowest.health, health.ms);
      const owner = ownerIds[posts % ownerIds.length]!;
      const read = await call('GET', `/v1/bunits/${owner}/contracts/${contractIds[posts % contractIds.length]}`);
      expect(read.status, read.text).to.equal(200);
      slowest.read = Math.max(slowest.read, read.ms);
      const post = await call('POST', `/v1/bunits/${owner}/contracts/${contractIds[posts % contractIds.length]}/revenue`, {
        lines: [{ externalId: `DURING-${posts}`, amount: '12.34', date: '2026-11-20' }],
      });
      expect(post.status, post.text).to.equal(201);
      slowest.post = Math.max(slowest.post, post.ms);
      posts += 1;
      if (ctx.database === 'postgres' && passedPost === null) {
        // A contract of a partition the run has committed: its lock is released, nothing waits for the rest of the run.
        const done = await ctx.db('settlement_partitions').where({ status: 'done' }).orderBy('seq').first();
        const runStillRunning = await ctx.db('settlement_runs').where({ status: 'running' }).first();
        if (done && runStillRunning && done.last_contract_id < contractIds[contractIds.length - 1]!) {
          const passed = contractIds.find((id) => id >= done.first_contract_id && id <= done.last_contract_id)!;
          const ownerOfPassed = ownerIds[contractIds.indexOf(passed)]!;
          passedPost = await call('POST', `/v1/bunits/${ownerOfPassed}/contracts/${passed}/revenue`, {
            lines: [{ externalId: 'AFTER-ITS-PARTITION', amount: '1', date: '2026-11-20' }],
          });
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const settled = await settling;
    expect(settled.code, settled.output).to.equal(0);
    expect(settled.output).to.match(/^run \d+:/m);
    expect(posts, 'the run lasted long enough to be probed').to.be.greaterThan(5);
    expect(slowest.health, 'slowest health check (ms)').to.be.below(1000);
    expect(slowest.read, 'slowest read (ms)').to.be.below(1000);
    expect(slowest.post, 'slowest revenue POST (ms)').to.be.below(1000);
    if (ctx.database === 'postgres') {
      expect(passedPost, 'a POST to a passed contract was made while the run was running').to.not.equal(null);
      expect(passedPost!.status).to.equal(201);
      expect(passedPost!.ms).to.be.below(1000);
    }
    const during = await ctx.db('revenue_lines').where('external_id', 'like', 'DURING-%').count({ n: '*' }).first();
    expect(Number(during?.n)).to.equal(posts);
    const pairs = await ctx.db('settled_pairs').count({ n: '*' }).first();
    expect(Number(pairs?.n), 'every pair of the seeded lines').to.equal(revenueLines * 2);
  });
});
