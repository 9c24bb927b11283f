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

/** Helmet as middleware, with the API's set on /v1 (and `Cache-Control: no-store`), the documents' set elsewhere. */
export function securityHeaders() {
  const api = helmet(API);
  const documents = helmet(DOCUMENTS);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.url.startsWith(API_PREFIX)) {
      res.set('Cache-Control', 'no-store');
      api(req, res, next);
    } else {
      documents(req, res, next);
    }
  };
}
