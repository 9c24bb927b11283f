import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem } from '../helpers/fixtures';
import { acceptStatements, endDispute, holdLines, nettedLineIds } from '../helpers/period-close';

/*
 * SPEC §16 through the API: the README's worked example. DACH and NORDICS refer each other in
 * EUR; October has a credit note and one disputed line that is held over the close; November
 * nets it in once its dispute has ended.
 */

interface Scenario {
  dach: number;
  nordics: number;
  /** DACH → NORDICS: 241.94 and −12.50 = 229.44 */
  toNordics: number;
  /** NORDICS → DACH: 90.00 and 15.00 (held) = 105.00 */
  toDach: number;
  heldLine: number;
  disputeId: number;
}

async function october(ctx: ApiContext): Promise<Scenario> {
  const dach = await createBunit(ctx, 'DACH', 'DACH Enterprise');
  const nordics = await createBunit(ctx, 'NORDICS', 'Nordic Sales');
  const c1 = await createContract(ctx, dach, { number: 'C-DACH-1', currency: 'EUR', startDate: '2026-10-01' });
  await createReferral(ctx, dach, c1, nordics, { percentage: '12.5', billingStartDate: '2026-10-01', billingEndDate: '2026-10-20' });
  const c2 = await createContract(ctx, nordics, { number: 'C-NORD-1', currency: 'EUR', startDate: '2026-10-01' });
  await createReferral(ctx, nordics, c2, dach, { percentage: '10', billingStartDate: '2026-10-01' });
  let res = await ctx.post(`/v1/bunits/${dach}/contracts/${c1}/revenue`, {
    lines: [
      { externalId: 'L1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      { externalId: 'L2', amount: '-100.00', date: '2026-10-15' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  res = await ctx.post(`/v1/bunits/${nordics}/contracts/${c2}/revenue`, {
    lines: [
      { externalId: 'N1', amount: '900.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      { externalId: 'N2', amount: '150.00', date: '2026-10-10' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
  expect(run.status, JSON.stringify(run.body)).to.equal(201);
  const list = await ctx.get(`/v1/bunits/${dach}/statements`);
  const toNordics = list.body.data.find((s: { payer: { id: number } }) => s.payer.id === dach).id;
  const toDach = list.body.data.find((s: { payer: { id: number } }) => s.payer.id === nordics).id;
  const statement = await ctx.get(`/v1/bunits/${dach}/statements/${toDach}`);
  const heldLine = statement.body.lines.find((l: { amount: string }) => l.amount === '15.00').id;
  const disputeId = await holdLines(ctx.db, toDach, dach, [heldLine]);
  return { dach, nordics, toNordics, toDach, heldLine, disputeId };
}

async function closeOctober(ctx: ApiContext) {
  await acceptStatements(ctx.db, '2026-10');
  const res = await ctx.post('/v1/periods/2026-10/close');
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res;
}

describeApi('period close, netting and journals (SPEC §16)', (ctx) => {
  it('refuses to close while statements are issued, the month is not over, or an earlier period is open, naming each reason', async () => {
    const s = await october(ctx);
    let res = await ctx.post('/v1/periods/2026-10/close');
    expectProblem(res, 409, 'period-not-ready');
    expect(res.body.errors.map((e: { message: string }) => e.message)).to.deep.equal([
      `2 statements are still issued (not accepted): ${[s.toNordics, s.toDach].sort((a, b) => a - b).join(', ')}`,
    ]);
    // November has no statements yet.
    expectProblem(await ctx.post('/v1/periods/2026-11/close'), 404, 'not-found');
    const periods = await ctx.get('/v1/periods');
    expect(periods.body.data).to.deep.equal([
      { period: '2026-10', status: 'open', closedDate: null, closedBy: null, statementCount: 2, issuedCount: 2, openDisputeCount: 1 },
    ]);
    // Nothing was written.
    expect(await ctx.db('periods').count({ n: '*' })).to.deep.equal([{ n: 0 }]);

    await acceptStatements(ctx.db, '2026-10');
    ctx.clock.setToday('2026-10-31');
    res = await ctx.post('/v1/periods/2026-10/close');
    expectProblem(res, 409, 'period-not-ready');
    expect(res.body.detail).to.contain('its last day (2026-10-31) is not before today (2026-10-31)');
  });

  it('nets what the pair owes each other (the held line left out) and writes both units’ journals, mirrored', async () => {
    const s = await october(ctx);
    const closed = await closeOctober(ctx);
    expect(closed.body).to.deep.include({ period: '2026-10', status: 'closed', closedBy: 'ADMIN_API_KEY', statementCount: 2, issuedCount: 0, openDisputeCount: 1 });

    const nettings = await ctx.get('/v1/periods/2026-10/nettings');
    expect(nettings.body.meta.total).to.equal(1);
    const netting = nettings.body.data[0];
    expect(netting).to.deep.include({
      period: '2026-10',
      currency: 'EUR',
      amount: '139.44',
      paidAmount: '0.00',
      status: 'open',
      statementIds: [s.toNordics, s.toDach].sort((a, b) => a - b),
      releasedLineIds: [],
    });
    expect(netting.parties.map((p: { bunit: { code: string }; owes: string }) => [p.bunit.code, p.owes])).to.deep.equal([
      ['DACH', '229.44'],
      ['NORDICS', '90.00'],
    ]);
    expect(netting.payer.code).to.equal('DACH');
    expect(netting.payee.code).to.equal('NORDICS');
    expect((await ctx.get(`/v1/bunits/${s.nordics}/nettings/${netting.id}`)).body).to.deep.equal(netting);

    const dachJournals = (await ctx.get(`/v1/bunits/${s.dach}/journals?period=2026-10&kind=close`)).body.data;
    const nordicsJournals = (await ctx.get(`/v1/bunits/${s.nordics}/journals?period=2026-10&kind=close`)).body.data;
    expect(dachJournals).to.have.length(1);
    expect(nordicsJournals).to.have.length(1);
    const entries = (j: { entries: { account: string; debit: string | null; credit: string | null; tradingPartner: { code: string } }[] }) =>
      j.entries.map((e) => [e.account, e.debit, e.credit, e.tradingPartner.code]);
    expect(dachJournals[0]).to.deep.include({ kind: 'close', period: '2026-10', currency: 'EUR', date: '2026-10-31', totalDebit: '409.44', totalCredit: '409.44', postedDate: null });
    expect(entries(dachJournals[0])).to.deep.equal([
      ['revenue-share-expense', '229.44', null, 'NORDICS'],
      ['intercompany-payable', null, '229.44', 'NORDICS'],
      ['intercompany-receivable', '90.00', null, 'NORDICS'],
      ['revenue-share-income', null, '90.00', 'NORDICS'],
      ['intercompany-payable', '90.00', null, 'NORDICS'],
      ['intercompany-receivable', null, '90.00', 'NORDICS'],
    ]);
    expect(entries(nordicsJournals[0])).to.deep.equal([
      ['revenue-share-expense', '90.00', null, 'DACH'],
      ['intercompany-payable', null, '90.00', 'DACH'],
      ['intercompany-receivable', '229.44', null, 'DACH'],
      ['revenue-share-income', null, '229.44', 'DACH'],
      ['intercompany-payable', '229.44', null, 'DACH'],
      ['intercompany-receivable', null, '229.44', 'DACH'],
    ]);

    // Every line netted once, except the held one; every statement closed.
    const netted = await nettedLineIds(ctx.db);
    expect(netted).to.have.length(3);
    expect(new Set(netted).size).to.equal(3);
    expect(netted).not.to.include(s.heldLine);
    expect((await ctx.db('statements').select('status')).map((r: { status: string }) => r.status)).to.deep.equal(['closed', 'closed']);

    // Closing again changes nothing and publishes nothing.
    const again = await ctx.post('/v1/periods/2026-10/close');
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal(closed.body);
    const events = await ctx.get('/v1/events?type=period.closed,netting.created,journal.created');
    expect(events.body.data.map((e: { type: string }) => e.type)).to.deep.equal(['period.closed', 'netting.created', 'journal.created', 'journal.created']);
    expect(events.body.data[1].data).to.deep.equal(netting);

    // A run into the closed period is refused.
    expectProblem(await ctx.post('/v1/settlement-runs', { through: '2026-10-31' }), 409, 'period-closed');
    const audit: { action: string; entity_type: string }[] = await ctx.db('audit_events').select('action', 'entity_type').where({ entity_type: 'period' });
    expect(audit).to.deep.equal([{ action: 'close', entity_type: 'period' }]);
  });

  it('records partial payments by the payer, idempotent by reference, refuses an overpayment, and books both sides', async () => {
    const s = await october(ctx);
    await closeOctober(ctx);
    const netting = (await ctx.get('/v1/periods/2026-10/nettings')).body.data[0];
    const dachWriter = await ctx.key('dach-treasury', 'write', [s.dach]);
    const nordicsWriter = await ctx.key('nordics-treasury', 'write', [s.nordics]);
    const path = (bunit: number) => `/v1/bunits/${bunit}/nettings/${netting.id}/payments`;

    expectProblem(await ctx.as(nordicsWriter.secret).post(path(s.nordics), { amount: '10.00', paidDate: '2026-11-05', reference: 'X' }), 403, 'forbidden');
    expectProblem(await ctx.as(nordicsWriter.secret).post(path(s.dach), { amount: '10.00', paidDate: '2026-11-05', reference: 'X' }), 403, 'forbidden');
    const bad = await ctx.as(dachWriter.secret).post(path(s.dach), { amount: '0', paidDate: '2026-11-31', reference: '' });
    expectProblem(bad, 400, 'validation-failed');
    expect(bad.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.amount', 'body.paidDate', 'body.reference']);
    expectProblem(await ctx.as(dachWriter.secret).post(path(s.dach), { amount: '1.001', paidDate: '2026-11-05', reference: 'P0' }), 400, 'validation-failed');

    let res = await ctx.as(dachWriter.secret).post(path(s.dach), { amount: '100.00', paidDate: '2026-11-05', reference: 'PAY-1' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ nettingId: netting.id, amount: '100.00', paidDate: '2026-11-05', reference: 'PAY-1', recordedBy: 'dach-treasury' });
    const first = res.body;
    res = await ctx.as(dachWriter.secret).post(path(s.dach), { amount: 100, paidDate: '2026-11-05', reference: 'PAY-1' });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal(first);
    expectProblem(await ctx.as(dachWriter.secret).post(path(s.dach), { amount: '100.01', paidDate: '2026-11-05', reference: 'PAY-1' }), 409, 'duplicate-reference');
    let n = (await ctx.get(`/v1/bunits/${s.dach}/nettings/${netting.id}`)).body;
    expect(n).to.deep.include({ paidAmount: '100.00', status: 'partially-paid' });

    const over = await ctx.as(dachWriter.secret).post(path(s.dach), { amount: '39.45', paidDate: '2026-11-06', reference: 'PAY-2' });
    expectProblem(over, 422, 'overpayment');
    res = await ctx.as(dachWriter.secret).post(path(s.dach), { amount: '39.44', paidDate: '2026-12-01', reference: 'PAY-2' });
    expect(res.status).to.equal(201);
    n = (await ctx.get(`/v1/bunits/${s.nordics}/nettings/${netting.id}`)).body;
    expect(n).to.deep.include({ paidAmount: '139.44', status: 'paid' });
    expect((await ctx.get(`/v1/bunits/${s.dach}/nettings?status=paid`)).body.meta.total).to.equal(1);
    expect((await ctx.get(`/v1/bunits/${s.dach}/nettings?status=open`)).body.meta.total).to.equal(0);
    const payments = await ctx.get(path(s.nordics));
    expect(payments.body.data.map((p: { reference: string }) => p.reference)).to.deep.equal(['PAY-1', 'PAY-2']);

    // Each payment: a journal for the payer and one for the payee, in the month of its paidDate.
    const payerJournals = (await ctx.get(`/v1/bunits/${s.dach}/journals?kind=payment`)).body.data;
    const payeeJournals = (await ctx.get(`/v1/bunits/${s.nordics}/journals?kind=payment`)).body.data;
    expect(payerJournals.map((j: { period: string; date: string; totalDebit: string }) => [j.period, j.date, j.totalDebit])).to.deep.equal([
      ['2026-11', '2026-11-05', '100.00'],
      ['2026-12', '2026-12-01', '39.44'],
    ]);
    expect(payerJournals[0].entries.map((e: { account: string; debit: string | null; credit: string | null }) => [e.account, e.debit, e.credit])).to.deep.equal([
      ['intercompany-payable', '100.00', null],
      ['intercompany-clearing', null, '100.00'],
    ]);
    expect(payeeJournals[0].entries.map((e: { account: string; debit: string | null; credit: string | null }) => [e.account, e.debit, e.credit])).to.deep.equal([
      ['intercompany-clearing', '100.00', null],
      ['intercompany-payable', null, '100.00'],
    ]);
    const paid = await ctx.get('/v1/events?type=netting.paid');
    expect(paid.body.data).to.have.length(1);
    expect(paid.body.data[0].bunitIds).to.have.members([s.dach, s.nordics]);
  });

  it('lets the ERP pick up unposted journals as CSV and acknowledge each once', async () => {
    const s = await october(ctx);
    await closeOctober(ctx);
    const csv = await ctx.get(`/v1/bunits/${s.dach}/journals?posted=false`).set('Accept', 'text/csv');
    expect(csv.status).to.equal(200);
    expect(csv.headers['content-type']).to.match(/^text\/csv/);
    const rows = csv.text.trim().split('\r\n');
    expect(rows[0]).to.equal('journalId,bunitCode,kind,date,currency,period,line,account,tradingPartnerId,tradingPartnerCode,debit,credit,memo,nettingId');
    expect(rows).to.have.length(7);
    const journalId = Number(rows[1]!.split(',')[0]);
    expect(rows[1]).to.equal(`${journalId},DACH,close,2026-10-31,EUR,2026-10,1,revenue-share-expense,${s.nordics},NORDICS,229.44,,revenue share owed,${rows[1]!.split(',')[13]}`);
    expect(rows[2]!.split(',').slice(10, 12)).to.deep.equal(['', '229.44']);

    const writer = await ctx.key('dach-erp', 'write', [s.dach]);
    const reader = await ctx.key('dach-reader', 'read', [s.dach]);
    expectProblem(await ctx.as(reader.secret).post(`/v1/bunits/${s.dach}/journals/${journalId}/post`, { externalId: 'JE-1' }), 403, 'forbidden');
    expectProblem(await ctx.as(writer.secret).post(`/v1/bunits/${s.nordics}/journals/${journalId}/post`, { externalId: 'JE-1' }), 403, 'forbidden');
    expectProblem(await ctx.post(`/v1/bunits/${s.nordics}/journals/${journalId}/post`, { externalId: 'JE-1' }), 404, 'not-found');
    let res = await ctx.as(writer.secret).post(`/v1/bunits/${s.dach}/journals/${journalId}/post`, { externalId: 'JE-1' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.externalId).to.equal('JE-1');
    expect(res.body.postedDate).to.equal('2026-11-23T12:00:00.000Z');
    ctx.clock.advanceMs(60_000);
    res = await ctx.as(writer.secret).post(`/v1/bunits/${s.dach}/journals/${journalId}/post`, { externalId: 'JE-1' });
    expect(res.status).to.equal(200);
    expect(res.body.postedDate).to.equal('2026-11-23T12:00:00.000Z');
    expectProblem(await ctx.as(writer.secret).post(`/v1/bunits/${s.dach}/journals/${journalId}/post`, { externalId: 'JE-2' }), 409, 'already-posted');
    expect((await ctx.get(`/v1/bunits/${s.dach}/journals?posted=false`)).body.meta.total).to.equal(0);
    expect((await ctx.get(`/v1/bunits/${s.dach}/journals?posted=true`)).body.meta.total).to.equal(1);
    expect((await ctx.get('/v1/events?type=journal.posted')).body.data).to.have.length(1);
    const single = await ctx.get(`/v1/bunits/${s.dach}/journals/${journalId}`).set('Accept', 'text/csv');
    expect(single.text.trim().split('\r\n')).to.have.length(7);
  });

  it('nets a line held over the close in the period its dispute ends, once, with the accounts of that day', async () => {
    const s = await october(ctx);
    await closeOctober(ctx);
    // The dispute ends in November; the line is netted in November, not again in October.
    await endDispute(ctx.db, s.disputeId, '2026-11-25');
    const accounts = { receivable: '1410', payable: '2410', income: '4800', expense: '6800', clearing: '1290' };
    const nordicsWriter = await ctx.key('nordics-writer', 'write', [s.nordics]);
    expectProblem(await ctx.as(nordicsWriter.secret).put(`/v1/bunits/${s.nordics}/accounts`, accounts), 403, 'forbidden');
    const badAccounts = await ctx.put(`/v1/bunits/${s.nordics}/accounts`, { ...accounts, payable: '', extra: 1 });
    expectProblem(badAccounts, 400, 'validation-failed');
    expect(badAccounts.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.payable', 'body.extra']);
    expect((await ctx.put(`/v1/bunits/${s.nordics}/accounts`, accounts)).body).to.deep.equal(accounts);
    expect((await ctx.get(`/v1/bunits/${s.nordics}/accounts`)).body).to.deep.equal(accounts);

    // November: a small run, accepted; the close is on 2 December.
    const c = await createContract(ctx, s.dach, { number: 'C-DACH-2', currency: 'EUR', startDate: '2026-11-01' });
    await createReferral(ctx, s.dach, c, s.nordics, { percentage: '10', billingStartDate: '2026-11-01' });
    expect((await ctx.post(`/v1/bunits/${s.dach}/contracts/${c}/revenue`, { lines: [{ externalId: 'D1', amount: '50.00', date: '2026-11-10' }] })).status).to.equal(201);
    ctx.clock.setToday('2026-12-02');
    expect((await ctx.post('/v1/settlement-runs', { through: '2026-11-30' })).status).to.equal(201);
    await acceptStatements(ctx.db, '2026-11');
    const closed = await ctx.post('/v1/periods/2026-11/close');
    expect(closed.status, JSON.stringify(closed.body)).to.equal(200);

    const november = (await ctx.get('/v1/periods/2026-11/nettings')).body.data;
    expect(november).to.have.length(1);
    expect(november[0]).to.deep.include({ amount: '10.00', releasedLineIds: [s.heldLine] });
    expect(november[0].parties.map((p: { owes: string }) => p.owes)).to.deep.equal(['5.00', '15.00']);
    expect(november[0].payer.code).to.equal('NORDICS');
    const nordicsClose = (await ctx.get(`/v1/bunits/${s.nordics}/journals?period=2026-11&kind=close`)).body.data[0];
    expect(nordicsClose.entries.map((e: { account: string }) => e.account)).to.deep.equal(['6800', '2410', '1410', '4800', '2410', '1410']);
    // October's journal keeps the accounts it was written with.
    const nordicsOctober = (await ctx.get(`/v1/bunits/${s.nordics}/journals?period=2026-10&kind=close`)).body.data[0];
    expect(nordicsOctober.entries[0].account).to.equal('revenue-share-expense');
    expect((await nettedLineIds(ctx.db)).filter((id) => id === s.heldLine)).to.have.length(1);
    const periods = (await ctx.get('/v1/periods')).body.data;
    expect(periods.map((p: { period: string; status: string }) => [p.period, p.status])).to.deep.equal([
      ['2026-11', 'closed'],
      ['2026-10', 'closed'],
    ]);
  });

  it('closes a month whose only nettable lines are lines released in it (no statements of its own)', async () => {
    const s = await october(ctx);
    await closeOctober(ctx);
    ctx.clock.setToday('2026-12-02');
    // Nothing to net in November yet: an unknown period.
    expectProblem(await ctx.post('/v1/periods/2026-11/close'), 404, 'not-found');
    await endDispute(ctx.db, s.disputeId, '2026-11-25');

    const closed = await ctx.post('/v1/periods/2026-11/close');
    expect(closed.status, JSON.stringify(closed.body)).to.equal(200);
    expect(closed.body).to.deep.include({ period: '2026-11', status: 'closed', statementCount: 0, issuedCount: 0, openDisputeCount: 0 });
    const november = (await ctx.get('/v1/periods/2026-11/nettings')).body.data;
    expect(november).to.have.length(1);
    expect(november[0]).to.deep.include({ period: '2026-11', currency: 'EUR', amount: '15.00', statementIds: [], releasedLineIds: [s.heldLine], status: 'open' });
    expect(november[0].parties.map((p: { bunit: { code: string }; owes: string }) => [p.bunit.code, p.owes])).to.deep.equal([
      ['DACH', '0.00'],
      ['NORDICS', '15.00'],
    ]);
    expect(november[0].payer.code).to.equal('NORDICS');
    const dachJournal = (await ctx.get(`/v1/bunits/${s.dach}/journals?period=2026-11&kind=close`)).body.data;
    expect(dachJournal).to.have.length(1);
    expect(dachJournal[0]).to.deep.include({ date: '2026-11-30', totalDebit: '30.00', totalCredit: '30.00' });

    // Netted once, ever: a second close changes nothing.
    expect((await nettedLineIds(ctx.db)).filter((id) => id === s.heldLine)).to.have.length(1);
    const again = await ctx.post('/v1/periods/2026-11/close');
    expect(again.status).to.equal(200);
    expect((await ctx.get('/v1/periods/2026-11/nettings')).body.meta.total).to.equal(1);
    const periods = (await ctx.get('/v1/periods')).body.data;
    expect(periods.map((p: { period: string; status: string; statementCount: number }) => [p.period, p.status, p.statementCount])).to.deep.equal([
      ['2026-11', 'closed', 0],
      ['2026-10', 'closed', 2],
    ]);
  });

  it('counts a month with released lines as open before a later one', async () => {
    const s = await october(ctx);
    await closeOctober(ctx);
    await endDispute(ctx.db, s.disputeId, '2026-11-25');
    // December has statements; November only the released line, and is still open.
    ctx.clock.setToday('2027-01-02');
    const c = await createContract(ctx, s.dach, { number: 'C-DEC', currency: 'EUR', startDate: '2026-12-01' });
    await createReferral(ctx, s.dach, c, s.nordics, { percentage: '10', billingStartDate: '2026-12-01' });
    expect((await ctx.post(`/v1/bunits/${s.dach}/contracts/${c}/revenue`, { lines: [{ externalId: 'DEC1', amount: '10.00', date: '2026-12-10' }] })).status).to.equal(201);
    expect((await ctx.post('/v1/settlement-runs', { through: '2026-12-31' })).status).to.equal(201);
    await acceptStatements(ctx.db, '2026-12');
    const refused = await ctx.post('/v1/periods/2026-12/close');
    expectProblem(refused, 409, 'period-not-ready');
    expect(refused.body.errors).to.deep.equal([{ path: 'period', message: 'the earlier period 2026-11 is still open' }]);
    expect((await ctx.post('/v1/periods/2026-11/close')).status).to.equal(200);
    expect((await ctx.post('/v1/periods/2026-12/close')).status).to.equal(200);
  });

  it('refuses to close a month while an earlier month with statements is open', async () => {
    await october(ctx);
    ctx.clock.setToday('2026-12-02');
    const c = await createContract(ctx, 1, { number: 'C-X', currency: 'EUR', startDate: '2026-11-01' });
    await createReferral(ctx, 1, c, 2, { percentage: '10', billingStartDate: '2026-11-01' });
    await ctx.post(`/v1/bunits/1/contracts/${c}/revenue`, { lines: [{ externalId: 'X1', amount: '10.00', date: '2026-11-10' }] });
    await ctx.post('/v1/settlement-runs', { through: '2026-11-30' });
    await acceptStatements(ctx.db, '2026-11');
    const res = await ctx.post('/v1/periods/2026-11/close');
    expectProblem(res, 409, 'period-not-ready');
    expect(res.body.errors).to.deep.equal([{ path: 'period', message: 'the earlier period 2026-10 is still open' }]);
  });
});
