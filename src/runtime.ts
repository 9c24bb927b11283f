import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { createApp, type App } from './app';
import { BusinessCalendar, systemClock, type Clock } from './clock';
import type { Config } from './config';
import { createDb } from './db';
import { MetricsServer, observeDatabasePool, observeHttpRequest } from './metrics';
import { createServices } from './services';
import { fillArchiveDays } from './services/archive-days';
import { systemActor } from './services/unit-of-work';
import type { BackgroundWorker } from './workers';
import { migrateLatest } from '../migrations';

/** How long in-flight requests may take to finish once a shutdown began. */
const SHUTDOWN_GRACE_MS = 30_000;

/**
 * The composition root of a server process: it owns the database, the HTTP listener and every
 * background worker, starts them in order and stops them in the reverse order. Stopping takes no
 * new connections, lets the requests in flight finish, stops the workers (each finishes or hands
 * back what it holds, such as a lease), and closes the database last.
 */
export class Runtime {
  readonly db: Knex;
  private app: App | null = null;
  private server: http.Server | null = null;
  private workers: BackgroundWorker[] = [];
  private metrics: MetricsServer | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.db = createDb(config.databaseUrl, { lockWaitMs: config.sqliteLockWaitMs, logger });
  }

  /** Where /metrics is served (null with METRICS_PORT=0, or before start). */
  get metricsUrl(): string | null {
    return this.metrics?.url ?? null;
  }

  /**
   * Migrates, creates the first admin key if there is none, builds the app, starts the metrics
   * listener and the app's workers, listens.
   */
  async start(): Promise<{ url: string }> {
    const { config, logger } = this;
    const applied = await migrateLatest(this.db);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const filled = await fillArchiveDays(this.db, new BusinessCalendar(this.clock, config.businessTimeZone));
    if (filled > 0) logger.info({ referrals: filled }, 'archive days stored for referrals archived before they were kept');
    await this.bootstrapAdminKey();

    this.app = createApp({
      db: this.db,
      clock: this.clock,
      businessTimeZone: config.businessTimeZone,
      adminApiKey: config.adminApiKey,
      logger,
      rateLimitPerMinute: config.rateLimitPerMinute,
      settlementPartitionLines: config.settlementPartitionLines,
      approvalMode: config.approvalMode,
      ...(config.metricsPort > 0 ? { observeRequest: observeHttpRequest } : {}),
      webhooks: config.webhooks,
      statements: config.statements,
    });
    // Metrics first, so that they are stopped last: a scrape during shutdown still answers.
    if (config.metricsPort > 0) {
      observeDatabasePool(this.db);
      this.metrics = new MetricsServer(config.metricsPort, config.host, logger);
    }
    this.workers = [...(this.metrics ? [this.metrics] : []), ...this.app.workers];
    for (const worker of this.workers) await worker.start();

    const server = this.app.app.listen(config.port, config.host);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host}:${port}`;
    logger.info({ port, host: config.host }, `listening on ${url} (docs at /docs)`);
    return { url };
  }

  /** Graceful shutdown; calling it again returns the same promise. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.app?.drain();
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), SHUTDOWN_GRACE_MS).unref());
      if ((await Promise.race([closed, timedOut])) === 'timeout') {
        this.logger.error(`in-flight requests did not finish within ${SHUTDOWN_GRACE_MS / 1000} s; closing their connections`);
        server.closeAllConnections();
      }
    }
    for (const worker of [...this.workers].reverse()) {
      try {
        await worker.stop();
      } catch (err) {
        this.logger.error({ err, worker: worker.name }, 'a background worker did not stop cleanly');
      }
    }
    await this.db.destroy();
  }

  /**
   * First start with no keys and no ADMIN_API_KEY: create one admin key and print it, once. It is
   * stored only as a hash, so this is the only time anyone sees it.
   */
  private async bootstrapAdminKey(): Promise<void> {
    if (this.config.adminApiKey) return;
    const services = createServices({ db: this.db, calendar: new BusinessCalendar(this.clock, this.config.businessTimeZone) });
    if ((await services.apiKeys.count()) > 0) return;
    const { key, secret } = await services.apiKeys.create({ name: 'bootstrap-admin', role: 'admin' }, systemActor('first start'));
    process.stdout.write(
      `\nNo API keys existed, so an admin key was created (id ${key.id}, name ${key.name}).\n` +
        `It is shown this once and stored only as a hash:\n\n    ${secret}\n\n` +
        `Use it as "Authorization: Bearer <key>". Create narrower keys with POST /v1/api-keys or npm run api-keys.\n\n`,
    );
  }
}
