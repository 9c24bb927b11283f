import fs from 'node:fs';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config';
import { registry } from '../../src/metrics';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { createReferral, world } from '../helpers/fixtures';
import { metricsNow, samples } from '../helpers/metrics';
import { freePort, startServer, type ServerProcess } from '../helpers/server-process';

/** The TCP ports a process listens on, from /proc (its socket inodes among the listening sockets). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const row of fs.readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // local address (hex ip:port), state 0A = LISTEN, inode
      if (cols[3] === '0A' && inodes.has(cols[9]!)) ports.add(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

describe('METRICS_PORT (SPEC §8, §14)', () => {
  it('defaults to 9464, takes 0 for off, and refuses what is not a port', () => {
    expect(loadConfig({}).metricsPort).to.equal(9464);
    expect(loadConfig({ METRICS_PORT: '0' }).metricsPort).to.equal(0);
    expect(loadConfig({ METRICS_PORT: '9100' }).metricsPort).to.equal(9100);
    for (const bad of ['abc', '-1', '65536', '1.5']) {
      expect(() => loadConfig({ METRICS_PORT: bad }), bad).to.throw(ConfigError, /METRICS_PORT/);
    }
  });
});

describeApi('Prometheus metrics (SPEC §14)', (ctx) => {
  describe('the listener of a running server', function () {
    this.timeout(60_000);
    let server: ServerProcess;
    let metricsPort: number;

    before(async () => {
      metricsPort = await freePort();
      server = await startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY, METRICS_PORT: String(metricsPort) });
    });
    after(async () => server?.stop());

    const call = (method: string, path: string) =>
      fetch(`${server.url}${path}`, { method, headers: { Authorization: `Bearer ${ADMIN_KEY}` } }).then((r) => r.status);

    it('answers Prometheus text on its own port, with requests counted per route template, method and status', async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice);
      const before = samples(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
      const count = (labels: string) => `http_request_duration_seconds_count{method=${labels}}`;

      expect(await call('GET', `/v1/bunits/${owner}/referrals/${referral.id}`)).to.equal(200);
      expect(await call('GET', `/v1/bunits/${alice}/referrals/${referral.id}`)).to.equal(200);
      expect(await call('GET', `/v1/bunits/${owner}/referrals/99999`)).to.equal(404);
      expect(await call('PATCH', `/v1/bunits/${owner}`)).to.equal(405);
      expect(await call('GET', '/v1/no-such-thing/1')).to.equal(404);
      expect(await call('GET', '/no/such/page')).to.equal(404);
      expect(await call('GET', '/healthz')).to.equal(200);
      expect(await call('GET', '/metrics'), 'not on the API’s port').to.equal(404);

      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const after = samples(text);
      const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

      const referralRoute = '/v1/bunits/{bunitId}/referrals/{referralId}';
      expect(delta(count(`"GET",route="${referralRoute}",status="200"`))).to.equal(2);
      expect(delta(count(`"GET",route="${referralRoute}",status="404"`))).to.equal(1);
      expect(delta(count('"PATCH",route="/v1/bunits/{bunitId}",status="405"'))).to.equal(1);
      expect(delta(count('"GET",route="unmatched",status="404"')), 'one label for every unmatched path').to.equal(3);
      expect(delta(count('"GET",route="/healthz",status="200"'))).to.equal(1);
      expect(after.get(`http_request_duration_seconds_bucket{le="+Inf",method="GET",route="${referralRoute}",status="200"}`)).to.be.at.least(2);
      expect(text, 'never a raw URL as a label').not.to.match(/route="[^"]*\/\d/);

      for (const name of ['settlement_run_duration_seconds', 'settlement_lines_total', 'events_published_total', 'webhook_deliveries_total', 'webhook_delivery_lag_seconds']) {
        expect(text, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
      }
      expect(after.get('settlement_lines_total{kind="share"}')).to.equal(0);
      expect(after.get('settlement_lines_total{kind="adjustment"}')).to.equal(0);
      // The database pool and the process defaults.
      for (const state of ['used', 'free', 'pending_acquires', 'pending_creates']) expect(after.has(`db_pool_connections{state="${state}"}`), state).to.equal(true);
      expect(after.get('db_pool_max_connections')).to.equal(ctx.database === 'postgres' ? 10 : 1);
      for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
        expect(after.has(name), name).to.equal(true);
      }
    });

    it('answers 404 beside /metrics, and listens on exactly the API port and the metrics port', async () => {
      expect((await fetch(`http://127.0.0.1:${metricsPort}/`)).status).to.equal(404);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status).to.equal(405);
      expect(listeningPorts(server.child.pid!)).to.deep.equal([Number(new URL(server.url).port), metricsPort].sort((a, b) => a - b));
    });
  });

  it('with METRICS_PORT=0 starts no listener but the API’s', async function () {
    this.timeout(60_000);
    const server = await startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY, METRICS_PORT: '0' });
    try {
      expect(listeningPorts(server.child.pid!)).to.deep.equal([Number(new URL(server.url).port)]);
    } finally {
      await server.stop();
    }
  });

  it('counts the events of a change by type, once it has committed; a change that rolls back counts none', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const metrics = await metricsNow();
    await createReferral(ctx, owner, contract, alice, { percentage: '60' });
    const refused = await ctx.post(`/v1/bunits/${owner}/referrals`, { contract: { id: contract }, referrer: { id: bob }, percentage: '60' });
    expect(refused.status, 'over-allocated: rolled back').to.equal(409);
    const delta = await metrics.since();
    expect(delta('events_published_total{type="referral.created"}')).to.equal(1);
  });

  it('counts a completed settlement run: its duration, and its statement lines by kind', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const first = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await createReferral(ctx, owner, contract, bob, { percentage: '20', billingStartDate: '2026-10-01' });
    const ingested = await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, {
      lines: ['A', 'B', 'C'].map((id) => ({ externalId: id, amount: '100.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' })),
    });
    expect(ingested.status).to.equal(201);
    const before = samples(await registry.metrics());
    const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(run.status, JSON.stringify(run.body)).to.equal(201);
    expect(run.body.lineCount).to.equal(6);
    const after = samples(await registry.metrics());
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    expect(delta('settlement_lines_total{kind="share"}')).to.equal(6);
    expect(delta('settlement_lines_total{kind="adjustment"}')).to.equal(0);
    expect(delta('settlement_run_duration_seconds_count')).to.equal(1);
    // Each event of the run's finalize counted by its type.
    expect(delta('events_published_total{type="statement.created"}')).to.equal(2);
    expect(delta('events_published_total{type="settlement_run.completed"}')).to.equal(1);
    // A dry run completes nothing.
    expect((await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true })).status).to.equal(200);
    expect(samples(await registry.metrics()).get('settlement_run_duration_seconds_count')).to.equal(after.get('settlement_run_duration_seconds_count'));

    // A correction of alice's percentage (SPEC §12): the next run's three lines are adjustments.
    const amendment = await ctx.post(`/v1/bunits/${owner}/referrals/${first.id}/amendments`, { percentage: '12', reason: 'Agreed at 12 %' });
    expect(amendment.status, JSON.stringify(amendment.body)).to.equal(202);
    const checker = ctx.as((await ctx.key('checker', 'approver', [owner])).secret);
    expect((await checker.post(`/v1/bunits/${owner}/change-requests/${amendment.body.id}/approve`, {})).status).to.equal(200);
    const metrics = await metricsNow();
    const second = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(second.body.lineCount).to.equal(3);
    const adjusted = await metrics.since();
    expect(adjusted('settlement_lines_total{kind="adjustment"}')).to.equal(3);
    expect(adjusted('settlement_lines_total{kind="share"}')).to.equal(0);
  });
});
