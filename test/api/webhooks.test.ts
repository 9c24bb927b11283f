import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { WebhookDispatcher, type DeliveryOptions } from '../../src/services/webhook/dispatcher';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, expectProblem, referralBody } from '../helpers/fixtures';
import { metricsNow } from '../helpers/metrics';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver';

/**
 * Webhooks (SPEC §13) with a real receiver on 127.0.0.1 that verifies every delivery with the
 * `standardwebhooks` package. The app's own dispatcher is off in API suites; each test starts one
 * with a short retry schedule and a short poll, as an instance would run it.
 */

const SHORT = { retrySchedule: [0.05, 0.05], pollMs: 20 };

async function dispatcher(ctx: ApiContext, options: Partial<DeliveryOptions> = {}): Promise<WebhookDispatcher> {
  const worker = new WebhookDispatcher(ctx.services.ctx, { ...SHORT, policy: { allowHttp: true, allowPrivate: true }, ...options });
  worker.start();
  return worker;
}

async function subscribe(ctx: ApiContext, receiver: Receiver, body: Record<string, unknown> = {}) {
  const res = await ctx.post('/v1/webhook-endpoints', { url: receiver.url, ...body });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  receiver.secrets.push(res.body.secret as string);
  return res.body as { id: number; secret: string };
}

async function adminFeed(ctx: ApiContext) {
  return (await ctx.get('/v1/events?limit=1000')).body.data as { id: number; type: string }[];
}

describeApi('webhooks: delivery', (ctx) => {
  let receiver: Receiver;
  let worker: WebhookDispatcher | undefined;

  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await receiver.close();
  });

  it('delivers every change of a scenario once, verified, with the event as the feed shows it; a change that rolls back sends nothing', async () => {
    const endpoint = await subscribe(ctx, receiver);
    worker = await dispatcher(ctx);
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    await ctx.put(`/v1/bunits/${alice}`, { code: 'ALICE', name: 'Alice Sales' });
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    const referral = await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage: '60', billingStartDate: '2026-10-01' }));
    const bob = await createBunit(ctx, 'BOB');
    expectProblem(await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, bob, { percentage: '60', billingStartDate: '2026-10-01' })), 409, 'over-allocated');
    await ctx.put(`/v1/bunits/${owner}/referrals/${referral.body.id}`, referralBody(contract, alice, { percentage: '40', billingStartDate: '2026-10-01' }));
    await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'A', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }] });
    await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    const key = await ctx.key('reader', 'read', [owner]);
    await ctx.del(`/v1/api-keys/${key.id}`);
    await ctx.del(`/v1/bunits/${owner}/referrals/${referral.body.id}`);

    const feed = await adminFeed(ctx);
    expect(feed.map((e) => e.type)).to.deep.equal([
      'business_unit.created', 'business_unit.created', 'business_unit.updated', 'contract.created', 'referral.created', 'business_unit.created',
      'referral.updated', 'revenue.ingested', 'statement.created', 'settlement_run.completed', 'api_key.created', 'api_key.revoked', 'referral.archived',
    ]);
    await receiver.until(() => receiver.events().length >= feed.length, 15_000, 'every event');
    await new Promise((r) => setTimeout(r, 100));
    const events = receiver.events();
    expect(events.map((r) => Number(r.id))).to.deep.equal(feed.map((e) => e.id));
    const feedBody = (await ctx.get('/v1/events?limit=1000')).body.data as unknown[];
    events.forEach((r, i) => {
      expect(r.event).to.deep.equal(feedBody[i]);
      expect(r.id).to.equal(String(r.event.id));
      expect(Math.abs(Number(r.timestamp) - Date.now() / 1000)).to.be.lessThan(60);
    });
    expect(receiver.unverified).to.deep.equal([]);
    // Each was delivered by one attempt that succeeded, logged.
    const log = await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=200`);
    expect(log.body.meta.total).to.equal(feed.length);
    for (const d of log.body.data) {
      expect(d.status).to.equal('succeeded');
      expect(d.attempts).to.have.length(1);
      expect(d.attempts[0].httpStatus).to.equal(200);
    }
  });

  it('retries a receiver that fails twice and then answers 200: three attempts in the log, on the schedule', async () => {
    const endpoint = await subscribe(ctx, receiver);
    let calls = 0;
    receiver.respond = () => (++calls <= 2 ? { status: 503, body: 'busy, try later' } : { status: 200, body: 'ok' });
    const metrics = await metricsNow();
    worker = await dispatcher(ctx, { retrySchedule: [0.2, 0.2, 5] });
    const unit = await createBunit(ctx, 'UNIT');
    await receiver.until(() => calls >= 3, 10_000, 'the third attempt');
    await new Promise((r) => setTimeout(r, 100));
    // The metrics (SPEC §14): two attempts to be retried, one success and its lag.
    const delta = await metrics.since();
    expect(delta('webhook_deliveries_total{outcome="retrying"}')).to.equal(2);
    expect(delta('webhook_deliveries_total{outcome="succeeded"}')).to.equal(1);
    expect(delta('webhook_delivery_lag_seconds_count')).to.equal(1);
    const log = (await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body;
    expect(log.data).to.have.length(1);
    const d = log.data[0];
    expect(d.status).to.equal('succeeded');
    expect(d.attemptCount).to.equal(3);
    expect(d.attempts.map((a: { httpStatus: number }) => a.httpStatus)).to.deep.equal([503, 503, 200]);
    expect(d.attempts[0].response).to.equal('busy, try later');
    const gaps = [1, 2].map((i) => Date.parse(d.attempts[i].attemptedDate) - Date.parse(d.attempts[i - 1].attemptedDate));
    for (const gap of gaps) expect(gap).to.be.at.least(190);
    expect(receiver.events().map((r) => r.event.data.id)).to.deep.equal([unit]);
    expect((await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed`)).body.meta.total).to.equal(0);
  });

  it('marks a delivery failed once the schedule is used up, and sends it again on retry and on recover', async () => {
    const endpoint = await subscribe(ctx, receiver);
    let failing = true;
    receiver.respond = () => (failing ? { status: 500 } : { status: 204 });
    worker = await dispatcher(ctx);
    await createBunit(ctx, 'ONE');
    await createBunit(ctx, 'TWO');
    const failed = async () => (await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed`)).body;
    await receiver.until(() => receiver.requests.length >= 6, 10_000, 'three attempts of each');
    for (let i = 0; i < 50 && (await failed()).meta.total < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const both = await failed();
    expect(both.data.map((d: { attemptCount: number }) => d.attemptCount)).to.deep.equal([3, 3]);
    expect((await ctx.get(`/v1/webhook-endpoints/${endpoint.id}`)).body.failingSinceDate).to.be.a('string');

    failing = false;
    const retried = await ctx.post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${both.data[0].id}/retry`);
    expect(retried.status).to.equal(202);
    expect(retried.body.status).to.equal('pending');
    await receiver.until(() => receiver.requests.length >= 7, 10_000, 'the retry');
    const recovered = await ctx.post(`/v1/webhook-endpoints/${endpoint.id}/recover`, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(recovered.status).to.equal(202);
    expect(recovered.body.recovered).to.equal(1);
    await receiver.until(() => receiver.requests.length >= 8, 10_000, 'the recovery');
    await new Promise((r) => setTimeout(r, 100));
    const all = (await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.data;
    expect(all.map((d: { status: string; attemptCount: number }) => [d.status, d.attemptCount])).to.deep.equal([['succeeded', 4], ['succeeded', 4]]);
    expect((await ctx.get(`/v1/webhook-endpoints/${endpoint.id}`)).body.failingSinceDate).to.equal(null);
    expect((await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?eventId=${all[1].eventId}`)).body.data.map((d: { id: number }) => d.id)).to.deep.equal([all[1].id]);
    expectProblem(await ctx.post(`/v1/webhook-endpoints/${endpoint.id}/deliveries/999/retry`), 404, 'not-found');
  });

  it('signs with both secrets for the 24 hours after a rotation: each verifies on its own', async () => {
    const endpoint = await subscribe(ctx, receiver);
    const rotated = await ctx.post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).to.equal(200);
    expect(rotated.body.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.body.secret).to.not.equal(endpoint.secret);
    expect(Date.parse(rotated.body.previousSecretExpiresDate) - Date.now()).to.be.within(23.9 * 3600e3, 24.1 * 3600e3);
    receiver.secrets.push(rotated.body.secret);
    worker = await dispatcher(ctx);
    await createBunit(ctx, 'UNIT');
    await receiver.until(() => receiver.events().length === 1, 10_000, 'the delivery');
    const [received] = receiver.events();
    expect(received!.signatures).to.have.length(2);
    expect(received!.verifiedBy).to.deep.equal([0, 1]);
    for (const secret of [endpoint.secret, rotated.body.secret]) {
      expect(() => new Webhook(secret).verify(received!.body, { 'webhook-id': received!.id, 'webhook-timestamp': received!.timestamp, 'webhook-signature': received!.signatures.join(' ') })).to.not.throw();
    }
  });

  it('sends each endpoint the events it subscribed to (types, business units), in sequence order, and none from before it existed', async () => {
    const a = await createBunit(ctx, 'AAA');
    const b = await createBunit(ctx, 'BBB');
    const other = await startReceiver();
    try {
      await subscribe(ctx, receiver, { eventTypes: ['business_unit.updated'] });
      await subscribe(ctx, other, { bunitIds: [b] });
      worker = await dispatcher(ctx);
      for (let i = 0; i < 5; i++) {
        await ctx.put(`/v1/bunits/${a}`, { code: 'AAA', name: `A ${i}` });
        await ctx.put(`/v1/bunits/${b}`, { code: 'BBB', name: `B ${i}` });
      }
      await createContract(ctx, b, { number: 'C-B' });
      await ctx.key('admin-2', 'admin');
      await receiver.until(() => receiver.events().length >= 10, 10_000, 'the updates');
      await other.until(() => other.events().length >= 6, 10_000, 'the events of BBB');
      await new Promise((r) => setTimeout(r, 150));
      expect(receiver.events().map((r) => r.event.type)).to.deep.equal(Array(10).fill('business_unit.updated'));
      expect(other.events().map((r) => r.event.type)).to.deep.equal([...Array(5).fill('business_unit.updated'), 'contract.created']);
      for (const r of [receiver, other]) {
        const ids = r.requests.map((x) => Number(x.id));
        expect(ids).to.deep.equal([...ids].sort((x, y) => x - y));
      }
    } finally {
      await other.close();
    }
  });

  it('disables an endpoint that has failed every delivery for the disable period, with a webhook_endpoint.disabled event', async () => {
    const endpoint = await subscribe(ctx, receiver);
    const watcher = await startReceiver();
    try {
      await subscribe(ctx, watcher, { eventTypes: ['webhook_endpoint.disabled'] });
      receiver.respond = () => ({ status: 500 });
      worker = await dispatcher(ctx, { retrySchedule: [0.05, 0.05, 0.05, 0.05, 0.05, 0.05], disableAfterMs: 150 });
      await createBunit(ctx, 'UNIT');
      await watcher.until(() => watcher.events().length === 1, 10_000, 'the disabled event');
      const [disabled] = watcher.events();
      const shown = (await ctx.get(`/v1/webhook-endpoints/${endpoint.id}`)).body;
      expect(shown.enabled).to.equal(false);
      expect(shown.disabledDate).to.be.a('string');
      expect(disabled!.event.data).to.deep.equal({ ...shown });
      expect(disabled!.event.bunitIds).to.deep.equal([]);
      const attempts = receiver.requests.length;
      await createBunit(ctx, 'LATER');
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.requests.length).to.equal(attempts);
      // Enabled again, it gets what is committed from then on.
      receiver.respond = () => ({ status: 200 });
      const enabled = await ctx.put(`/v1/webhook-endpoints/${endpoint.id}`, { url: receiver.url, enabled: true });
      expect(enabled.body.enabled).to.equal(true);
      const third = await createBunit(ctx, 'THIRD');
      await receiver.until(() => receiver.requests.some((r) => r.event.data.id === third), 10_000, 'the event after enabling');
    } finally {
      await watcher.close();
    }
  });

  it('does not follow a redirect: a 3xx is a failed attempt, and the target is never called', async () => {
    const target = await startReceiver();
    try {
      const endpoint = await subscribe(ctx, receiver);
      target.secrets.push(endpoint.secret);
      receiver.respond = () => ({ status: 307, headers: { Location: target.url } });
      worker = await dispatcher(ctx, { retrySchedule: [] });
      await createBunit(ctx, 'UNIT');
      await receiver.until(() => receiver.requests.length === 1, 10_000, 'the attempt');
      await new Promise((r) => setTimeout(r, 200));
      const [d] = (await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.data;
      expect([d.status, d.attempts[0].httpStatus]).to.deep.equal(['failed', 307]);
      expect(target.requests).to.have.length(0);
    } finally {
      await target.close();
    }
  });

  it('refuses, when sending, an address that is not public unless WEBHOOK_ALLOW_PRIVATE, and logs why', async () => {
    const endpoint = await subscribe(ctx, receiver);
    worker = await dispatcher(ctx, { policy: { allowHttp: true, allowPrivate: false }, retrySchedule: [] });
    await createBunit(ctx, 'UNIT');
    let log: { data: { status: string; attempts: { error: string | null; httpStatus: number | null }[] }[] } = { data: [] };
    for (let i = 0; i < 100 && log.data[0]?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = (await ctx.get(`/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body;
    }
    expect(log.data[0]!.status).to.equal('failed');
    expect(log.data[0]!.attempts[0]!.httpStatus).to.equal(null);
    expect(log.data[0]!.attempts[0]!.error).to.match(/refused: 127\.0\.0\.1 is a loopback address/);
    expect(receiver.requests).to.have.length(0);
  });

  it('hands back its claims when it stops, and another dispatcher delivers what is left, in order', async () => {
    await subscribe(ctx, receiver);
    receiver.respond = () => ({ status: 200, delayMs: 30 });
    for (let i = 0; i < 20; i++) await createBunit(ctx, `U-${i}`);
    worker = await dispatcher(ctx, { batch: 5 });
    await receiver.until(() => receiver.requests.length >= 3, 10_000, 'some deliveries');
    await worker.stop();
    const sent = receiver.requests.length;
    expect(sent).to.be.lessThan(20);
    worker = await dispatcher(ctx);
    await receiver.until(() => receiver.events().length === 20, 10_000, 'every event');
    const ids = receiver.events().map((r) => Number(r.id));
    expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
    expect(receiver.requests.length).to.equal(20);
  });
}, { webhooks: { allowHttp: true, allowPrivate: true } });

describeApi('webhooks: a change request and its decision', (ctx) => {
  it('delivers the request and the decision (maker-checker)', async () => {
    const receiver = await startReceiver();
    const hq = await createBunit(ctx, 'HQ');
    const nordics = await createBunit(ctx, 'NORDICS');
    const contract = await createContract(ctx, hq, { number: 'C-1' });
    const maker = ctx.as((await ctx.key('maker', 'write', [hq])).secret);
    const checker = ctx.as((await ctx.key('checker', 'approver', [hq])).secret);
    await subscribe(ctx, receiver, { bunitIds: [nordics] });
    const worker = await dispatcher(ctx);
    try {
      const created = await maker.post(`/v1/bunits/${hq}/referrals`, referralBody(contract, nordics, { billingStartDate: '2026-10-01' }));
      expect((await checker.post(`/v1/bunits/${hq}/change-requests/${created.body.pendingChange.id}/approve`, { reason: 'Signed' })).status).to.equal(200);
      await receiver.until(() => receiver.events().length >= 4, 10_000, 'four events');
      const events = receiver.events().map((r) => r.event);
      expect(events.map((e) => e.type)).to.deep.equal(['referral.created', 'change_request.created', 'referral.approved', 'change_request.approved']);
      expect(events[3]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${hq}/change-requests/${created.body.pendingChange.id}`)).body);
      expect(events[3]!.data.decisionReason).to.equal('Signed');
      expect(events[2]!.data).to.deep.equal((await ctx.get(`/v1/bunits/${hq}/referrals/${created.body.id}`)).body);
    } finally {
      await worker.stop();
      await receiver.close();
    }
  });
}, { approvalMode: 'maker-checker', webhooks: { allowHttp: true, allowPrivate: true } });

describeApi('webhooks: endpoints', (ctx) => {
  const refused = [
    ['http://erp.example.com/hook', /only https URLs/],
    ['ftp://erp.example.com/hook', /only https URLs/],
    ['https://127.0.0.1/hook', /loopback/],
    ['https://127.8.9.10:8443/hook', /loopback/],
    ['https://localhost/hook', /loopback/],
    ['https://[::1]/hook', /loopback/],
    ['https://10.1.2.3/hook', /private/],
    ['https://172.16.0.9/hook', /private/],
    ['https://192.168.1.20/hook', /private/],
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://[fe80::1]/hook', /link-local/],
    ['https://[fd00:ec2::254]/hook', /unique local/],
    ['https://[fc00::5]/hook', /unique local/],
    ['https://[::ffff:127.0.0.1]/hook', /127\.0\.0\.1 is a loopback/],
    ['https://[::ffff:a9fe:a9fe]/hook', /169\.254\.169\.254 is a link-local/],
    ['https://[::127.0.0.1]/hook', /127\.0\.0\.1 is a loopback/],
    ['https://[::a9fe:a9fe]/hook', /169\.254\.169\.254 is a link-local/],
    ['https://[64:ff9b::a9fe:a9fe]/hook', /169\.254\.169\.254 is a link-local/],
    ['https://[2002:7f00:1::1]/hook', /127\.0\.0\.1 is a loopback/],
    ['https://0.0.0.0/hook', /unspecified/],
    ['https://100.100.100.200/hook', /carrier-grade NAT/],
    ['https://user:pass@93.184.216.34/hook', /user name or password/],
    ['https://no-such-host.invalid/hook', /does not resolve/],
  ] as const;

  it('refuses URLs that are not https or do not resolve to public addresses with 422 invalid-webhook-url, on create and on change', async () => {
    for (const [url, why] of refused) {
      const res = await ctx.post('/v1/webhook-endpoints', { url });
      expectProblem(res, 422, 'invalid-webhook-url');
      expect(res.body.detail, url).to.match(why);
      expect(res.body.errors).to.deep.equal([{ path: 'body.url', message: 'must be a public https URL' }]);
    }
    expect((await ctx.get('/v1/webhook-endpoints')).body.meta.total).to.equal(0);
    const ok = await ctx.post('/v1/webhook-endpoints', { url: 'https://93.184.216.34/hooks', description: 'ERP' });
    expect(ok.status).to.equal(201);
    expect(ok.headers.location).to.equal(`/v1/webhook-endpoints/${ok.body.id}`);
    expectProblem(await ctx.put(`/v1/webhook-endpoints/${ok.body.id}`, { url: 'https://[::1]/hooks' }), 422, 'invalid-webhook-url');
    expectProblem(await ctx.post('/v1/webhook-endpoints', { url: 'not a url' }), 400, 'validation-failed');
  });

  it('shows the secret once: not in GET, list, nor an idempotent replay; manages the endpoint with PUT and DELETE', async () => {
    const unit = await createBunit(ctx, 'UNIT');
    const body = { url: 'https://93.184.216.34/hooks', eventTypes: ['statement.created'], bunitIds: [unit] };
    const first = await ctx.post('/v1/webhook-endpoints', body).set('Idempotency-Key', 'endpoint-1');
    expect(first.status).to.equal(201);
    expect(first.body.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(first.body.secret.slice(6), 'base64')).to.have.length(32);
    const replay = await ctx.post('/v1/webhook-endpoints', body).set('Idempotency-Key', 'endpoint-1');
    expect(replay.headers['idempotent-replayed']).to.equal('true');
    expect(replay.body).to.not.have.property('secret');
    const stored = await ctx.db('idempotency_keys').select('*');
    expect(JSON.stringify(stored)).to.not.include(first.body.secret);
    const got = await ctx.get(`/v1/webhook-endpoints/${first.body.id}`);
    expect(got.body).to.deep.equal(replay.body);
    expect(JSON.stringify((await ctx.get('/v1/webhook-endpoints')).body)).to.not.include('whsec_');
    expect(JSON.stringify(await ctx.db('audit_events').select('*'))).to.not.include('whsec_');

    const put = await ctx.put(`/v1/webhook-endpoints/${first.body.id}`, { ...got.body, description: 'ERP', enabled: false });
    expect(put.status).to.equal(200);
    expect([put.body.description, put.body.enabled, put.body.eventTypes, put.body.bunitIds]).to.deep.equal(['ERP', false, ['statement.created'], [unit]]);
    expect(put.body.disabledDate).to.be.a('string');
    expectProblem(await ctx.put(`/v1/webhook-endpoints/${first.body.id}`, { url: body.url, bunitIds: [999] }), 422, 'invalid-reference');
    expectProblem(await ctx.put(`/v1/webhook-endpoints/${first.body.id}`, { url: body.url, eventTypes: ['referral.deleted'] }), 400, 'validation-failed');
    expect((await ctx.del(`/v1/webhook-endpoints/${first.body.id}`)).status).to.equal(204);
    expectProblem(await ctx.get(`/v1/webhook-endpoints/${first.body.id}`), 404, 'not-found');
    expectProblem(await ctx.get(`/v1/webhook-endpoints/${first.body.id}/deliveries`), 404, 'not-found');
  });

  it('answers 403 to keys that are not admin on every webhook operation', async () => {
    const unit = await createBunit(ctx, 'UNIT');
    const ok = await ctx.post('/v1/webhook-endpoints', { url: 'https://93.184.216.34/hooks' });
    const id = ok.body.id as number;
    for (const role of ['read', 'write', 'approver'] as const) {
      const agent = ctx.as((await ctx.key(`${role}-key`, role, [unit])).secret);
      const calls = [
        agent.post('/v1/webhook-endpoints', { url: 'https://93.184.216.34/hooks' }),
        agent.get('/v1/webhook-endpoints'),
        agent.get(`/v1/webhook-endpoints/${id}`),
        agent.put(`/v1/webhook-endpoints/${id}`, { url: 'https://93.184.216.34/hooks' }),
        agent.del(`/v1/webhook-endpoints/${id}`),
        agent.post(`/v1/webhook-endpoints/${id}/rotate-secret`),
        agent.get(`/v1/webhook-endpoints/${id}/deliveries`),
        agent.post(`/v1/webhook-endpoints/${id}/deliveries/1/retry`),
        agent.post(`/v1/webhook-endpoints/${id}/recover`, { since: '2026-11-01T00:00:00Z' }),
      ];
      for (const res of await Promise.all(calls)) expectProblem(res, 403, 'forbidden');
    }
    expect((await ctx.get(`/v1/webhook-endpoints/${id}`)).status).to.equal(200);
  });
});
