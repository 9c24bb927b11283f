import { createApp } from './app';
import { systemClock } from './clock';
import { ConfigError, loadConfig } from './config';
import { createDb } from './db';
import { adminKeyResolver } from './http/auth';
import { createLogger } from './logger';
import { migrateLatest } from '../migrations';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = createDb(config.databaseUrl);
  const applied = await migrateLatest(db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  if (!config.adminApiKey) {
    logger.warn('ADMIN_API_KEY is not set: every /v1 request will answer 401 until it is');
  }
  const { app } = createApp({
    db,
    clock: systemClock,
    businessTimeZone: config.businessTimeZone,
    resolveKey: adminKeyResolver(config.adminApiKey),
    logger,
  });
  const server = app.listen(config.port, config.host, () => {
    logger.info({ port: config.port, host: config.host }, `listening on http://${config.host}:${config.port} (docs at /docs)`);
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    server.close(async () => {
      await db.destroy();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(err);
  }
  process.exit(1);
});
