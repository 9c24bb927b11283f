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

export function securityHeaders() {
  const api = recorded(API, [['Cache-Control', 'no-store']]);
  const documents = recorded(DOCUMENTS);
  return (req: Request, res: Response, next: NextFunction) => {
    const headers = req.url.startsWith(API_PREFIX) ? api : documents;
    for (const [name, value] of headers.set) res.setHeader(name, value);
    for (const name of headers.removed) res.removeHeader(name);
    next();
  };
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
