import type { NextFunction, Request, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's security headers, worked out once. With static options (no per-request CSP nonce)
 * every header is the same on every response, so helmet runs once here against a recorder and
 * the middleware replays what it did, instead of running helmet's dozen steps per request.
 */
export function securityHeaders(options: HelmetOptions) {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number) => void set.push([name, String(value)]),
    removeHeader: (name: string) => void removed.push(name),
  };
  let failure: unknown;
  helmet(options)({} as Request, recorder as unknown as Response, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure;
  return (_req: Request, res: Response, next: NextFunction) => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}
