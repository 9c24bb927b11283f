import { pino, type Logger } from 'pino';

/** JSON logs; the Authorization header and key secrets never reach them. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'key', 'secret', '*.key', '*.secret'], censor: '[redacted]' },
  });
}
