import { expect } from 'chai';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { startServer, type ServerProcess } from '../helpers/server-process';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver';

/**
 * The events feed and the webhooks with several instances on one database (SPEC §13): two real
 * server processes (on SQLite, sharing one file), both writing and both delivering, a consumer
 * tailing the feed while changes commit through both, and an instance killed in the middle of
 * its deliveries.
 */
const env = (url: string, extra: Record<string, string> = {}) => ({
  DATABASE_URL: url,
  ADMIN_API_KEY: ADMIN_KEY,
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_POLL_INTERVAL_MS: '50',
  WEBHOOK_RETRY_SCHEDULE: '0.1,0.1,0.1',
  ...extra,
});

const call = async (server: ServerProcess, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, any> };
};

describeApi('events and webhooks on two instances', (ctx) => {
  const servers: ServerProcess[] = [];
  let receiver: Receiver;

  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await receiver.close();
  });

  async function subscribe() {
    const res = await ctx.post('/v1/webhook-endpoints', { url: receiver.url });
    expect(res.status).to.equal(201);
    receiver.secrets.push(res.body.secret);
    return res.body.id as number;
  }

  it('with writers on both and a consumer tailing GET /v1/events, the consumer sees every committed change once, in sequence order, and each is delivered once', async function () {
    this.timeout(120_000);
    const endpointId = await subscribe();
    const [a, b] = await Promise.all([startServer(env(ctx.url)), startServer(env(ctx.url))]);
    servers.push(a!, b!);

    // Writers: each creates units and renames them; every fourth create repeats a code (409, rolled back).
    const committed: { type: string; id: number }[] = [];
    const writer = async (server: ServerProcess, name: string) => {
      for (let i = 0; i < 25; i++) {
        const code = i % 4 === 3 ? `${name}-${i - 1}` : `${name}-${i}`;
        const created = await call(server, 'POST', '/v1/bunits', { code, name: code });
        if (created.status === 409) continue;
        expect(created.status, JSON.stringify(created.body)).to.equal(201);
        committed.push({ type: 'business_unit.created', id: created.body.id });
        const renamed = await call(server, 'PUT', `/v1/bunits/${created.body.id}`, { code, name: `${code} renamed` });
        expect(renamed.status).to.equal(200);
        committed.push({ type: 'business_unit.updated', id: created.body.id });
      }
    };
    let writing = true;
    const seen: { sequence: number; type: string; data: { id: number } }[] = [];
    const consumer = async () => {
      let after = 0;
      for (let turn = 0; ; turn++) {
        const done = !writing;
        const server = turn % 2 === 0 ? a! : b!;
        const page = await call(server, 'GET', `/v1/events?after=${after}&limit=7`);
        expect(page.status).to.equal(200);
        for (const e of page.body.data) seen.push(e);
        after = page.body.meta.next;
        if (done && page.body.data.length === 0) return;
        if (page.body.data.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
    };
    const tail = consumer();
    await Promise.all([writer(a!, 'A1'), writer(a!, 'A2'), writer(b!, 'B1'), writer(b!, 'B2')]);
    writing = false;
    await tail;

    const sequences = seen.map((e) => e.sequence);
    expect(sequences).to.deep.equal(sequences.map((_, i) => i + 1));
    expect(seen.map((e) => `${e.type}:${e.data.id}`)).to.have.members(committed.map((c) => `${c.type}:${c.id}`));
    expect(seen).to.have.length(committed.length);

    await receiver.until(() => receiver.events().length === committed.length, 60_000, 'every event delivered');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.unverified).to.have.length(0);
    // Two instances delivered, and never made the same attempt: one request per event, in order.
    expect(receiver.requests.map((r) => Number(r.id))).to.deep.equal(sequences);
    const log = await ctx.get(`/v1/webhook-endpoints/${endpointId}/deliveries?limit=200`);
    expect(log.body.data.every((d: { attemptCount: number; status: string }) => d.attemptCount === 1 && d.status === 'succeeded')).to.equal(true);
  });

  it('an instance killed with SIGKILL in the middle of its deliveries: after a restart every event is delivered', async function () {
    this.timeout(120_000);
    await subscribe();
    receiver.respond = () => ({ status: 200, delayMs: 25 });
    const first = await startServer(env(ctx.url, { WEBHOOK_LEASE_SECONDS: '2' }));
    servers.push(first);
    const created: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await call(first, 'POST', '/v1/bunits', { code: `UNIT-${i}`, name: `Unit ${i}` }).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${first.output()}`);
      });
      expect(res.status).to.equal(201);
      created.push(res.body.id);
    }
    await receiver.until(() => receiver.requests.length >= 5, 30_000, 'the first deliveries');
    first.child.kill('SIGKILL');
    await first.stop();
    const before = receiver.events().length;
    expect(before).to.be.lessThan(40);

    const second = await startServer(env(ctx.url, { WEBHOOK_LEASE_SECONDS: '2' }));
    servers.push(second);
    await receiver.until(() => receiver.events().length === 40, 60_000, 'every event after the restart');
    expect(receiver.events().map((r) => r.event.data.id)).to.deep.equal(created);
    expect(receiver.unverified).to.have.length(0);
  });
}, { webhooks: { allowHttp: true, allowPrivate: true } });
