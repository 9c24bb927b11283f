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

/** The fields of a request's log line. */
export interface RequestLine {
  requestId: string;
  method: string;
  url: string;
  status: number;
  ms: number;
}

interface PinoInternals {
  [pino.symbols.streamSym]: { write(line: string): unknown };
  [pino.symbols.chindingsSym]: string;
  [pino.symbols.timeSym]: () => string;
}

/**
 * Writes the line `logger.info({ requestId, method, url, status, ms }, 'request')` would write, the
 * same JSON with the same fields in the same order, to the logger's own destination — without
 * pino's general-purpose serialiser, which was about a third of the line's cost, and there is one
 * such line per request. Level, time and bindings (pid, hostname) are pino's own, as it has them
 * ready (`pino.symbols`). Null when the logger does not log at info.
 */
export function requestLineWriter(logger: Logger): ((line: RequestLine) => void) | null {
  if (!logger.isLevelEnabled('info')) return null;
  const internals = logger as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym];
  const bindings = internals[pino.symbols.chindingsSym];
  const time = internals[pino.symbols.timeSym];
  const level = logger.levels.values.info;
  return ({ requestId, method, url, status, ms }) => {
    stream.write(
      `{"level":${level}${time()}${bindings},"requestId":${JSON.stringify(requestId)},"method":${JSON.stringify(method)},` +
        `"url":${JSON.stringify(url)},"status":${status},"ms":${ms},"msg":"request"}\n`,
    );
  };
}
