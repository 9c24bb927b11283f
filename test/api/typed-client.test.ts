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
    expect(String(csv.data).split('\r\n')[1]).to.match(/,241\.94,,,,false$/);

    // SPEC §15: the referrer disputes the credit note's line, the payer accepts the statement and rejects the dispute.
    const creditLine = s.lines.find((l) => l.amount === '-12.50')!;
    const dispute = await api.POST('/v1/bunits/{bunitId}/statements/{statementId}/disputes', {
      params: { path: { bunitId: referrerId, statementId } },
      body: { lineIds: [creditLine.id], reasonCode: 'wrong-revenue', comment: 'The credit note was cancelled.' },
    });
    expect(dispute.response.status).to.equal(201);
    expect(dispute.data).to.deep.include({ lineIds: [creditLine.id], amount: '-12.50', status: 'open', resolution: null });
    const accepted = await api.POST('/v1/bunits/{bunitId}/statements/{statementId}/accept', { params: { path: { bunitId: ownerId, statementId } }, body: {} });
    expect(accepted.data).to.deep.include({ status: 'accepted', period: '2026-10', heldAmount: '-12.50' });
    const held = await api.GET('/v1/bunits/{bunitId}/disputes', { params: { path: { bunitId: ownerId }, query: { status: 'open', statementId } } });
    expect(held.data?.data.map((d) => d.id)).to.deep.equal([dispute.data!.id]);
  });
});

describeApi('a billing system and a finance approver on the typed client, in maker-checker mode (SPEC §11)', (ctx) => {
  let server: Server;
  let baseUrl: string;
  const clientFor = (secret: string) => {
    const client = createClient<paths, 'application/json' | 'application/problem+json'>({ baseUrl, headers: { Authorization: `Bearer ${secret}` } });
    client.use(conforming);
    return client;
  };

  before(async function () {
    server = ctx.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('asks for a referral and a change of it, has them approved by another key, and settles the approved terms', async () => {
    const admin = clientFor(ADMIN_KEY);
    const owner = (await admin.POST('/v1/bunits', { body: { code: 'DACH', name: 'DACH Enterprise' } })).data!.id;
    const referrer = (await admin.POST('/v1/bunits', { body: { code: 'NORDICS', name: 'Nordic Sales' } })).data!.id;
    const contractId = (
      await admin.POST('/v1/bunits/{bunitId}/contracts', {
        params: { path: { bunitId: owner } },
        body: { number: 'C-1', name: 'Fleet', currency: 'EUR', startDate: '2026-01-01' },
      })
    ).data!.id;
    const makerKey = await admin.POST('/v1/api-keys', { body: { name: 'billing', role: 'write', bunitIds: [owner] } });
    const checkerKey = await admin.POST('/v1/api-keys', { body: { name: 'finance', role: 'approver', bunitIds: [owner] } });
    const maker = clientFor(makerKey.data!.key!);
    const checker = clientFor(checkerKey.data!.key!);

    const asked = await maker.POST('/v1/bunits/{bunitId}/referrals', {
      params: { path: { bunitId: owner }, header: { 'X-Change-Reason': 'Nordics introduced Acme' } },
      body: { contract: { id: contractId }, referrer: { id: referrer }, percentage: '12.5', billingStartDate: '2026-10-01' },
    });
    expect(asked.data?.status).to.equal('pending');
    const createRequest = asked.data!.pendingChange!.id;

    const work = await checker.GET('/v1/bunits/{bunitId}/change-requests', { params: { path: { bunitId: owner }, query: { status: 'pending' } } });
    expect(work.data?.data.map((cr) => [cr.id, cr.kind, cr.requestedBy, cr.reason])).to.deep.equal([[createRequest, 'create', 'billing', 'Nordics introduced Acme']]);
    const approved = await checker.POST('/v1/bunits/{bunitId}/change-requests/{changeRequestId}/approve', {
      params: { path: { bunitId: owner, changeRequestId: createRequest } },
      body: { reason: 'Agreement on file' },
    });
    expect(approved.data?.status).to.equal('approved');

    const change = await maker.PUT('/v1/bunits/{bunitId}/referrals/{referralId}', {
      params: { path: { bunitId: owner, referralId: asked.data!.id } },
      body: { contract: { id: contractId }, referrer: { id: referrer }, percentage: '15', billingEndDate: '2026-10-20' },
    });
    expect(change.response.status).to.equal(202);
    const updateRequest = change.data && 'kind' in change.data ? change.data.id : NaN;
    const own = await maker.POST('/v1/bunits/{bunitId}/change-requests/{changeRequestId}/approve', {
      params: { path: { bunitId: owner, changeRequestId: updateRequest } },
      body: {},
    });
    expect(own.response.status, 'a write key decides nothing').to.equal(403);
    const moderated = await checker.POST('/v1/bunits/{bunitId}/change-requests/moderate', {
      params: { path: { bunitId: owner } },
      body: { approve: [updateRequest], reason: 'Weekly review' },
    });
    expect(moderated.data?.data.map((cr) => cr.status)).to.deep.equal(['approved']);

    const referral = await maker.GET('/v1/bunits/{bunitId}/referrals/{referralId}', { params: { path: { bunitId: owner, referralId: asked.data!.id } } });
    expect(referral.data).to.deep.include({ status: 'approved', billingEndDate: '2026-10-20', pendingChange: null });

    await maker.POST('/v1/bunits/{bunitId}/contracts/{contractId}/revenue', {
      params: { path: { bunitId: owner, contractId } },
      body: { lines: [{ externalId: 'INV-1', amount: '3100.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }] },
    });
    const run = await admin.POST('/v1/settlement-runs', { body: { through: '2026-10-31' } });
    if (run.data?.dryRun !== false) throw new Error('expected a committed run');
    // The percentage changed on the day of approval (2026-11-23): October keeps 12.5 %, 20 days of it.
    expect(run.data.totals).to.deep.equal([{ currency: 'EUR', amount: '250.00' }]);
    const exported = await admin.GET('/v1/settlement-runs/{runId}/statements', {
      params: { path: { runId: run.data.id } },
      headers: { Accept: 'text/csv' },
      parseAs: 'text',
    });
    expect(String(exported.data).trim().split('\r\n')).to.have.length(2);
  });
}, { approvalMode: 'maker-checker' });
