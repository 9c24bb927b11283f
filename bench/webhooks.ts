import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBenchDatabase, seedDatabase } from './lib/database';
import { ownerOf, type DatasetSize } from './lib/dataset';
import { compare, cpuSeconds } from './lib/load';
import { freePort, startHttpProcess, type HttpProcess } from './lib/processes';
import type { ScenarioResult } from './lib/report';

/**
 * The events and webhooks scenarios (SPEC §13), called from bench/run.ts:
 *
 * - 9. POST a referral while every change is delivered to a subscribed endpoint (a local
 *   receiver), against the same service with delivery off and no endpoint, each on a freshly
 *   seeded database of its own: target ratio ≥ 0.9.
 * - 10. Delivery lag from commit to receipt at 200 events/s (PUTs of business units at that
 *   rate) to a local receiver: target p99 ≤ 1 s. The lag is measured from the event's
 *   `createdDate`, the instant its unit of work began, so it includes the request's own
 *   transaction: an upper bound of the lag from the commit.
 * - 14. Duplicates (issue 22): two instances with default settings deliver 25 events to two
 *   endpoints whose receiver answers after 1.6 s (40 s of sending each, longer than the 30 s
 *   lease): target 0 duplicate requests and every endpoint's events in sequence order.
 * - 15. Hanging receivers (issue 22): 20 endpoints whose receiver never answers (each attempt
 *   lasts the 15 s timeout) and one healthy endpoint, one instance, 4 events/s for 40 s: target
 *   the healthy endpoint's p99 lag ≤ 3 s, every event delivered to it once.
 * 13 is left to the moderation scenario of issue 22.
 */
export interface WebhookBenchSettings {
  baseUrl: string | undefined;
  size: DatasetSize;
  adminKey: string;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  only: Set<number> | null;
  log: (message: string) => void;
}

const WEBHOOK_ENV = { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', BUSINESS_TIMEZONE: 'UTC' };
/** The compiled server, as the other scenarios run it (built by then), its metrics listener on a port of its own. */
const SERVER = 'dist/server.js';
const serverEnv = async (env: Record<string, string>) => ({ ...WEBHOOK_ENV, METRICS_PORT: String(await freePort()), ...env });

/** A local receiver: answers 204 at once and notes when each event came. */
async function startSink(): Promise<{ url: string; lags: number[]; received: number; close(): Promise<void> }> {
  const sink = { lags: [] as number[], received: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      sink.received += 1;
      const created = /"createdDate":"([^"]+)"/.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
      if (created) sink.lags.push(at - Date.parse(created));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...sink,
    get lags() {
      return sink.lags;
    },
    get received() {
      return sink.received;
    },
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } as never;
}

/** What a recording receiver saw: each request's path, webhook-id, arrival and the event's createdDate. */
interface Recorded {
  path: string;
  id: string;
  at: number;
  createdMs: number;
}

/** A receiver that records every request and answers after `delayMs`, or never (`hang`: it holds the request until closed). */
async function startRecorder(options: { delayMs?: number; hang?: boolean }): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const created = /"createdDate":"([^"]+)"/.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
      requests.push({ path: req.url ?? '', id: String(req.headers['webhook-id']), at: Date.now(), createdMs: created ? Date.parse(created) : NaN });
      if (options.hang) return;
      setTimeout(() => res.writeHead(204).end(), options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function createUnits(server: HttpProcess, adminKey: string, prefix: string, n: number, perSecond?: number): Promise<void> {
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    if (perSecond) {
      const wait = started + (i * 1000) / perSecond - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const res = await fetch(`${server.url}/v1/bunits`, { method: 'POST', headers, body: JSON.stringify({ code: `${prefix}-${i}`, name: `${prefix} ${i}` }) });
    if (res.status !== 201) throw new Error(`creating a unit failed: ${res.status} ${await res.text()}`);
  }
}

async function subscribe(server: HttpProcess, adminKey: string, url: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  });
  if (res.status !== 201) throw new Error(`subscribing failed: ${res.status} ${await res.text()}`);
}

/** POST referrals on the spare contracts (as scenario 3 does): never a clash (R4), never near 100 % (R5). */
function postReferral(size: DatasetSize) {
  let n = 0;
  return () => {
    const i = n++;
    const contractId = size.contracts + 1 + (i % size.spareContracts);
    const owner = ownerOf(contractId, size);
    const referrer = ((owner - 1 + 1 + (Math.floor(i / size.spareContracts) % (size.bunits - 1))) % size.bunits) + 1;
    const body = `{"contract":{"id":${contractId}},"referrer":{"id":${referrer}},"percentage":"0.01","billingStartDate":"2026-01-01"}`;
    return { method: 'POST' as const, path: `/v1/bunits/${owner}/referrals`, body };
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

const DRAIN_SECONDS = 5;

/**
 * What delivery alone costs: after the load, the server is left delivering the backlog the POSTs
 * left behind with no request to serve, and its CPU time over those seconds is divided by the
 * events the receiver got in them. Scenario 9's ratio depends on how much delivery got done while
 * it measured; this figure does not.
 */
async function drainingCost(pid: number, sink: { received: number }, seconds: number): Promise<{ cpuMicrosPerEvent: number; eventsPerSecond: number }> {
  const [cpu, received] = [cpuSeconds(pid), sink.received];
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const events = sink.received - received;
  return { cpuMicrosPerEvent: events > 0 ? ((cpuSeconds(pid) - cpu) * 1e6) / events : NaN, eventsPerSecond: events / seconds };
}

export async function runWebhookScenarios(s: WebhookBenchSettings): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  // The POST scenario needs no revenue: small databases, seeded fresh, so that both sides start alike.
  const size = { ...s.size, revenueLines: Math.min(s.size.revenueLines, 20_000) };
  const sink = await startSink();
  const databases = [];
  const servers: HttpProcess[] = [];
  try {
    if (!s.only || s.only.has(9)) {
      s.log('scenario 9: POST a referral with events delivered to a subscribed endpoint, against delivery off and no endpoint');
      const [a, b] = [await createBenchDatabase(s.baseUrl), await createBenchDatabase(s.baseUrl)];
      databases.push(a!, b!);
      await Promise.all([seedDatabase(a!.url, size), seedDatabase(b!.url, size)]);
      const ours = await startHttpProcess(SERVER, await serverEnv({ DATABASE_URL: a!.url, ADMIN_API_KEY: s.adminKey, WEBHOOK_DELIVERY: 'on' }), '/readyz', 'server-webhooks');
      servers.push(ours);
      const baseline = await startHttpProcess(SERVER, await serverEnv({ DATABASE_URL: b!.url, ADMIN_API_KEY: s.adminKey, WEBHOOK_DELIVERY: 'off' }), '/readyz', 'server-no-webhooks');
      servers.push(baseline);
      await subscribe(ours, s.adminKey, sink.url);
      const headers = { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' };
      const target = (server: HttpProcess) => ({ url: server.url, pid: server.pid, headers, connections: s.connections, next: postReferral(size) });
      const { ours: o, baseline: base } = await compare(target(ours), target(baseline), { seconds: s.seconds, warmupSeconds: s.warmupSeconds, rounds: s.rounds });
      for (const [who, r] of [['ours', o], ['baseline', base]] as const) {
        if (r.failures > 0) throw new Error(`scenario 9: ${who} had ${r.failures} failed requests (${JSON.stringify(r.statusCodes)})`);
      }
      const ratio = o.requestsPerSecond / base.requestsPerSecond;
      const received = sink.received;
      const draining = await drainingCost(ours.pid, sink, DRAIN_SECONDS);
      results.push({
        id: 9,
        name: 'POST a referral, events delivered to a subscribed endpoint',
        unit: 'req/s',
        ours: o.requestsPerSecond,
        baseline: base.requestsPerSecond,
        ratio,
        target: 'ratio ≥ 0.9',
        met: ratio >= 0.9,
        details: {
          'p99 ms': o.p99Ms,
          'baseline p99 ms': base.p99Ms,
          'CPU µs/request': o.cpuMicrosPerRequest,
          'baseline CPU µs/request': base.cpuMicrosPerRequest,
          'webhooks received': received,
          'delivery CPU µs/event (draining, no requests)': draining.cpuMicrosPerEvent,
          'events/s (draining)': draining.eventsPerSecond,
        },
      });
      for (const server of servers.splice(0)) await server.stop();
    }

    if (!s.only || s.only.has(10)) {
      const rate = 200;
      const seconds = Math.max(5, s.seconds);
      s.log(`scenario 10: delivery lag at ${rate} events/s for ${seconds} s (PUT of business units) to a local receiver`);
      const db = await createBenchDatabase(s.baseUrl);
      databases.push(db);
      const server = await startHttpProcess(SERVER, await serverEnv({ DATABASE_URL: db.url, ADMIN_API_KEY: s.adminKey, WEBHOOK_DELIVERY: 'on' }), '/readyz', 'server-lag');
      servers.push(server);
      const headers = { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' };
      const units: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${server.url}/v1/bunits`, { method: 'POST', headers, body: JSON.stringify({ code: `LAG-${i}`, name: `Lag ${i}` }) });
        units.push(((await res.json()) as { id: number }).id);
      }
      await subscribe(server, s.adminKey, sink.url);
      sink.lags.length = 0;
      const before = sink.received;
      let sent = 0;
      let failed = 0;
      const requestMs: number[] = [];
      const started = Date.now();
      const inFlight: Promise<void>[] = [];
      // Open loop: request n leaves at started + n / rate, whatever the answers before it.
      while (Date.now() - started < seconds * 1000) {
        const due = started + (sent * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const n = sent++;
        const unit = units[n % units.length]!;
        const t0 = Date.now();
        inFlight.push(
          fetch(`${server.url}/v1/bunits/${unit}`, { method: 'PUT', headers, body: JSON.stringify({ code: `LAG-${n % units.length}`, name: `Lag ${n} renamed` }) }).then(
            (res) => {
              requestMs.push(Date.now() - t0);
              if (res.status !== 200) failed += 1;
              return res.arrayBuffer().then(() => undefined);
            },
            () => {
              failed += 1;
            },
          ),
        );
      }
      await Promise.all(inFlight);
      const deadline = Date.now() + 30_000;
      while (sink.received - before < sent - failed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const p99 = percentile(sink.lags, 99);
      const achieved = sent / seconds;
      results.push({
        id: 10,
        name: `delivery lag, commit to receipt, at ${rate} events/s`,
        unit: 'ms',
        ours: p99,
        baseline: 1000,
        ratio: p99 / 1000,
        target: 'p99 ≤ 1000 ms',
        met: p99 <= 1000 && failed === 0 && sink.received - before === sent,
        details: {
          'p50 lag ms': percentile(sink.lags, 50),
          'max lag ms': Math.max(...sink.lags),
          'events sent': sent,
          'events received': sink.received - before,
          'requests/s achieved': Math.round(achieved),
          'request p99 ms': percentile(requestMs, 99),
          failed,
        },
      });
    }
    if (!s.only || s.only.has(14)) results.push(await duplicatesScenario(s, databases, servers));
    if (!s.only || s.only.has(15)) results.push(await hangingScenario(s, databases, servers));
  } finally {
    for (const server of servers) await server.stop();
    await sink.close();
    for (const db of databases) await db.drop();
  }
  return results;
}

type Databases = Awaited<ReturnType<typeof createBenchDatabase>>[];

/**
 * A fresh database and one instance per name on it, delivering with default settings; both are
 * noted in `databases` and `servers`, which the caller stops and drops whatever happens.
 */
async function deliveringServers<const Names extends readonly string[]>(
  s: WebhookBenchSettings,
  databases: Databases,
  servers: HttpProcess[],
  names: Names,
): Promise<{ [K in keyof Names]: HttpProcess }> {
  const db = await createBenchDatabase(s.baseUrl);
  databases.push(db);
  const env = { DATABASE_URL: db.url, ADMIN_API_KEY: s.adminKey, WEBHOOK_DELIVERY: 'on' };
  const started: HttpProcess[] = [];
  for (const name of names) {
    const server = await startHttpProcess(SERVER, await serverEnv(env), '/readyz', name);
    servers.push(server);
    started.push(server);
  }
  return started as { [K in keyof Names]: HttpProcess };
}

/** Scenario 14: two instances, a receiver that answers after 1.6 s; every request counted. */
async function duplicatesScenario(s: WebhookBenchSettings, databases: Databases, servers: HttpProcess[]): Promise<ScenarioResult> {
  const events = 25;
  s.log(`scenario 14: ${events} events to 2 endpoints whose receiver answers after 1.6 s, 2 instances with default settings`);
  const receiver = await startRecorder({ delayMs: 1600 });
  try {
    const [a] = await deliveringServers(s, databases, servers, ['server-dup-a', 'server-dup-b']);
    for (const path of ['a', 'b']) await subscribe(a, s.adminKey, `${receiver.url}/${path}`);
    const started = Date.now();
    await createUnits(a, s.adminKey, 'DUP', events);
    const expected = 2 * events;
    const distinct = () => new Set(receiver.requests.map((r) => `${r.path} ${r.id}`)).size;
    const deadline = Date.now() + 5 * 60_000;
    while (distinct() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const seconds = (Date.now() - started) / 1000;
    // Long enough for an attempt made twice to show.
    await new Promise((r) => setTimeout(r, 5000));
    const duplicates = receiver.requests.length - distinct();
    let outOfOrder = 0;
    for (const path of ['/hooks/a', '/hooks/b']) {
      const ids = receiver.requests.filter((r) => r.path === path).map((r) => Number(r.id));
      for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) outOfOrder += 1;
    }
    for (const server of servers.splice(0)) await server.stop();
    return {
      id: 14,
      name: 'webhook duplicates: 2 instances, a receiver answering after 1.6 s',
      unit: 'duplicates',
      ours: duplicates,
      baseline: 0,
      ratio: 0,
      target: 'duplicates = 0, order kept, all delivered',
      met: duplicates === 0 && outOfOrder === 0 && distinct() === expected,
      binding: true,
      details: { events: expected, requests: receiver.requests.length, delivered: distinct(), 'out of order': outOfOrder, 'seconds to deliver': seconds },
    };
  } finally {
    await receiver.close();
  }
}

/** Scenario 15: 20 endpoints that hang and a healthy one; the healthy one's lag. */
async function hangingScenario(s: WebhookBenchSettings, databases: Databases, servers: HttpProcess[]): Promise<ScenarioResult> {
  const rate = 4;
  const seconds = 40;
  s.log(`scenario 15: 20 endpoints whose receiver never answers and a healthy one, ${rate} events/s for ${seconds} s, one instance`);
  const hanging = await startRecorder({ hang: true });
  const healthy = await startRecorder({});
  try {
    const [server] = await deliveringServers(s, databases, servers, ['server-hanging']);
    for (let i = 0; i < 20; i++) await subscribe(server, s.adminKey, `${hanging.url}/${i}`);
    // Created last: claimed by id, it would come last.
    await subscribe(server, s.adminKey, healthy.url);
    const events = rate * seconds;
    await createUnits(server, s.adminKey, 'HANG', events, rate);
    const deadline = Date.now() + 60_000;
    while (new Set(healthy.requests.map((r) => r.id)).size < events && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lags = healthy.requests.map((r) => r.at - r.createdMs);
    const p99 = percentile(lags, 99);
    const received = new Set(healthy.requests.map((r) => r.id)).size;
    for (const srv of servers.splice(0)) await srv.stop();
    return {
      id: 15,
      name: 'healthy endpoint lag beside 20 hanging endpoints (p99)',
      unit: 'ms',
      ours: p99,
      baseline: 3000,
      ratio: p99 / 3000,
      target: 'p99 ≤ 3000 ms, every event once',
      met: p99 <= 3000 && received === events && healthy.requests.length === events,
      binding: true,
      details: {
        'p50 lag ms': percentile(lags, 50),
        'max lag ms': Math.max(...lags),
        events,
        'healthy requests': healthy.requests.length,
        'attempts to hanging endpoints': hanging.requests.length,
      },
    };
  } finally {
    await hanging.close();
    await healthy.close();
  }
}
