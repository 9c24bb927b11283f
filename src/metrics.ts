import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BackgroundWorker } from './workers';

/**
 * The Prometheus metrics of SPEC §14, in one registry of this process, and the small functions
 * through which the rest of the code feeds them: a feature calls `recordEventsPublished(…)` or
 * `recordWebhookDelivery(…)` and knows nothing of prom-client. They are served at /metrics on a
 * listener of its own (`MetricsServer`, METRICS_PORT), never on the API's port: operators scrape
 * them from inside, and they say nothing a client should see.
 */
export const registry = new Registry();

const SECONDS_FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SECONDS_SLOW = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time from a request’s arrival to its answer, by method, route template (OpenAPI path; "unmatched" for a path no route has) and status.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: SECONDS_FAST,
  registers: [registry],
});

const settlementRunDuration = new Histogram({
  name: 'settlement_run_duration_seconds',
  help: 'Time from a settlement run’s start to its completion (a resumed run counts from its first start).',
  buckets: SECONDS_SLOW,
  registers: [registry],
});

export type StatementLineKind = 'share' | 'adjustment';

const settlementLines = new Counter({
  name: 'settlement_lines_total',
  help: 'Statement lines written by completed settlement runs, by kind (share, adjustment).',
  labelNames: ['kind'] as const,
  registers: [registry],
});

const eventsPublished = new Counter({
  name: 'events_published_total',
  help: 'Events written to the event feed, by type.',
  labelNames: ['type'] as const,
  registers: [registry],
});

const webhookDeliveries = new Counter({
  name: 'webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome.',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const webhookDeliveryLag = new Histogram({
  name: 'webhook_delivery_lag_seconds',
  help: 'Time from an event’s creation to its successful delivery to an endpoint.',
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200, 18_000, 36_000, 86_400],
  registers: [registry],
});

// Both kinds are shown from the start (at 0), so that a rate over them is defined before the first run.
for (const kind of ['share', 'adjustment'] satisfies StatementLineKind[]) settlementLines.inc({ kind }, 0);

/**
 * One histogram child per (method, route, status), kept: prom-client would otherwise hash the
 * labels on every observation, and this runs on every request.
 */
const httpChildren = new Map<string, Histogram.Internal<'method' | 'route' | 'status'>>();

/** A request answered (src/app.ts). `route` is the template, never the raw URL (bounded label values). */
export function observeHttpRequest(method: string, route: string, status: number, seconds: number): void {
  const key = `${method} ${status} ${route}`;
  let child = httpChildren.get(key);
  if (!child) httpChildren.set(key, (child = httpRequestDuration.labels(method, route, String(status))));
  child.observe(seconds);
}

/** A settlement run completed (src/services/settlement/run-executor.ts): its duration and the lines it wrote, by kind. */
export function recordSettlementRun(startedAt: string, completedAt: string, lines: Partial<Record<StatementLineKind, number>>): void {
  settlementRunDuration.observe(Math.max(0, (Date.parse(completedAt) - Date.parse(startedAt)) / 1000));
  for (const [kind, n] of Object.entries(lines)) if (n > 0) settlementLines.inc({ kind }, n);
}

/** Events written to the feed (SPEC §13), `count` of one type. */
export function recordEventsPublished(type: string, count = 1): void {
  eventsPublished.inc({ type }, count);
}

/** One webhook delivery attempt ended: `succeeded`, `retrying` (it failed and will be tried again) or `failed` (the schedule is used up); a success also tells its lag. */
export function recordWebhookDelivery(outcome: string, lagSeconds?: number): void {
  webhookDeliveries.inc({ outcome });
  if (lagSeconds !== undefined) webhookDeliveryLag.observe(Math.max(0, lagSeconds));
}

interface PoolLike {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}

let pooled: Knex | null = null;

/** The database pool whose connections /metrics reports (the runtime's). */
export function observeDatabasePool(db: Knex): void {
  pooled = db;
}

const poolOf = (): PoolLike | undefined => (pooled?.client as { pool?: PoolLike } | undefined)?.pool;

new Gauge({
  name: 'db_pool_connections',
  help: 'Connections of the database pool: in use, idle, being opened; and requests waiting for one (pending_acquires).',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    const pool = poolOf();
    this.set({ state: 'used' }, pool?.numUsed() ?? 0);
    this.set({ state: 'free' }, pool?.numFree() ?? 0);
    this.set({ state: 'pending_creates' }, pool?.numPendingCreates() ?? 0);
    this.set({ state: 'pending_acquires' }, pool?.numPendingAcquires() ?? 0);
  },
});

new Gauge({
  name: 'db_pool_max_connections',
  help: 'The most connections the database pool opens.',
  registers: [registry],
  collect() {
    this.set(poolOf()?.max ?? 0);
  },
});

let defaultsCollected = false;

/**
 * GET /metrics on a listener of its own (METRICS_PORT), as a background worker of the runtime:
 * started before the API listens, stopped after it has closed. The process defaults (CPU, memory,
 * event loop lag, GC) are collected from the first start on.
 */
export class MetricsServer implements BackgroundWorker {
  readonly name = 'metrics';
  /** Where /metrics is served, once started. */
  url: string | null = null;
  private server: http.Server | null = null;

  constructor(
    private readonly port: number,
    private readonly host: string,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.server) return;
    if (!defaultsCollected) {
      collectDefaultMetrics({ register: registry });
      defaultsCollected = true;
    }
    const server = http.createServer((req, res) => void this.answer(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.url = `http://${this.host}:${port}/metrics`;
    this.logger?.info({ port }, `metrics at ${this.url}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
      return;
    }
    try {
      const text = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      this.logger?.error({ err }, 'metrics could not be collected');
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics could not be collected\n');
    }
  }
}
