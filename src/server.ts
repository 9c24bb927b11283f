import { createApp } from './app';
import { BusinessCalendar, systemClock } from './clock';
import { ConfigError, loadConfig } from './config';
import { createDb } from './db';
import { createLogger } from './logger';
import { createServices } from './services';
import { systemActor } from './services/unit-of-work';
import { migrateLatest } from '../migrations';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = createDb(config.databaseUrl);
  const applied = await migrateLatest(db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  await bootstrapAdminKey(db, config.adminApiKey, config.businessTimeZone);

  const { app, close } = createApp({
    db,
    clock: systemClock,
    businessTimeZone: config.businessTimeZone,
    adminApiKey: config.adminApiKey,
    logger,
    rateLimitPerMinute: config.rateLimitPerMinute,
  });
  const server = app.listen(config.port, config.host, () => {
    logger.info({ port: config.port, host: config.host }, `listening on http://${config.host}:${config.port} (docs at /docs)`);
  });

  // Graceful shutdown: stop accepting, let in-flight requests finish, then close the database.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    close();
    server.close(async () => {
      await db.destroy();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      logger.error('in-flight requests did not finish within 30 s; exiting');
      process.exit(1);
    }, 30_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * First start with no keys and no ADMIN_API_KEY: create one admin key and print it, once. It is
 * stored only as a hash, so this is the only time anyone sees it.
 */
async function bootstrapAdminKey(db: ReturnType<typeof createDb>, adminApiKey: string | undefined, timeZone: string) {
  if (adminApiKey) return;
  const services = createServices({ db, calendar: new BusinessCalendar(systemClock, timeZone) });
  if ((await services.apiKeys.count()) > 0) return;
  const { key, secret } = await services.apiKeys.create({ name: 'bootstrap-admin', role: 'admin' }, systemActor('first start'));
  process.stdout.write(
    `\nNo API keys existed, so an admin key was created (id ${key.id}, name ${key.name}).\n` +
      `It is shown this once and stored only as a hash:\n\n    ${secret}\n\n` +
      `Use it as "Authorization: Bearer <key>". Create narrower keys with POST /v1/api-keys or npm run api-keys.\n\n`,
  );
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(err);
  }
  process.exit(1);
});
