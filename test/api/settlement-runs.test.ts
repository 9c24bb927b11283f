import crypto from 'node:crypto';
import { expect } from 'chai';
import { IdempotencyStore } from '../../src/http/idempotency';
import { BusinessCalendar } from '../../src/clock';
import { describeApi } from '../helpers/api';
import { seedPortfolio, settleCommand, untilRunLeaseRunsOut } from '../helpers/portfolio';

/** The settlement run resource of SPEC §6.5 through the API: dry runs, failed partitions, retries. */
describeApi('settlement runs through the API (SPEC §6.3, §6.5)', (ctx) => {
  const count = async (table: string) => Number((await ctx.db(table).count({ n: '*' }).first())?.n);

  it('streams a dry run (no Content-Length), stores nothing for a replay, and shows exactly the lines the run then settles', async () => {
    await seedPortfolio(ctx.db, { owners: 4, referrers: 3, linesPerContract: 40 });
    const dry = await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true }).set('Idempotency-Key', 'look-first');
    expect(dry.status).to.equal(200);
    expect(dry.headers['content-length']).to.equal(undefined);
    expect(dry.headers['transfer-encoding']).to.equal('chunked');
    expect(dry.body).to.deep.include({ id: null, dryRun: true, status: 'completed', through: '2026-10-31' });
    expect(await count('idempotency_keys'), 'a dry run is not stored for replay').to.equal(0);
    const again = await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true }).set('Idempotency-Key', 'look-first');
    expect(again.headers['idempotent-replayed']).to.equal(undefined);
    expect(again.body.statements).to.deep.equal(dry.body.statements);
    for (const table of ['settlement_runs', 'statements', 'statement_lines', 'settled_pairs']) expect(await count(table), table).to.equal(0);

    const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(run.status).to.equal(201);
    for (const field of ['statementCount', 'lineCount', 'totals'] as const) expect(run.body[field], field).to.deep.equal(dry.body[field]);
    type Shown = {
      id: unknown;
      runId: unknown;
      createdDate: unknown;
      payer: { id: number };
      referrer: { id: number };
      currency: string;
      period?: string;
      status?: string;
      acceptedBy?: unknown;
      acceptedDate?: unknown;
      heldAmount?: string;
      lines?: { id: unknown; disputeId?: unknown; held?: boolean }[];
    };
    // What a stored statement adds after the run (SPEC §15: period, status, acceptance, held lines) a dry run has not.
    const strip = ({ period: _p, status: _s, acceptedBy: _b, acceptedDate: _d, heldAmount: _h, ...s }: Shown) => ({
      ...s,
      id: null,
      runId: null,
      createdDate: null,
      lines: s.lines?.map(({ disputeId: _i, held: _held, ...l }) => ({ ...l, id: null })),
    });
    const settled = [];
    const list = await ctx.get(`/v1/settlement-runs/${run.body.id}/statements?limit=200`);
    for (const s of list.body.data) settled.push((await ctx.get(`/v1/bunits/${s.payer.id}/statements/${s.id}`)).body);
    for (const s of settled) {
      expect(s).to.deep.include({ period: '2026-10', status: 'issued', acceptedBy: null });
      expect(Number(s.heldAmount)).to.equal(0);
    }
    const key = (s: { payer: { id: number }; referrer: { id: number }; currency: string }) => `${s.payer.id}/${s.referrer.id}/${s.currency}`;
    expect(settled.map(strip).sort((a, b) => (key(a) < key(b) ? -1 : 1))).to.deep.equal(dry.body.statements.map(strip));
  });

  it('leaves out a partition that fails twice: the others settle, the run completes and says so, the command exits 2, the next run settles it', async function () {
    this.timeout(60_000);
    const { contractIds } = await seedPortfolio(ctx.db, { owners: 3, referrers: 2, linesPerContract: 30 });
    // A line no run can compute (its currency is not one): as from a bad data fix made by hand.
    const [bad] = await ctx.db('revenue_lines').where({ contract_id: contractIds[1] }).orderBy('id').limit(1);
    await ctx.db('revenue_lines').where({ id: bad.id }).update({ currency: 'ZZZ' });

    const run = await settleCommand(ctx.url, ['--through', '2026-10-31'], { SETTLEMENT_PARTITION_LINES: '30' });
    expect(run.code, run.output).to.equal(2);
    expect(run.output).to.include('1 partition(s) failed and were left out');
    const runId = Number(/^run (\d+):/m.exec(run.output)![1]);
    const body = (await ctx.get(`/v1/settlement-runs/${runId}`)).body;
    expect(body).to.deep.include({ status: 'completed' });
    expect(body.progress).to.deep.equal({ partitionsDone: 3, partitionsTotal: 3, partitionsFailed: 1 });
    const settledContracts = await ctx.db('statement_lines').distinct('contract_id').orderBy('contract_id');
    expect(settledContracts.map((r) => r.contract_id)).to.deep.equal([contractIds[0], contractIds[2]]);
    expect(await ctx.db('settled_pairs').where({ revenue_line_id: bad.id }).first()).to.equal(undefined);

    await ctx.db('revenue_lines').where({ id: bad.id }).update({ currency: 'JPY' });
    const next = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(next.status).to.equal(201);
    expect(next.body.progress.partitionsFailed).to.equal(0);
    expect((await ctx.db('statement_lines').where({ run_id: next.body.id }).distinct('contract_id')).map((r) => r.contract_id)).to.deep.equal([contractIds[1]]);
  });

  it('a retry with the Idempotency-Key of a request that died mid-run continues that run and answers it, and the dead attempt can no longer store an answer', async function () {
    this.timeout(60_000);
    await seedPortfolio(ctx.db, { owners: 8, referrers: 4, linesPerContract: 100 });
    // The first attempt: it began run N and died (a killed process) after some partitions.
    const killed = await settleCommand(ctx.url, ['--through', '2026-10-31'], { SETTLEMENT_PARTITION_LINES: '100', SETTLEMENT_LEASE_SECONDS: '2' }, (stderr, child) => {
      if (/progress: [2-9]\/\d+ partitions/.test(stderr)) child.kill('SIGKILL');
    });
    expect(killed.signal, killed.output).to.equal('SIGKILL');
    const [begun] = await ctx.db('settlement_runs').select('id', 'status');
    expect(begun.status).to.equal('running');
    await untilRunLeaseRunsOut(ctx.db, begun.id);
    const body = { through: '2026-10-31' };
    const [record] = await ctx
      .db('idempotency_keys')
      .insert({
        owner: 'env:ADMIN_API_KEY',
        idempotency_key: 'nightly-2026-10-31',
        method: 'POST',
        path: '/v1/settlement-runs',
        request_hash: crypto.createHash('sha256').update('{"through":"2026-10-31"}').digest('hex'),
        state: 'running',
        attempt: 'the-dead-attempt',
        resource: `settlement-run:${begun.id}`,
        created_at: '2026-11-23T11:55:00.000Z',
        lease_until: '2026-11-23T11:59:00.000Z',
      })
      .returning('id');

    const retry = await ctx.post('/v1/settlement-runs', body).set('Idempotency-Key', 'nightly-2026-10-31');
    expect(retry.status, JSON.stringify(retry.body)).to.equal(201);
    expect(retry.body.id, 'the run the first attempt began, not a new one').to.equal(begun.id);
    expect(retry.body.status).to.equal('completed');
    expect(retry.body.lineCount).to.be.greaterThan(0);
    expect(await count('settlement_runs')).to.equal(1);
    const replay = await ctx.post('/v1/settlement-runs', body).set('Idempotency-Key', 'nightly-2026-10-31');
    expect(replay.headers['idempotent-replayed']).to.equal('true');
    expect(replay.body).to.deep.equal(retry.body);

    const store = new IdempotencyStore(ctx.db, new BusinessCalendar(ctx.clock, 'UTC'));
    const id = (record as { id: number }).id;
    expect(await store.complete(id, 'the-dead-attempt', { status: 201, headers: {}, body: '{"id":999}' })).to.equal(false);
    const stored = await ctx.db('idempotency_keys').where({ id }).first();
    expect(JSON.parse(stored.response_body).id).to.equal(begun.id);
  });
});

describeApi('a settlement run renews its leases while it works (SPEC §6.5, §7.2)', (ctx) => {
  it('renews the run lease and the request’s idempotency lease, so that neither expires under a run still working', async function () {
    this.timeout(60_000);
    await seedPortfolio(ctx.db, { owners: 10, referrers: 5, linesPerContract: 200 });
    const store = new IdempotencyStore(ctx.db, new BusinessCalendar(ctx.clock, 'UTC'));
    const begun = await store.begin({ keyId: null, name: 'ADMIN_API_KEY', role: 'admin', bunitIds: 'all' }, 'long-run', {
      method: 'POST',
      originalUrl: '/v1/settlement-runs',
      body: { through: '2026-10-31' },
    } as never);
    if (begun.kind !== 'proceed') throw new Error('the key was free');
    const handle = store.handle(begun);
    const leaseBefore = (await ctx.db('idempotency_keys').where({ id: begun.id }).first()).lease_until;
    ctx.clock.advanceMs(60_000);
    const leases: string[] = [];
    let renewals = 0;
    const services = ctx.services;
    const run = await services.settlement.run({ through: '2026-10-31' }, { keyId: null, name: 'test', role: 'admin', bunitIds: 'all' }, {
      renewEveryMs: 5,
      heartbeat: async () => {
        renewals += 1;
        await handle.renew();
        const row = await ctx.db('settlement_runs').where({ status: 'running' }).first();
        if (row) leases.push(new Date(row.lease_until).toISOString());
      },
    });
    expect(run.status).to.equal('completed');
    expect(renewals, 'renewed while it worked').to.be.greaterThan(0);
    expect(new Set(leases).size, 'the run lease moved on').to.be.greaterThan(1);
    const leaseAfter = (await ctx.db('idempotency_keys').where({ id: begun.id }).first()).lease_until;
    expect(new Date(leaseAfter).getTime() - new Date(leaseBefore).getTime()).to.equal(60_000);
  });
});

describeApi('a settle that lost its lease does not complete the run (SPEC §6.5)', (ctx) => {
  it('taken over between its last renewal and its completion: 409 run-in-progress, and the run stays running for its new holder, with no totals and no events', async () => {
    await seedPortfolio(ctx.db, { owners: 3, referrers: 3, linesPerContract: 20 });
    let stolen: Promise<unknown> | null = null;
    const admin = { keyId: null, name: 'test', role: 'admin' as const, bunitIds: 'all' as const };
    const attempt = ctx.services.settlement.run({ through: '2026-10-31' }, admin, {
      // Every statement is rounded: another settle takes the run over before this one completes it.
      onFinalizing: (done, total) => {
        if (total > 0 && done === total) stolen ??= ctx.db('settlement_runs').where({ status: 'running' }).update({ lease_owner: 'other-host:1:abcd' }).then((n) => n);
      },
    });
    let failure: unknown;
    await attempt.catch((err: unknown) => (failure = err));
    expect(await stolen, 'the run reached its completion, and was taken over').to.equal(1);
    expect(failure).to.deep.include({ status: 409, code: 'run-in-progress' });
    const [run] = await ctx.db('settlement_runs').select('id', 'status', 'lease_owner', 'completed_at');
    expect(run).to.deep.include({ status: 'running', lease_owner: 'other-host:1:abcd', completed_at: null });
    expect(await ctx.db('settlement_run_totals').count({ n: '*' }).first()).to.satisfy((r: { n: number | string }) => Number(r.n) === 0);
    const released = await ctx.db('pending_events').whereNotNull('staged_batch').count({ n: '*' }).first();
    expect(Number(released?.n), 'its statement.created events are not released').to.equal(0);
    expect(Number((await ctx.db('audit_events').where({ entity_type: 'settlement-run', action: 'complete' }).count({ n: '*' }).first())?.n)).to.equal(0);
  });
});
