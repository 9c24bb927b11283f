import { ConfigError, loadConfig } from './config';
import { createLogger, flushLogs } from './logger';
import { Runtime } from './runtime';

/** The server process: a runtime started, and stopped gracefully on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const runtime = new Runtime(config, logger);
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    runtime.stop().then(
      async () => {
        logger.info('stopped');
        await flushLogs(logger);
        process.exit(0);
      },
      async (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        await flushLogs(logger);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await runtime.start();
  // The start's lines (listening, a first admin key's notice) at once, not with the first batch.
  await flushLogs(logger);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
