import type { NextFunction, Request, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Security headers on every response, from helmet, in two sets:
 *
 * - The API (`/v1/…`, JSON and CSV for programs): the headers OWASP's REST Security Cheat Sheet
 *   asks of every API response — `Cache-Control: no-store` (statements and revenue are financial
 *   data: no browser or proxy keeps a copy), a CSP that allows nothing and no framing, HSTS,
 *   `nosniff`, `X-Frame-Options: DENY` — plus `Cross-Origin-Resource-Policy: same-origin` and
 *   `Referrer-Policy: no-referrer`. Helmet's headers that only mean something to an HTML page a
 *   browser renders (DNS prefetch, download options, Flash policies, the XSS auditor, agent
 *   clusters, opener policy) are left out of these responses.
 * - Everything else (/docs, /openapi.*, /healthz): helmet's defaults, for pages a browser renders.
 *
 * With static options (no per-request CSP nonce) every header is the same on every response, so
 * helmet runs once here against a recorder and the middleware replays what it did, instead of
 * running helmet's dozen steps per request.
 */
const API: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

const DOCUMENTS: HelmetOptions = { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } };

export const API_PREFIX = '/v1/';

/**
 * On /v1 the headers every answer carries (these, and the request id: src/app.ts) are gathered in
 * `res.locals.answerHeaders` and written with the answer's own in its one `writeHead` (`headOf`),
 * so that Node formats the head once, instead of validating and storing each header ahead of it
 * (about 2 µs of a 170 µs GET, bench/README.md). Every writer of an API answer goes through
 * `headOf` (src/app.ts: replies, streams) or `applyAnswerHeaders` (problems, src/http/problem.ts).
 * Everything else gets its headers set at once, for Express's writers.
 */
export function securityHeaders() {
  const api = recorded(API, [['Cache-Control', 'no-store']]);
  const apiHeaders = Object.fromEntries(api.set);
  const documents = recorded(DOCUMENTS);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.url.startsWith(API_PREFIX)) {
      res.locals.answerHeaders = { ...apiHeaders };
    } else {
      for (const [name, value] of documents.set) res.setHeader(name, value);
      for (const name of documents.removed) res.removeHeader(name);
    }
    next();
  };
}

type Head = Record<string, string | number>;

/** The headers gathered for this answer (API paths), or undefined once written or elsewhere. */
export const answerHeadersOf = (res: Response): Record<string, string> | undefined => res.locals.answerHeaders as Record<string, string> | undefined;

/** The head to write: the gathered headers with the answer's own (which win), for one writeHead. */
export function headOf(res: Response, own: Head): Head {
  const gathered = answerHeadersOf(res);
  if (!gathered) return own;
  res.locals.answerHeaders = undefined;
  return Object.assign(gathered, own);
}

/** For a writer that sets its headers one by one (Express's res.send): the gathered ones first. */
export function applyAnswerHeaders(res: Response): void {
  const gathered = answerHeadersOf(res);
  if (!gathered || res.headersSent) return;
  res.locals.answerHeaders = undefined;
  for (const [name, value] of Object.entries(gathered)) res.setHeader(name, value);
}

interface Recorded {
  set: [string, string][];
  removed: string[];
}

function recorded(options: HelmetOptions, extra: [string, string][] = []): Recorded {
  const out: Recorded = { set: [], removed: [] };
  const recorder = {
    setHeader: (name: string, value: string | number) => void out.set.push([name, String(value)]),
    removeHeader: (name: string) => void out.removed.push(name),
  };
  let failure: unknown;
  helmet(options)({} as Request, recorder as unknown as Response, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure;
  out.set.push(...extra);
  return out;
}
