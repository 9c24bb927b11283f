import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { generateClientTypes, TYPES_FILE } from '../client/generate-types';
import type { paths } from '../client/schema';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { conformance } from '../helpers/conformance';

describe('test/client/schema.d.ts', () => {
  it('is what `npm run client:types` generates from openapi.yaml (run it after npm run openapi)', async () => {
    const committed = fs.readFileSync(TYPES_FILE, 'utf8');
    expect(committed === (await generateClientTypes()), 'test/client/schema.d.ts is out of date: run npm run client:types').to.equal(
      true,
    );
  });
});

/** Every response the typed client receives is checked against openapi.yaml too. */
const conforming: Middleware = {
  async onResponse({ request, response }) {
    const url = new URL(request.url);
    conformance().assert({
      method: request.method,
      url: url.pathname + url.search,
      status: response.status,
      headers: Object.fromEntries(response.headers),
      text: await response.clone().text(),
    });
    return undefined;
  },
};

describeApi('a billing system on the typed client generated from openapi.yaml', (ctx) => {
  let server: Server;
  let api: Client<paths, 'application/json' | 'application/problem+json'>;

  before(async function () {
    server = ctx.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    api = createClient<paths, 'application/json' | 'application/problem+json'>({ baseUrl: `http://127.0.0.1:${port}`, headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    api.use(conforming);
  });

  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('books a referral and its revenue, settles October, and reads the statement of the worked example (SPEC §10)', async () => {
    const owner = await api.POST('/v1/bunits', { body: { code: 'DACH', name: 'DACH Enterprise' } });
    const referrer = await api.POST('/v1/bunits', { body: { code: 'NORDICS', name: 'Nordic Sales' } });
    expect(owner.response.status).to.equal(201);
    const ownerId = owner.data!.id;
    const referrerId = referrer.data!.id;

    const contract = await api.POST('/v1/bunits/{bunitId}/contracts', {
      params: { path: { bunitId: ownerId } },
      body: { number: 'C-2026-001', name: 'Fleet telematics, 3 years', customer: 'Acme Logistics AS', currency: 'EUR', startDate: '2026-01-01' },
    });
    expect(contract.response.headers.get('Location')).to.equal(`/v1/bunits/${ownerId}/contracts/${contract.data!.id}`);
    const contractId = contract.data!.id;

    const referral = await api.POST('/v1/bunits/{bunitId}/referrals', {
      params: { path: { bunitId: ownerId }, header: { 'X-Change-Reason': 'Nordics introduced Acme' } },
      body: {
        contract: { id: contractId },
        referrer: { id: referrerId },
        percentage: '12.5',
        billingStartDate: '2026-10-01',
        billingEndDate: '2026-10-20',
      },
    });
    // The last segment stays open (`to: null`); billingEndDate ends the window.
    expect(referral.data?.percentageHistory).to.deep.equal([{ from: '2026-10-01', to: null, percentage: '12.5' }]);
    expect(referral.response.headers.get('ETag')).to.match(/^"referral-\d+-v\d+\.\d+\.\d+"$/);

    // A second, overlapping referral for the same referrer: the problem's code is typed from the document.
    const overlapping = await api.POST('/v1/bunits/{bunitId}/referrals', {
      params: { path: { bunitId: ownerId } },
      body: { contract: { id: contractId }, referrer: { id: referrerId }, percentage: 5, billingStartDate: '2026-10-15' },
    });
    expect(overlapping.response.status).to.equal(409);
    const conflictCode: 'overlapping-referral' | 'over-allocated' | string | undefined = overlapping.error?.code;
    expect(conflictCode).to.equal('overlapping-referral');

    const ingest = {
      params: { path: { bunitId: ownerId, contractId }, header: { 'Idempotency-Key': 'acme-2026-10' } },
      body: {
        lines: [
          { externalId: 'INV-2026-10-0042/1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
          { externalId: 'CN-2026-10-0007/1', amount: -100, date: '2026-10-15' },
        ],
      },
    };
    const revenue = await api.POST('/v1/bunits/{bunitId}/contracts/{contractId}/revenue', ingest);
    expect(revenue.data?.created).to.equal(2);
    expect(revenue.data?.data.map((l) => l.amount)).to.deep.equal(['3000.00', '-100.00']);
    const retried = await api.POST('/v1/bunits/{bunitId}/contracts/{contractId}/revenue', ingest);
    expect(retried.response.headers.get('Idempotent-Replayed')).to.equal('true');
    expect(retried.data).to.deep.equal(revenue.data);

    const dryRun = await api.POST('/v1/settlement-runs', { body: { through: '2026-10-31', dryRun: true } });
    expect(dryRun.response.status).to.equal(200);
    expect(dryRun.data && 'statements' in dryRun.data ? dryRun.data.statements.map((s) => s.total) : null).to.deep.equal(['229.44']);

    const run = await api.POST('/v1/settlement-runs', { body: { through: '2026-10-31' } });
    expect(run.response.status).to.equal(201);
    // 200 (dry run) and 201 (committed) answer different schemas; dryRun tells them apart.
    if (run.data?.dryRun !== false) throw new Error('expected a committed run');
    const runId = run.data.id;
    expect(run.data?.totals).to.deep.equal([{ currency: 'EUR', amount: '229.44' }]);

    const statements = await api.GET('/v1/bunits/{bunitId}/statements', {
      params: { path: { bunitId: referrerId }, query: { role: 'referrer', runId } },
    });
    expect(statements.data?.meta.total).to.equal(1);
    const statementId = statements.data!.data[0]!.id;

    const statement = await api.GET('/v1/bunits/{bunitId}/statements/{statementId}', {
      params: { path: { bunitId: referrerId, statementId } },
    });
    const s = statement.data!;
    expect({ payer: s.payer.code, referrer: s.referrer.code, currency: s.currency, total: s.total }).to.deep.equal({
      payer: 'DACH',
      referrer: 'NORDICS',
      currency: 'EUR',
      total: '229.44',
    });
    expect(s.lines.map((l) => [l.billableDays, l.exactAmount, l.amount])).to.deep.equal([
      [20, '241.93548387096774193548', '241.94'],
      [1, '-12.5', '-12.50'],
    ]);

    const csv = await api.GET('/v1/bunits/{bunitId}/statements/{statementId}', {
      params: { path: { bunitId: referrerId, statementId } },
      headers: { Accept: 'text/csv' },
      parseAs: 'text',
    });
    expect(csv.response.headers.get('Content-Type')).to.match(/^text\/csv/);
    expect(String(csv.data).split('\r\n')[1]).to.match(/,241\.94,,$/);
  });
});
