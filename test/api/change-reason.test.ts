import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { apiRoutes } from '../../src/http/routes';
import { insertDeliveries } from '../../src/repositories/webhook.repository';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { createBunit } from '../helpers/fixtures';

/**
 * X-Change-Reason (SPEC §7.4) as clients send it: the UTF-8 bytes of the text, as curl and
 * browsers do. Node's own client writes a header string as Latin-1 or as UTF-8 depending on the
 * body that follows it, so these requests are written byte by byte on a socket. Every route that
 * takes the header (every change: POST, PUT, DELETE) is walked, from the route table.
 */
const takesTheHeader = apiRoutes.filter((route) => route.method !== 'get' && route.access !== 'public');

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One HTTP/1.1 request written as bytes: the header values go on the wire exactly as given. */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string | Buffer>, body?: unknown): Promise<RawAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
  const lines: Buffer[] = [Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`)];
  const all: Record<string, string | Buffer> = { ...headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}) };
  for (const [name, value] of Object.entries(all)) lines.push(Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n'));
  lines.push(Buffer.from('\r\n'));
  if (payload) lines.push(payload);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat(lines)));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks);
      const split = text.indexOf('\r\n\r\n');
      const head = text.subarray(0, split).toString('latin1').split('\r\n');
      const status = Number(head[0]!.split(' ')[1]);
      const answerHeaders = Object.fromEntries(
        head.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      let rest = text.subarray(split + 4);
      if (answerHeaders['transfer-encoding'] === 'chunked') {
        const parts: Buffer[] = [];
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const size = parseInt(rest.subarray(0, eol).toString(), 16);
          if (!size) break;
          parts.push(rest.subarray(eol + 2, eol + 2 + size));
          rest = rest.subarray(eol + 2 + size + 2);
        }
        rest = Buffer.concat(parts);
      }
      const bodyText = rest.toString('utf8');
      resolve({ status, headers: answerHeaders, body: bodyText === '' ? undefined : JSON.parse(bodyText) });
    });
  });
}

describeApi('X-Change-Reason as raw UTF-8 bytes (SPEC §7.4)', (ctx) => {
  let server: http.Server;
  let port: number;
  before(async () => {
    server = http.createServer(ctx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (method: string, path: string, options: { key?: string; reason?: string | Buffer; body?: unknown } = {}) =>
    rawRequest(
      port,
      method,
      path,
      {
        Authorization: `Bearer ${options.key ?? ADMIN_KEY}`,
        ...(options.reason === undefined ? {} : { 'X-Change-Reason': Buffer.isBuffer(options.reason) ? options.reason : Buffer.from(options.reason, 'utf8') }),
      },
      options.body,
    );

  it('a reason that is not UTF-8 answers 400 naming the header, on every route that takes it, with the other bad fields', async () => {
    expect(takesTheHeader.length).to.be.greaterThan(20);
    const notUtf8 = Buffer.from([0x67, 0x72, 0xfc, 0x6e]); // "grün" in Latin-1
    for (const route of takesTheHeader) {
      const name = `${route.method.toUpperCase()} ${route.path}`;
      const path = route.path.replace(/\{[^}]+\}/g, '1');
      const res = await send(route.method.toUpperCase(), path, { reason: notUtf8, ...(route.method === 'delete' ? {} : { body: { surpriseField: 1 } }) });
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.code, name).to.equal('validation-failed');
      expect(res.body.errors, name).to.deep.include({ path: 'header.X-Change-Reason', message: 'must be UTF-8 text' });
      if (route.method !== 'delete') expect(res.body.errors, name).to.deep.include({ path: 'body.surpriseField', message: 'unknown field' });
    }
  });

  it('a reason that is not UTF-8 changes nothing, even on a request that is otherwise right', async () => {
    const res = await send('POST', '/v1/bunits', { body: { code: 'HQ', name: 'Head office' }, reason: Buffer.from([0xe2, 0x80]) });
    expect(res.status).to.equal(400);
    expect(res.body.errors).to.deep.equal([{ path: 'header.X-Change-Reason', message: 'must be UTF-8 text' }]);
    expect((await ctx.get('/v1/bunits')).body.meta.total).to.equal(0);
  });

  it('is stored exactly as sent on every route that takes it, and returned so in the referral’s history and its change requests', async () => {
    const reasonOf = (operationId: string) => `grün – ✓ Größe 10 % → 12 % 🎉 (${operationId})`;
    const done: string[] = [];
    const ok = async (operationId: string, method: string, path: string, options: { key?: string; body?: unknown } = {}) => {
      const res = await send(method, path, { ...options, reason: reasonOf(operationId) });
      expect(res.status, `${operationId}: ${JSON.stringify(res.body)}`).to.be.within(200, 299);
      done.push(operationId);
      return res;
    };
    const hq = (await ok('createBusinessUnit', 'POST', '/v1/bunits', { body: { code: 'HQ', name: 'Head office' } })).body.id as number;
    const maker = await ctx.key('hq-maker', 'write', [hq]);
    await ok('updateBusinessUnit', 'PUT', `/v1/bunits/${hq}`, { body: { code: 'HQ', name: 'Head office ✓' } });
    const nordics = await createBunit(ctx, 'NORDICS');
    const spare = await createBunit(ctx, 'SPARE');
    const contractBody = { number: 'C-1', name: 'Fleet telematics', currency: 'EUR', startDate: '2026-01-01' };
    const contract = (await ok('createContract', 'POST', `/v1/bunits/${hq}/contracts`, { body: contractBody })).body.id as number;
    await ok('updateContract', 'PUT', `/v1/bunits/${hq}/contracts/${contract}`, { body: { ...contractBody, name: 'Fleet telematics – Nordics' } });
    const referralBody = { contract: { id: contract }, referrer: { id: nordics }, percentage: '10', billingStartDate: '2026-10-01' };
    const referral = (await ok('createReferral', 'POST', `/v1/bunits/${hq}/referrals`, { body: referralBody })).body.id as number;
    const referralPath = `/v1/bunits/${hq}/referrals/${referral}`;
    await ok('updateReferral', 'PUT', referralPath, { body: { ...referralBody, billingEndDate: '2027-09-30' } });

    const amend = async (percentage: string) => {
      const res = await send('POST', `${referralPath}/amendments`, { key: maker.secret, body: { percentage, reason: 'Agreed terms' }, reason: reasonOf('amendReferral') });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return res.body.id as number;
    };
    const crPath = (id: number, action = '') => `/v1/bunits/${hq}/change-requests/${id}${action}`;
    const first = await amend('11');
    done.push('amendReferral');
    const approved = await ok('approveChangeRequest', 'POST', crPath(first, '/approve'), { body: {} });
    expect(approved.body.decisionReason, 'the decision’s reason, when the body gives none').to.equal(reasonOf('approveChangeRequest'));
    const denied = await ok('denyChangeRequest', 'POST', crPath(await amend('12'), '/deny'), { body: { reason: 'Not agreed' } });
    expect(denied.body.decisionReason).to.equal('Not agreed');
    await ok('withdrawChangeRequest', 'POST', crPath(await amend('13'), '/withdraw'), { key: maker.secret });
    await ok('moderateChangeRequests', 'POST', `/v1/bunits/${hq}/change-requests/moderate`, { body: { approve: [await amend('14')] } });
    await ok('archiveReferral', 'DELETE', referralPath);

    const lines = await ok('ingestRevenue', 'POST', `/v1/bunits/${hq}/contracts/${contract}/revenue`, {
      body: { lines: [{ externalId: 'INV-1', amount: '100.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }, { externalId: 'INV-2', amount: '5.00', periodStart: '2026-10-01', periodEnd: '2026-10-01' }] },
    });
    const lineIds = (lines.body.data as { id: number }[]).map((l) => l.id);
    await ok('deleteRevenueLine', 'DELETE', `/v1/bunits/${hq}/contracts/${contract}/revenue/${lineIds[1]}`);
    await ok('runSettlement', 'POST', '/v1/settlement-runs', { body: { through: '2026-10-31' } });

    // After the run (SPEC §15): disputes, withdrawn and resolved (by the other party: four eyes), and the acceptance.
    const statement = (await ctx.get(`/v1/bunits/${hq}/statements?role=payer`)).body.data[0] as { id: number };
    const statementPath = `/v1/bunits/${hq}/statements/${statement.id}`;
    const lineId = (await ctx.get(statementPath)).body.lines[0].id as number;
    const dispute = async () =>
      (await ok('openDispute', 'POST', `${statementPath}/disputes`, { body: { lineIds: [lineId], reasonCode: 'wrong-revenue', comment: 'Cancelled ✓' } })).body.id as number;
    await ok('withdrawDispute', 'POST', `/v1/bunits/${hq}/disputes/${await dispute()}/withdraw`, { body: {} });
    const nordicsApprover = await ctx.key('nordics-approver', 'approver', [nordics]);
    await ok('resolveDispute', 'POST', `/v1/bunits/${nordics}/disputes/${await dispute()}/resolve`, {
      key: nordicsApprover.secret,
      body: { outcome: 'rejected', reason: 'The line is right.' },
    });
    await ok('acceptStatement', 'POST', `${statementPath}/accept`, { body: {} });

    // The month-end (SPEC §16): the close, a payment, a journal posted, the accounts.
    await ok('closePeriod', 'POST', '/v1/periods/2026-10/close', { body: {} });
    const netting = (await ctx.get(`/v1/bunits/${hq}/nettings?period=2026-10`)).body.data[0] as { id: number; amount: string };
    await ok('recordPayment', 'POST', `/v1/bunits/${hq}/nettings/${netting.id}/payments`, { body: { amount: netting.amount, paidDate: '2026-11-20', reference: 'PAY-1' } });
    const journal = (await ctx.get(`/v1/bunits/${hq}/journals?period=2026-10`)).body.data[0] as { id: number };
    await ok('postJournal', 'POST', `/v1/bunits/${hq}/journals/${journal.id}/post`, { body: { externalId: 'ERP-1' } });
    const accounts = { receivable: '1410', payable: '2410', income: '4800', expense: '6800', clearing: '1290' };
    await ok('setAccounts', 'PUT', `/v1/bunits/${hq}/accounts`, { body: accounts });
    await ok('archiveContract', 'DELETE', `/v1/bunits/${hq}/contracts/${contract}`);
    await ok('archiveBusinessUnit', 'DELETE', `/v1/bunits/${spare}`);

    const key = (await ok('createApiKey', 'POST', '/v1/api-keys', { body: { name: 'erp', role: 'read', bunitIds: [hq] } })).body.id as number;
    await ok('revokeApiKey', 'DELETE', `/v1/api-keys/${key}`);

    const endpoint = (await ok('createWebhookEndpoint', 'POST', '/v1/webhook-endpoints', { body: { url: 'https://93.184.216.34/hooks' } })).body.id as number;
    await ok('updateWebhookEndpoint', 'PUT', `/v1/webhook-endpoints/${endpoint}`, { body: { url: 'https://93.184.216.34/hooks', description: 'ERP ✓' } });
    await ok('rotateWebhookSecret', 'POST', `/v1/webhook-endpoints/${endpoint}/rotate-secret`);
    const event = (await ctx.db('events').orderBy('id').first()) as { id: number | string; type: string };
    await ctx.db.transaction((trx) => insertDeliveries(trx, [{ endpointId: endpoint, eventId: Number(event.id), eventType: event.type }], new Date().toISOString()));
    const delivery = (await ctx.get(`/v1/webhook-endpoints/${endpoint}/deliveries`)).body.data[0].id as number;
    await ok('retryWebhookDelivery', 'POST', `/v1/webhook-endpoints/${endpoint}/deliveries/${delivery}/retry`);
    await ok('recoverWebhookDeliveries', 'POST', `/v1/webhook-endpoints/${endpoint}/recover`, { body: { since: '2026-11-01T00:00:00Z' } });
    await ok('deleteWebhookEndpoint', 'DELETE', `/v1/webhook-endpoints/${endpoint}`);

    // Every route that takes the header was walked (a new one must be added here).
    expect([...new Set(done)].sort()).to.deep.equal(takesTheHeader.map((r) => r.operationId).sort());

    // Stored exactly: each operation's reason is in the audit trail, character for character.
    const stored = new Set(((await ctx.db('audit_events').select('reason')) as { reason: string | null }[]).map((r) => r.reason));
    for (const operationId of done) expect(stored.has(reasonOf(operationId)), operationId).to.equal(true);

    // Returned exactly: the referral's history and its change requests.
    const history = (await ctx.get(`${referralPath}/history?limit=200`)).body.data as { action: string; reason: string | null }[];
    const reasons = history.map((e) => `${e.action}: ${e.reason}`);
    for (const [action, operationId] of [
      ['create', 'createReferral'],
      ['update', 'updateReferral'],
      ['request-amend', 'amendReferral'],
      ['approve', 'approveChangeRequest'],
      ['deny', 'denyChangeRequest'],
      ['withdraw', 'withdrawChangeRequest'],
      ['approve', 'moderateChangeRequests'],
      ['archive', 'archiveReferral'],
    ] as const) {
      expect(reasons, operationId).to.include(`${action}: ${reasonOf(operationId)}`);
    }
    const approvedRequest = (await ctx.get(crPath(first))).body;
    expect(approvedRequest.decisionReason).to.equal(reasonOf('approveChangeRequest'));
  });
});
