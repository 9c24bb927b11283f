import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, expectProblem, referralBody } from '../helpers/fixtures';

/**
 * The event feed (SPEC §13): every change writes its event in its own transaction, with the
 * resource as its GET returns it after the change; the feed shows a key the events of its
 * business units, in sequence order, paged with `after`.
 */
interface FeedEvent {
  id: number;
  sequence: number;
  type: string;
  createdDate: string;
  bunitIds: number[];
  data: Record<string, unknown>;
}

async function feed(ctx: ApiContext, query = '', as?: ReturnType<ApiContext['as']>): Promise<FeedEvent[]> {
  const res = await (as ?? ctx).get(`/v1/events?limit=1000${query}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.data as FeedEvent[];
}

const typesOf = (events: FeedEvent[]) => events.map((e) => e.type);

describeApi('the event feed', (ctx) => {
  it('publishes the created, updated and archived business unit and contract, each with the resource as its GET returns it after the change', async () => {
    const unit = await createBunit(ctx, 'NORDICS', 'Nordic Sales');
    expect((await ctx.put(`/v1/bunits/${unit}`, { code: 'NORDICS', name: 'Nordic Sales AB' })).status).to.equal(200);
    const contract = await createContract(ctx, unit, { number: 'C-1' });
    expect((await ctx.put(`/v1/bunits/${unit}/contracts/${contract}`, { number: 'C-1', name: 'Renamed', currency: 'EUR', startDate: '2026-01-01' })).status).to.equal(200);
    expect((await ctx.del(`/v1/bunits/${unit}/contracts/${contract}`)).status).to.equal(204);
    expect((await ctx.del(`/v1/bunits/${unit}`)).status).to.equal(204);

    const events = await feed(ctx);
    expect(typesOf(events)).to.deep.equal([
      'business_unit.created',
      'business_unit.updated',
      'contract.created',
      'contract.updated',
      'contract.archived',
      'business_unit.archived',
    ]);
    expect(events.map((e) => e.sequence)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    for (const e of events) {
      expect(e.id).to.equal(e.sequence);
      expect(e.bunitIds).to.deep.equal([unit]);
      expect(e.createdDate).to.equal('2026-11-23T12:00:00.000Z');
    }
    expect(events[1]!.data.name).to.equal('Nordic Sales AB');
    expect(events[3]!.data.name).to.equal('Renamed');
    expect(events[5]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${unit}`)).body);
    expect(events[4]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${unit}/contracts/${contract}`)).body);
  });

  it('publishes a referral’s creation, change and archive for its owner and its referrer, and an archived contract’s referrals (R12)', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const bob = await createBunit(ctx, 'BOB');
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    const created = await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '10', billingStartDate: '2026-12-01' }));
    expect(created.status).to.equal(201);
    const id = created.body.id as number;
    expect((await ctx.put(`/v1/bunits/${owner}/referrals/${id}`, referralBody(contract, alice, { percentage: '12.5', billingStartDate: '2026-12-01' }))).status).to.equal(200);
    expect((await ctx.del(`/v1/bunits/${owner}/referrals/${id}`)).status).to.equal(204);
    const second = await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, bob, { percentage: '5', billingStartDate: '2026-10-01' }));
    expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);

    const events = (await feed(ctx)).filter((e) => e.type.startsWith('referral.') || e.type === 'contract.archived');
    expect(typesOf(events)).to.deep.equal(['referral.created', 'referral.updated', 'referral.archived', 'referral.created', 'contract.archived', 'referral.archived']);
    expect(events[0]!.bunitIds).to.deep.equal([owner, alice]);
    expect(events[0]!.data).to.deep.equal(created.body);
    expect(events[1]!.data.percentage).to.equal('12.5');
    expect(events[2]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${owner}/referrals/${id}`)).body);
    expect(events[5]!.bunitIds).to.deep.equal([owner, bob]);
    expect(events[5]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${owner}/referrals/${second.body.id}`)).body);
    expect(events[5]!.data.archivedDate).to.equal('2026-11-23T12:00:00.000Z');
  });

  it('publishes nothing for a change that changes nothing, or that rolls back (409)', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const bob = await createBunit(ctx, 'BOB');
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '60', billingStartDate: '2026-10-01' }));
    const before = await feed(ctx);

    expect((await ctx.put(`/v1/bunits/${owner}`, { code: 'OWNER', name: 'OWNER unit' })).status).to.equal(200);
    expectProblem(await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, bob, { percentage: '60', billingStartDate: '2026-10-01' })), 409, 'over-allocated');
    expectProblem(await ctx.post('/v1/bunits', { code: 'ALICE', name: 'again' }), 409, 'duplicate-code');
    const line = { externalId: 'INV-1', amount: '100.00', date: '2026-10-05' };
    expect((await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [line] })).status).to.equal(201);
    expect((await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [line] })).body.created).to.equal(0);
    expectProblem(await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ ...line, amount: '1' }, { externalId: 'INV-2', amount: '5', date: '2026-10-05' }] }), 409, 'duplicate-external-id');

    const after = await feed(ctx);
    expect(typesOf(after.slice(before.length))).to.deep.equal(['revenue.ingested']);
    // Numbers are handed out without gaps: the rolled-back transactions took none for good.
    expect(after.map((e) => e.sequence)).to.deep.equal(after.map((_, i) => i + 1));
  });

  it('publishes revenue.ingested with the contract and the lines the ingest created, not those that existed', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    const first = await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'A', amount: '10', date: '2026-10-01' }] });
    const second = await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, {
      lines: [
        { externalId: 'A', amount: '10', date: '2026-10-01' },
        { externalId: 'B', amount: '-2.5', date: '2026-10-02' },
        { externalId: 'C', amount: '7', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      ],
    });
    const events = (await feed(ctx, '&type=revenue.ingested'));
    expect(events.map((e) => e.data)).to.deep.equal([
      { contractId: contract, lineIds: [first.body.data[0].id] },
      { contractId: contract, lineIds: [second.body.data[1].id, second.body.data[2].id] },
    ]);
    expect(events[0]!.bunitIds).to.deep.equal([owner]);
  });

  it('publishes one statement.created per statement (without lines) and then settlement_run.completed when a run completes; admins alone see the run', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const bob = await createBunit(ctx, 'BOB');
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    for (const [referrer, pct] of [[alice, '10'], [bob, '5']] as const) {
      await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, referrer, { percentage: pct, billingStartDate: '2026-10-01' }));
    }
    await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'A', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }] });
    const dry = await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true });
    expect(dry.status).to.equal(200);
    expect(typesOf(await feed(ctx, '&type=statement.created,settlement_run.completed'))).to.deep.equal([]);
    const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(run.status).to.equal(201);

    const events = await feed(ctx, '&type=statement.created,settlement_run.completed');
    expect(typesOf(events)).to.deep.equal(['statement.created', 'statement.created', 'settlement_run.completed']);
    expect(events[2]!.data).to.deep.equal((await ctx.get(`/v1/settlement-runs/${run.body.id}`)).body);
    expect(events[2]!.bunitIds).to.deep.equal([]);
    const statements = (await ctx.get(`/v1/bunits/${owner}/statements?runId=${run.body.id}`)).body.data;
    expect(events.slice(0, 2).map((e) => e.data)).to.have.deep.members(statements);
    expect(events[0]!.data).to.not.have.property('lines');
    expect(events.slice(0, 2).map((e) => e.bunitIds)).to.have.deep.members([[owner, alice], [owner, bob]]);

    const aliceKey = await ctx.key('alice-reader', 'read', [alice]);
    const seen = await feed(ctx, '&type=statement.created,settlement_run.completed', ctx.as(aliceKey.secret));
    expect(seen.map((e) => e.bunitIds)).to.deep.equal([[owner, alice]]);
  });

  it('publishes an amendment as change_request.created, and its approval as referral.amended with the corrected terms, then change_request.approved (SPEC §12)', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    const referral = await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '12.5', billingStartDate: '2026-10-01' }));
    const maker = ctx.as((await ctx.key('maker', 'write', [owner])).secret);
    const asked = await maker.post(`/v1/bunits/${owner}/referrals/${referral.body.id}/amendments`, { percentage: '15', reason: 'Agreed at 15 %' });
    expect(asked.status, JSON.stringify(asked.body)).to.equal(202);
    expect((await ctx.post(`/v1/bunits/${owner}/change-requests/${asked.body.id}/approve`, {})).status).to.equal(200);

    const events = await feed(ctx, '&type=change_request.created,change_request.approved,referral.amended');
    expect(typesOf(events)).to.deep.equal(['change_request.created', 'referral.amended', 'change_request.approved']);
    const now = (await ctx.get(`/v1/bunits/${owner}/referrals/${referral.body.id}`)).body;
    expect(events[1]!.data).to.deep.equal(now);
    expect(now.percentage).to.equal('15');
    expect(events[1]!.bunitIds).to.have.members([owner, alice]);
    expect(events[2]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${owner}/change-requests/${asked.body.id}`)).body);
  });

  it('publishes api_key.created and api_key.revoked without the secret, for admin keys only', async () => {
    const unit = await createBunit(ctx, 'UNIT');
    const key = await ctx.key('reader', 'read', [unit]);
    expect((await ctx.del(`/v1/api-keys/${key.id}`)).status).to.equal(204);
    const events = await feed(ctx, '&type=api_key.created,api_key.revoked');
    expect(typesOf(events)).to.deep.equal(['api_key.created', 'api_key.revoked']);
    expect(events[1]!.data).to.deep.equal((await ctx.get(`/v1/api-keys/${key.id}`)).body);
    expect(JSON.stringify(events)).to.not.include(key.secret);
    const other = await ctx.key('other', 'read', [unit]);
    expect(typesOf(await feed(ctx, '', ctx.as(other.secret)))).to.deep.equal(['business_unit.created']);
  });

  it('shows a business-unit key only the events naming one of its units, in sequence order, paged with after', async () => {
    const a = await createBunit(ctx, 'AAA');
    const b = await createBunit(ctx, 'BBB');
    const c = await createBunit(ctx, 'CCC');
    const contract = await createContract(ctx, a, { number: 'C-1' });
    await ctx.post(`/v1/bunits/${a}/referrals`, referralBody(contract, b, { billingStartDate: '2026-10-01' }));
    await createContract(ctx, c, { number: 'C-2' });
    const key = await ctx.key('b-and-c', 'write', [b, c]);
    const agent = ctx.as(key.secret);

    const all = await feed(ctx, '', agent);
    expect(typesOf(all)).to.deep.equal(['business_unit.created', 'business_unit.created', 'referral.created', 'contract.created']);
    expect(all.every((e) => e.bunitIds.some((id) => id === b || id === c))).to.equal(true);
    // Paging by after: never a gap, never a repeat.
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const res = await agent.get(`/v1/events?after=${after}&limit=1`);
      expect(res.status).to.equal(200);
      if (res.body.data.length === 0) {
        expect(res.body.meta).to.deep.equal({ after, limit: 1, next: after });
        break;
      }
      seen.push(res.body.data[0].sequence);
      after = res.body.meta.next;
    }
    expect(seen).to.deep.equal(all.map((e) => e.sequence));
    expect(typesOf(await feed(ctx, '&type=contract.created', agent))).to.deep.equal(['contract.created']);
    expect((await feed(ctx, `&after=${all[2]!.sequence}`, agent)).map((e) => e.sequence)).to.deep.equal([all[3]!.sequence]);
  });

  it('rejects a limit outside 1..1000, a negative or non-numeric after, and an unknown type, with 400', async () => {
    for (const query of ['limit=0', 'limit=1001', 'after=-1', 'after=x', 'type=referral.deleted', 'type=', 'since=1']) {
      expectProblem(await ctx.get(`/v1/events?${query}`), 400, 'validation-failed');
    }
    expect((await ctx.get('/v1/events?limit=1000&after=0&type=referral.created')).status).to.equal(200);
  });

  it('keeps events EVENT_RETENTION_DAYS: the sweep deletes older ones', async () => {
    await createBunit(ctx, 'OLD');
    ctx.clock.advanceMs(29 * 24 * 3600 * 1000);
    await createBunit(ctx, 'NEW');
    ctx.clock.advanceMs(2 * 24 * 3600 * 1000);
    expect(await ctx.services.events.sweep(30)).to.equal(1);
    expect((await feed(ctx)).map((e) => e.data.code)).to.deep.equal(['NEW']);
  });
});

describeApi('the event feed in maker-checker mode', (ctx) => {
  it('publishes a change request and its decision, and the referral’s approval, denial and changes', async () => {
    const hq = await createBunit(ctx, 'HQ');
    const nordics = await createBunit(ctx, 'NORDICS');
    const dach = await createBunit(ctx, 'DACH');
    const contract = await createContract(ctx, hq, { number: 'C-1' });
    const maker = ctx.as((await ctx.key('maker', 'write', [hq])).secret);
    const checker = ctx.as((await ctx.key('checker', 'approver', [hq])).secret);
    const start = (await feed(ctx)).length;

    const created = await maker.post(`/v1/bunits/${hq}/referrals`, referralBody(contract, nordics, { percentage: '10', billingStartDate: '2026-10-01' }));
    expect(created.status).to.equal(201);
    const cr = created.body.pendingChange.id as number;
    expect((await checker.post(`/v1/bunits/${hq}/change-requests/${cr}/approve`, {})).status).to.equal(200);
    const update = await maker.put(`/v1/bunits/${hq}/referrals/${created.body.id}`, referralBody(contract, nordics, { percentage: '12', billingStartDate: '2026-10-01' }));
    expect(update.status).to.equal(202);
    expect((await checker.post(`/v1/bunits/${hq}/change-requests/${update.body.id}/approve`, {})).status).to.equal(200);
    const second = await maker.post(`/v1/bunits/${hq}/referrals`, referralBody(contract, dach, { percentage: '5', billingStartDate: '2027-06-01' }));
    expect((await checker.post(`/v1/bunits/${hq}/change-requests/${second.body.pendingChange.id}/deny`, { reason: 'No agreement' })).status).to.equal(200);
    const archive = await maker.del(`/v1/bunits/${hq}/referrals/${created.body.id}`);
    expect(archive.status).to.equal(202);
    expect((await maker.post(`/v1/bunits/${hq}/change-requests/${archive.body.id}/withdraw`, {})).status).to.equal(200);

    const events = (await feed(ctx)).slice(start);
    expect(typesOf(events)).to.deep.equal([
      'referral.created',
      'change_request.created',
      'referral.approved',
      'change_request.approved',
      'change_request.created',
      'referral.updated',
      'change_request.approved',
      'referral.created',
      'change_request.created',
      'referral.denied',
      'change_request.denied',
      'change_request.created',
      'change_request.withdrawn',
    ]);
    expect(events[0]!.data.status).to.equal('pending');
    expect((events[0]!.data.pendingChange as { id: number }).id).to.equal(cr);
    expect(events[1]!.data).to.deep.equal({ ...(await ctx.get(`/v1/bunits/${hq}/change-requests/${cr}`)).body, status: 'pending', decidedBy: null, decidedDate: null, decisionReason: null });
    expect(events[2]!.data.status).to.equal('approved');
    expect(events[2]!.data.pendingChange).to.equal(null);
    expect(events[3]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${hq}/change-requests/${cr}`)).body);
    expect(events[5]!.data.percentage).to.equal('12');
    expect((events[5]!.data.percentageHistory as unknown[]).length).to.be.greaterThan(0);
    expect(events[5]!.data.pendingChange).to.equal(null);
    expect(events[9]!.data.status).to.equal('denied');
    expect(events.map((e) => e.bunitIds[1])).to.deep.equal([...Array(7).fill(nordics), ...Array(4).fill(dach), nordics, nordics]);
    for (const e of events) expect(e.bunitIds[0]).to.equal(hq);
  });
}, { approvalMode: 'maker-checker' });
