import type { NextFunction, Request, Response } from 'express';
import { preferred } from './negotiation';

/**
 * `text/json`, the second media type of the service this one replaces (SPEC §2, the seed): a body
 * sent as `text/json` is read as JSON (src/http/json-body.ts), an operation that answers JSON
 * also answers an Accept that names `text/json` (src/http/negotiation.ts), and when the client
 * prefers `text/json` to `application/json` every JSON answer, problems included, is labelled
 * `text/json` — the same bytes under the name the client asked for.
 */
export const TEXT_JSON = 'text/json';

/** Whether an Accept header prefers text/json to application/json (ties go to application/json). */
export function prefersTextJson(accept: string | undefined): boolean {
  // Most requests name no text type at all: no parsing for them.
  if (accept === undefined || !accept.toLowerCase().includes('text/')) return false;
  return preferred(accept, ['application/json', TEXT_JSON]) === TEXT_JSON;
}

const JSON_TYPE = /^\s*application\/(?:problem\+)?json\b/i;

/** `application/json; charset=utf-8` → `text/json; charset=utf-8`; any other type stays. */
const relabel = (value: unknown) => (typeof value === 'string' && JSON_TYPE.test(value) ? value.replace(JSON_TYPE, TEXT_JSON) : value);

/**
 * Middleware: for a client that prefers text/json, the Content-Type of a JSON answer is relabelled
 * as the head is written (whoever writes it: a route, the problem handler, an idempotent replay).
 */
export function textJson(req: Request, res: Response, next: NextFunction): void {
  if (!prefersTextJson(req.headers.accept)) return next();
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: unknown[]) {
    const own = this.getHeader('content-type');
    if (own !== undefined) this.setHeader('Content-Type', relabel(own) as string);
    for (const arg of args) {
      if (arg === null || typeof arg !== 'object' || Array.isArray(arg)) continue;
      const headers = arg as Record<string, unknown>;
      for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-type') headers[name] = relabel(headers[name]);
    }
    return (writeHead as (...a: unknown[]) => Response).apply(this, args);
  } as Response['writeHead'];
  next();
}
