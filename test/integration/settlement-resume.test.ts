import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { expectProblem } from '../helpers/fixtures';
import { forgetRuns, ledgerOrphans, normalizedExport, seedPortfolio, settleCommand, untilRunLeaseRunsOut } from '../helpers/portfolio';
import { publishEvents } from '../../src/services/event.service';

/**
 * The run as a job that survives being killed (SPEC §6.5): partitions commit one by one, the
 * next settle resumes an interrupted run before its own, and the result is identical, line for
 * line, to a run that was never interrupted. Small partitions (SETTLEMENT_PARTITION_LINES=200)
 * make a run of 1,920 revenue lines eight partitions and a finalize of many transactions; the
 * uninterrupted run it is compared with has one partition (the default size). The killed command's
 * lease (SETTLEMENT_LEASE_SECONDS=4) is only ever taken over once it has run out: nothing probes
 * whether its process is alive.
 */
const SMALL = { SETTLEMENT_PARTITION_LINES: '200', SETTLEMENT_LEASE_SECONDS: '4' };
const THROUGH = ['--through', '2026-10-31'];

describeApi('a settlement run killed and resumed (SPEC §6.5)', (ctx) => {
  beforeEach(async () => {
    await seedPortfolio(ctx.db, { owners: 16, referrers: 16, linesPerContract: 120 });
  });

  async function exportOf(runId: number): Promise<string[]> {
    const csv = await ctx.get(`/v1/settlement-runs/${runId}/statements`).set('Accept', 'text/csv');
    expect(csv.status, csv.text).to.equal(200);
    expect(csv.headers['content-type']).to.match(/^text\/csv/);
    expect(await ledgerOrphans(ctx.db), 'the ledger points at nothing missing').to.deep.equal({});
    return normalizedExport(csv.text);
  }

  /** The run an uninterrupted settle gives (in one partition); then forgotten, so that the same data can be settled again. */
  async function uninterrupted(): Promise<string[]> {
    const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(run.status, JSON.stringify(run.body)).to.equal(201);
    expect(run.body.progress.partitionsTotal).to.equal(1);
    const rows = await exportOf(run.body.id);
    await forgetRuns(ctx.db);
    return rows;
  }

  async function killedWhen(seen: (stderr: string) => boolean) {
    const killed = await settleCommand(ctx.url, THROUGH, SMALL, (stderr, child) => {
      if (seen(stderr)) child.kill('SIGKILL');
    });
    expect(killed.signal, `the command finished before it could be killed:\n${killed.output}`).to.equal('SIGKILL');
    const [run] = await ctx.db('settlement_runs').select('id', 'status');
    expect(run.status).to.equal('running');
    // Its lease still runs: another settle is refused, and changes nothing.
    expectProblem(await ctx.post('/v1/settlement-runs', { through: '2026-10-31' }), 409, 'run-in-progress');
    expect((await ctx.db('settlement_runs').where({ id: run.id }).first()).status).to.equal('running');
    await untilRunLeaseRunsOut(ctx.db, run.id);
    return run.id as number;
  }

  const runState = async (runId: number) => {
    const run = await ctx.get(`/v1/settlement-runs/${runId}`);
    return run.body as { status: string; progress: { partitionsDone: number; partitionsTotal: number } };
  };

  it('killed after some partitions, it is resumed by the next settle command and gives the same lines as a run never interrupted', async function () {
    this.timeout(120_000);
    const reference = await uninterrupted();
    expect(reference.length).to.be.greaterThan(5_000);

    const runId = await killedWhen((stderr) => /progress: [2-4]\/8 partitions/.test(stderr));
    const half = await runState(runId);
    expect(half.status).to.equal('running');
    expect(half.progress.partitionsTotal).to.equal(8);
    expect(half.progress.partitionsDone).to.be.within(2, 7);
    // A running run's statements are listed nowhere, and none can be read.
    expect((await ctx.get('/v1/bunits/1/statements')).body.meta.total).to.equal(0);
    const open = await ctx.db('statements').where({ run_id: runId }).first();
    expectProblem(await ctx.get(`/v1/bunits/${open.payer_id}/statements/${open.id}`), 404, 'not-found');
    expectProblem(await ctx.get(`/v1/settlement-runs/${runId}/statements`), 409, 'run-in-progress');

    const resumed = await settleCommand(ctx.url, THROUGH, SMALL);
    expect(resumed.code, resumed.output).to.equal(0);
    expect(resumed.output).to.match(new RegExp(`resuming run ${runId} \\(through 2026-10-31\\), interrupted after ${half.progress.partitionsDone} of 8 partitions`));
    // After the resumed run, its own run finds nothing left.
    expect(resumed.output).to.match(/nothing new to settle/);
    expect((await runState(runId)).status).to.equal('completed');
    expect(await exportOf(runId)).to.deep.equal(reference);
  });

  it('killed during finalize, it is finished by the next settle through the API, and gives the same lines', async function () {
    this.timeout(120_000);
    const reference = await uninterrupted();
    // The events of the run above stay in the feed: read only those after them.
    await publishEvents(ctx.db);
    const last = (await ctx.db('events').max({ last: 'id' }).first())?.last;
    const feed = async (type: string) =>
      ((await ctx.get(`/v1/events?limit=1000&type=${type}&after=${Number(last ?? 0)}`)).body.data as { data: { id: number; runId: number } }[]).map((e) => e.data);

    const runId = await killedWhen((stderr) => {
      const m = /finalize: (\d+)\/(\d+) statements/.exec(stderr.split('\n').reverse().find((l) => l.startsWith('finalize: ') && !l.startsWith('finalize: 0/')) ?? '');
      return m !== null && Number(m[1]) < Number(m[2]);
    });
    const state = await runState(runId);
    expect(state.progress.partitionsDone).to.equal(state.progress.partitionsTotal);
    const finalized = await ctx.db('statements').where({ run_id: runId, finalized: true }).count({ n: '*' }).first();
    const open = await ctx.db('statements').where({ run_id: runId, finalized: false }).count({ n: '*' }).first();
    expect(Number(finalized?.n), 'some statements were rounded before the kill').to.be.greaterThan(0);
    expect(Number(open?.n), 'some were not').to.be.greaterThan(0);
    expect(await feed('statement.created'), 'no event before the run completes').to.deep.equal([]);

    const next = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(next.status, JSON.stringify(next.body)).to.equal(201);
    expect(next.body.id).to.not.equal(runId);
    expect(next.body.lineCount).to.equal(0);
    expect((await runState(runId)).status).to.equal('completed');
    expect(await exportOf(runId)).to.deep.equal(reference);
    // One statement.created for each statement of the run, those rounded before the kill included, then the run's own event.
    const statements: { id: number }[] = [];
    for (let offset = 0; ; offset += 200) {
      const page = (await ctx.get(`/v1/settlement-runs/${runId}/statements?limit=200&offset=${offset}`)).body;
      statements.push(...page.data);
      if (statements.length >= page.meta.total) break;
    }
    expect(statements.length).to.be.greaterThan(1);
    const published = await feed('statement.created');
    expect(published.map((s) => s.id).sort((a, b) => a - b)).to.deep.equal(statements.map((s) => s.id).sort((a, b) => a - b));
    expect(published).to.have.deep.members(statements);
    expect((await feed('settlement_run.completed')).map((r) => r.id), 'the resumed run, then the new one').to.deep.equal([runId, next.body.id]);
  });

  it('two workers of one process, and a worker of another process that joins, give the same lines as one', async function () {
    this.timeout(120_000);
    const reference = await uninterrupted();
    const [shared, joined] = await Promise.all([
      settleCommand(ctx.url, [...THROUGH, '--workers', '2'], SMALL),
      new Promise((r) => setTimeout(r, 300)).then(() => settleCommand(ctx.url, ['--join', '--workers', '2'], SMALL)),
    ]);
    expect(shared.code, shared.output).to.equal(0);
    expect(joined.code, joined.output).to.equal(0);
    const runId = Number(/^run (\d+):/m.exec(shared.output)![1]);
    expect(await exportOf(runId)).to.deep.equal(reference);
  });
});

describeApi('one settlement run at a time, held by a lease (SPEC §6.5)', (ctx: ApiContext) => {
  beforeEach(async () => {
    await seedPortfolio(ctx.db, { owners: 3, referrers: 3, linesPerContract: 20 });
  });

  /** A run another settle holds: a host of its own, its lease until `until`. */
  async function heldRun(until: string): Promise<number> {
    const [row] = await ctx
      .db('settlement_runs')
      .insert({
        through: '2026-10-15',
        status: 'running',
        created_by: 'another settle',
        created_at: '2026-11-23T11:00:00.000Z',
        started_at: '2026-11-23T11:00:00.000Z',
        partitions_total: 1,
        lease_owner: 'other-host:4242:abcd',
        lease_until: until,
      })
      .returning('id');
    const id = (row as { id: number }).id;
    await ctx.db('settlement_partitions').insert({ run_id: id, seq: 1, first_contract_id: 1, last_contract_id: 2147483647, status: 'pending' });
    return id;
  }

  it('answers 409 run-in-progress while another settle holds a live lease, and writes nothing', async () => {
    const held = await heldRun(new Date(Date.now() + 60_000).toISOString());
    const res = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expectProblem(res, 409, 'run-in-progress');
    expect(res.body.detail).to.include(`Settlement run ${held} (through 2026-10-15) is running: 0 of 1 partitions done`);
    expect(await ctx.db('settlement_runs').count({ n: '*' }).first()).to.deep.include({ n: ctx.database === 'postgres' ? 1 : 1 });
    expect(Number((await ctx.db('settled_pairs').count({ n: '*' }).first())?.n)).to.equal(0);
    // The list shows the running run, so that an operator can watch it.
    const list = await ctx.get('/v1/settlement-runs');
    expect(list.body.data.map((r: { id: number; status: string }) => [r.id, r.status])).to.deep.equal([[held, 'running']]);
    // A retry with the same Idempotency-Key is not answered 409 forever: the key is free again.
    const keyed = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' }).set('Idempotency-Key', 'nightly');
    expectProblem(keyed, 409, 'run-in-progress');
    expect(await ctx.db('idempotency_keys').count({ n: '*' }).first()).to.deep.include({ n: 0 });
  });

  it('a worker that joins settles the partitions of the running run, and leaves finalize to its holder', async function () {
    this.timeout(30_000);
    const held = await heldRun(new Date(Date.now() + 60_000).toISOString());
    const joined = await settleCommand(ctx.url, ['--join']);
    expect(joined.code, joined.output).to.equal(0);
    expect(joined.output).to.include(`joined run ${held} (through 2026-10-15): settled 1 of its partitions`);
    const run = (await ctx.get(`/v1/settlement-runs/${held}`)).body;
    expect(run).to.deep.include({ status: 'running', statementCount: 0 });
    expect(run.progress).to.deep.equal({ partitionsDone: 1, partitionsTotal: 1, partitionsFailed: 0 });
    expect(Number((await ctx.db('statement_lines').where({ run_id: held }).count({ n: '*' }).first())?.n)).to.be.greaterThan(0);
    expect((await settleCommand(ctx.url, ['--join'])).output).to.include(`joined run ${held} (through 2026-10-15): settled 0 of its partitions`);
  });

  it('takes over a run whose lease expired: resumes it with its own through, completes it, then runs its own', async () => {
    const held = await heldRun(new Date(Date.now() - 1_000).toISOString());
    const res = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const resumed = (await ctx.get(`/v1/settlement-runs/${held}`)).body;
    expect(resumed).to.deep.include({ status: 'completed', through: '2026-10-15' });
    expect(resumed.progress).to.deep.equal({ partitionsDone: 1, partitionsTotal: 1, partitionsFailed: 0 });
    expect(resumed.lineCount).to.be.greaterThan(0);
    expect(res.body).to.deep.include({ status: 'completed', through: '2026-10-31' });
    expect(res.body.id).to.be.greaterThan(held);
    // Each pair once: what the resumed run settled (through the 15th) is not settled again.
    const pairs = await ctx.db('settled_pairs').select('revenue_line_id', 'referral_id');
    expect(new Set(pairs.map((p) => `${p.revenue_line_id}/${p.referral_id}`)).size).to.equal(pairs.length);
  });
});
