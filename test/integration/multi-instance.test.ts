import { expect } from 'chai';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { createBunit, createContract, referralBody } from '../helpers/fixtures';
import { startServer, type ServerProcess } from '../helpers/server-process';

/**
 * Several instances over one database (SPEC §7.2, issue "PostgreSQL as the production database"):
 * two real server processes, requests fired at the same instant through both. On SQLite the two
 * processes share one database file.
 */
describeApi('two service instances on one database', (ctx) => {
  let a: ServerProcess;
  let b: ServerProcess;

  before(async function () {
    this.timeout(60_000);
    [a, b] = await Promise.all([
      startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY }),
      startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY }),
    ]);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const call = (server: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, headers: res.headers, body: (await res.json().catch(() => null)) as Record<string, unknown> }));

  it('when two referrals that together exceed 100 % are posted at the same instant through different instances, exactly one succeeds (R5)', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const bob = await createBunit(ctx, 'BOB');
    for (let round = 0; round < 5; round++) {
      const contract = await createContract(ctx, owner, { number: `C-${round}` });
      const results = await Promise.all([
        call(a, 'POST', `/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '60', billingStartDate: '2026-10-01' })),
        call(b, 'POST', `/v1/bunits/${owner}/referrals`, referralBody(contract, bob, { percentage: '60', billingStartDate: '2026-10-01' })),
      ]);
      expect(results.map((r) => r.status).sort(), JSON.stringify(results.map((r) => r.body))).to.deep.equal([201, 409]);
      expect(results.find((r) => r.status === 409)!.body.code).to.equal('over-allocated');
      const list = await ctx.get(`/v1/bunits/${owner}/referrals?contractId=${contract}`);
      expect(list.body.meta.total).to.equal(1);
    }
  });

  it('when the same referrer is given overlapping referrals through both instances at once, exactly one succeeds (R4)', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    for (let round = 0; round < 5; round++) {
      const contract = await createContract(ctx, owner, { number: `C-${round}` });
      const results = await Promise.all([
        call(a, 'POST', `/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '10', billingStartDate: '2026-10-01' })),
        call(b, 'POST', `/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '20', billingStartDate: '2026-10-05' })),
      ]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409]);
      expect(results.find((r) => r.status === 409)!.body.code).to.equal('overlapping-referral');
    }
  });

  it('an Idempotency-Key used through one instance is replayed by the other', async () => {
    const body = { code: 'REPLAYED', name: 'Replayed unit' };
    const first = await call(a, 'POST', '/v1/bunits', body, { 'Idempotency-Key': 'create-replayed-1' });
    expect(first.status).to.equal(201);
    const retry = await call(b, 'POST', '/v1/bunits', body, { 'Idempotency-Key': 'create-replayed-1' });
    expect(retry.status).to.equal(201);
    expect(retry.headers.get('idempotent-replayed')).to.equal('true');
    expect(retry.body).to.deep.equal(first.body);
    const mismatch = await call(b, 'POST', '/v1/bunits', { ...body, name: 'Other' }, { 'Idempotency-Key': 'create-replayed-1' });
    expect(mismatch.status).to.equal(422);
    expect(mismatch.body.code).to.equal('idempotency-key-mismatch');
  });

  it('the same Idempotency-Key sent through both instances at once creates one object', async () => {
    const body = { code: 'RACE', name: 'Race unit' };
    const results = await Promise.all([
      call(a, 'POST', '/v1/bunits', body, { 'Idempotency-Key': 'race-1' }),
      call(b, 'POST', '/v1/bunits', body, { 'Idempotency-Key': 'race-1' }),
    ]);
    for (const r of results) expect([201, 409], JSON.stringify(r.body)).to.include(r.status);
    const created = results.filter((r) => r.status === 201);
    expect(created.length).to.be.greaterThan(0);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.code).to.equal('idempotency-key-in-use');
    const list = await ctx.get('/v1/bunits');
    expect(list.body.data.filter((u: { code: string }) => u.code === 'RACE')).to.have.length(1);
  });

  it('two settlement runs started through different instances at the same instant settle each pair once: one runs, the other answers 409 run-in-progress or finds nothing left', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const bob = await createBunit(ctx, 'BOB');
    const contract = await createContract(ctx, owner, { number: 'C-RUN' });
    for (const [referrer, pct] of [[alice, '10'], [bob, '15']] as const) {
      expect((await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, referrer, { percentage: pct, billingStartDate: '2026-10-01' }))).status).to.equal(201);
    }
    const lines = Array.from({ length: 400 }, (_, i) => ({ externalId: `R${i}`, amount: '12.34', date: `2026-10-${String((i % 31) + 1).padStart(2, '0')}` }));
    expect((await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines })).status).to.equal(201);

    const runs = await Promise.all([
      call(a, 'POST', '/v1/settlement-runs', { through: '2026-10-31' }),
      call(b, 'POST', '/v1/settlement-runs', { through: '2026-10-31' }),
    ]);
    const ran = runs.filter((r) => r.status === 201 && r.body.lineCount === 800);
    expect(ran, JSON.stringify(runs.map((r) => r.body))).to.have.length(1);
    const other = runs.find((r) => r !== ran[0])!;
    if (other.status === 201) expect(other.body.lineCount).to.equal(0);
    else expect([other.status, other.body.code]).to.deep.equal([409, 'run-in-progress']);
    const pairs = await ctx.db('settled_pairs').count({ n: '*' }).first();
    expect(Number(pairs?.n)).to.equal(800);
  });
});
