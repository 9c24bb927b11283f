import { expect } from 'chai';
import { WebhookDispatcher, type DeliveryOptions } from '../../src/services/webhook/dispatcher';
import { ADMIN_KEY, describeApi, type ApiContext } from '../helpers/api';
import { createBunit } from '../helpers/fixtures';
import { startServer, type ServerProcess } from '../helpers/server-process';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver';

/**
 * Webhook deliveries claimed through the database (issue 22, SPEC §13): slow receivers get each
 * event exactly once and in order, with one instance or two (server processes, or dispatchers of
 * one process), whatever the lease; receivers that hang do not hold back a healthy one; a killed
 * instance's endpoint is taken over once its lease has run out, and not before. Bounds are
 * generous: these tests assert that deliveries happen, latency belongs to the bench.
 */
const serverEnv = (url: string, extra: Record<string, string> = {}) => ({
  DATABASE_URL: url,
  ADMIN_API_KEY: ADMIN_KEY,
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_POLL_INTERVAL_MS: '50',
  ...extra,
});

const POLICY = { allowHttp: true, allowPrivate: true };

function dispatcher(ctx: ApiContext, options: Partial<DeliveryOptions> = {}): WebhookDispatcher {
  const worker = new WebhookDispatcher(ctx.services.ctx, { retrySchedule: [5], policy: POLICY, pollMs: 50, ...options });
  worker.start();
  return worker;
}

async function subscribe(ctx: ApiContext, receiver: Receiver, url = receiver.url): Promise<number> {
  const res = await ctx.post('/v1/webhook-endpoints', { url });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  receiver.secrets.push(res.body.secret as string);
  return res.body.id as number;
}

/** Every event of the feed, in sequence order. */
async function feedIds(ctx: ApiContext): Promise<number[]> {
  return ((await ctx.get('/v1/events?limit=1000')).body.data as { id: number }[]).map((e) => e.id);
}

/** Exactly one request per event, in sequence order, and a delivery log of one successful attempt each. */
async function expectExactlyOnce(ctx: ApiContext, receiver: Receiver, endpointId: number, events: number[]) {
  expect(receiver.unverified).to.have.length(0);
  expect(receiver.requests.map((r) => Number(r.id)), 'one request per event, in order').to.deep.equal(events);
  const log = (await ctx.get(`/v1/webhook-endpoints/${endpointId}/deliveries?limit=200`)).body.data as { attemptCount: number; status: string }[];
  expect(log.map((d) => [d.status, d.attemptCount])).to.deep.equal(events.map(() => ['succeeded', 1]));
}

describeApi('webhook deliveries claimed through the database (issue 22)', (ctx) => {
  const servers: ServerProcess[] = [];
  const workers: WebhookDispatcher[] = [];
  const receivers: Receiver[] = [];

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  }

  afterEach(async () => {
    // Receivers first: an attempt still waiting for one ends at once, so that the workers stop quickly.
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it('two server processes and a receiver that answers after 1.6 s: each endpoint gets every event exactly once, in order', async function () {
    this.timeout(180_000);
    const [first, second] = [await receiver(), await receiver()];
    for (const r of [first, second]) r.respond = () => ({ status: 200, delayMs: 1600 });
    const endpoints = [await subscribe(ctx, first), await subscribe(ctx, second)];
    servers.push(...(await Promise.all([startServer(serverEnv(ctx.url)), startServer(serverEnv(ctx.url))])));
    // 22 × 1.6 s: longer than the default 30 s lease, so that a lease not renewed while sending would show.
    for (let i = 0; i < 22; i++) await createBunit(ctx, `SLOW-${i}`);
    const events = await feedIds(ctx);
    expect(events).to.have.length(22);
    for (const r of [first, second]) await r.until(() => r.events().length === events.length, 120_000, 'every event');
    // Long enough for an attempt made twice to show.
    await new Promise((r) => setTimeout(r, 2500));
    await expectExactlyOnce(ctx, first, endpoints[0]!, events);
    await expectExactlyOnce(ctx, second, endpoints[1]!, events);
  });

  it('a 5 s lease and a receiver that answers after 400 ms, on two dispatchers: every event exactly once, in order (the leases are renewed while they send)', async function () {
    this.timeout(120_000);
    const r = await receiver();
    r.respond = () => ({ status: 200, delayMs: 400 });
    const endpointId = await subscribe(ctx, r);
    for (let i = 0; i < 20; i++) await createBunit(ctx, `LEASE-${i}`);
    const events = await feedIds(ctx);
    workers.push(dispatcher(ctx, { leaseMs: 5000 }), dispatcher(ctx, { leaseMs: 5000 }));
    // 20 × 400 ms: longer than the lease, sent by whichever instance holds the endpoint.
    await r.until(() => r.events().length === events.length, 60_000, 'every event');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await expectExactlyOnce(ctx, r, endpointId, events);
  });

  it('20 endpoints whose receiver never answers do not hold back a healthy one: each of its events is delivered while they hang', async function () {
    this.timeout(120_000);
    const hanging = await receiver();
    hanging.respond = () => ({ status: 200, delayMs: 120_000 });
    for (let i = 0; i < 20; i++) await subscribe(ctx, hanging, `${hanging.url}?endpoint=${i}`);
    // The healthy endpoint is the last one created: claimed by id, it would come last.
    const healthy = await receiver();
    const healthyId = await subscribe(ctx, healthy);
    workers.push(dispatcher(ctx));
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(await createBunit(ctx, `BUSY-${i}`));
      // Generous: well under the 15 s an attempt to a hanging receiver lasts.
      await healthy.until(() => healthy.events().length === sent.length, 10_000, `event ${i + 1} at the healthy endpoint`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(healthy.events().map((r) => r.event.data.id)).to.deep.equal(sent);
    expect(healthy.requests).to.have.length(sent.length);
    // Meanwhile every hanging endpoint was being tried: the healthy one did not win by leaving them out.
    const tried = new Set(hanging.requests.map((r) => r.event.id));
    expect(tried.size).to.be.greaterThan(0);
    const inFlight = await ctx.db('webhook_endpoints').whereNot({ id: healthyId }).whereNotNull('lease_owner').count({ n: '*' }).first();
    expect(Number(inFlight?.n), 'hanging endpoints held while their receiver hangs').to.be.greaterThan(0);
  });

  it('an instance killed with SIGKILL while it sends: its endpoint is taken over once the lease has run out, not before, and every event arrives in order', async function () {
    this.timeout(120_000);
    const r = await receiver();
    r.respond = () => ({ status: 200, delayMs: 500 });
    const endpointId = await subscribe(ctx, r);
    for (let i = 0; i < 8; i++) await createBunit(ctx, `KILL-${i}`);
    const events = await feedIds(ctx);
    const doomed = await startServer(serverEnv(ctx.url, { WEBHOOK_LEASE_SECONDS: '3' }));
    servers.push(doomed);
    await r.until(() => r.requests.length >= 2, 60_000, 'the first deliveries');
    doomed.child.kill('SIGKILL');
    await doomed.stop();
    const killedAt = r.requests.length;
    const held = await ctx.db('webhook_endpoints').select('lease_owner', 'lease_until').where({ id: endpointId }).first();
    expect(held.lease_owner, 'the killed instance held the endpoint').to.be.a('string');
    const leaseEnd = new Date(held.lease_until).getTime();

    workers.push(dispatcher(ctx, { leaseMs: 3000 }));
    await r.until(() => r.events().length === events.length, 60_000, 'every event after the takeover');
    const after = r.requests.slice(killedAt);
    expect(after.length).to.be.greaterThan(0);
    for (const request of after) expect(request.receivedAt, 'nothing sent before the lease ran out').to.be.at.least(leaseEnd);
    expect(r.events().map((e) => Number(e.id)), 'first arrivals in order').to.deep.equal(events);
    // At least once: only the attempt in flight when the instance died may come twice.
    expect(r.requests.length).to.be.at.most(events.length + 1);
  });
}, { webhooks: { allowHttp: true, allowPrivate: true } });
