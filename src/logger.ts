import { pino, type Logger } from 'pino';

/**
 * JSON logs on standard output; the Authorization header and key secrets never reach them.
 * Written asynchronously and in batches (sonic-boom): lines are buffered and handed to the kernel
 * 4 KB at a time, or every 250 ms, instead of one blocking write(2) per request on the event loop
 * (with LOG_LEVEL=info, the default, that write was the largest cost of a request's log line).
 * What is still buffered is written synchronously when the process exits (pino registers that),
 * and `flushLogs` writes it at once (after start, before a planned exit).
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'key', 'secret', '*.key', '*.secret'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 }),
  );
}

/** Resolves once every line logged so far has been written. */
export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
