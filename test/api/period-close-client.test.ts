import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../client/schema';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { createBunit, createContract, createReferral } from '../helpers/fixtures';
import { acceptStatements } from '../helpers/period-close';

/** The month-end job on the typed client generated from openapi.yaml (SPEC §16): close, read, pay, book. */
describeApi('the month-end close on the typed client', (ctx) => {
  let server: Server;
  let api: Client<paths, 'application/json' | 'application/problem+json'>;

  before(async function () {
    server = ctx.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    api = createClient<paths, 'application/json' | 'application/problem+json'>({ baseUrl: `http://127.0.0.1:${port}`, headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  });

  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('closes October, reads the netting, pays it and acknowledges a journal, all typed', async () => {
    const dach = await createBunit(ctx, 'DACH');
    const nordics = await createBunit(ctx, 'NORDICS');
    const c = await createContract(ctx, dach, { number: 'C-1', currency: 'EUR', startDate: '2026-10-01' });
    await createReferral(ctx, dach, c, nordics, { percentage: '10', billingStartDate: '2026-10-01' });
    await ctx.post(`/v1/bunits/${dach}/contracts/${c}/revenue`, { lines: [{ externalId: 'L1', amount: '1000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }] });
    await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });

    const notReady = await api.POST('/v1/periods/{period}/close', { params: { path: { period: '2026-10' } } });
    expect(notReady.response.status).to.equal(409);
    expect(notReady.error?.code).to.equal('period-not-ready');

    await acceptStatements(ctx.db, '2026-10');
    const closed = await api.POST('/v1/periods/{period}/close', { params: { path: { period: '2026-10' } } });
    expect(closed.data?.status).to.equal('closed');
    const periods = await api.GET('/v1/periods', {});
    expect(periods.data?.data.map((p) => p.period)).to.deep.equal(['2026-10']);

    const nettings = await api.GET('/v1/bunits/{bunitId}/nettings', { params: { path: { bunitId: dach }, query: { period: '2026-10' } } });
    const netting = nettings.data!.data[0]!;
    expect(netting.amount).to.equal('100.00');
    expect(netting.payer?.code).to.equal('DACH');

    const paid = await api.POST('/v1/bunits/{bunitId}/nettings/{nettingId}/payments', {
      params: { path: { bunitId: dach, nettingId: netting.id } },
      body: { amount: '100.00', paidDate: '2026-11-20', reference: 'PAY-1' },
    });
    expect(paid.response.status).to.equal(201);
    expect(paid.data?.amount).to.equal('100.00');
    const after = await api.GET('/v1/bunits/{bunitId}/nettings/{nettingId}', { params: { path: { bunitId: nordics, nettingId: netting.id } } });
    expect(after.data?.status).to.equal('paid');

    const journals = await api.GET('/v1/bunits/{bunitId}/journals', { params: { path: { bunitId: nordics }, query: { posted: false } } });
    expect(journals.data?.data.map((j) => j.kind)).to.deep.equal(['close', 'payment']);
    const first = journals.data!.data[0]!;
    expect(first.totalDebit).to.equal(first.totalCredit);
    const posted = await api.POST('/v1/bunits/{bunitId}/journals/{journalId}/post', {
      params: { path: { bunitId: nordics, journalId: first.id } },
      body: { externalId: 'JE-1' },
    });
    expect(posted.data?.externalId).to.equal('JE-1');
    const accounts = await api.PUT('/v1/bunits/{bunitId}/accounts', {
      params: { path: { bunitId: nordics } },
      body: { receivable: '1410', payable: '2410', income: '4800', expense: '6800', clearing: '1290' },
    });
    expect(accounts.data?.payable).to.equal('2410');
  });
});
