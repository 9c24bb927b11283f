import express, { type RequestHandler, type Router } from 'express';
import { notServed } from './problem';
import type { RouteDef } from './route';

/** An OpenAPI path template in Express's syntax: `/v1/bunits/{bunitId}` → `/v1/bunits/:bunitId`. */
export const expressPath = (template: string): string => template.replace(/\{(\w+)\}/g, ':$1');

/**
 * The order in which paths are mounted. Express takes the first route that matches, so where a
 * literal segment and a parameter could both match one request (`…/change-requests/moderate` and
 * `…/change-requests/{changeRequestId}`), the path with the literal must come first, whatever the
 * order the routes are declared in: segment by segment, a parameter sorts after every literal.
 */
export function mountOrder(a: string, b: string): number {
  const as = a.split('/');
  const bs = b.split('/');
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const x = as[i]!.startsWith('{') ? '\uffff' : as[i]!.toLowerCase();
    const y = bs[i]!.startsWith('{') ? '\uffff' : bs[i]!.toLowerCase();
    if (x !== y) return x < y ? -1 : 1;
  }
  return as.length - bs.length;
}

/**
 * The resource a path belongs to, whose router it is mounted on: its segments up to the first
 * literal that follows a parameter (`/v1/bunits/{bunitId}/referrals/{referralId}/history` →
 * `/v1/bunits/{bunitId}/referrals`), or else its first two (`/v1/bunits/{bunitId}` → `/v1/bunits`).
 */
export function resourceOf(template: string): string {
  const segments = template.split('/');
  for (let i = 2; i < segments.length; i++) {
    if (segments[i - 1]!.startsWith('{') && !segments[i]!.startsWith('{')) return segments.slice(0, i + 1).join('/');
  }
  return segments.slice(0, 3).join('/');
}

/**
 * The API's routes on Express's routers, generated from the `defineRoute` table: one router per
 * resource (resourceOf), mounted at the resource's path, so that a request is matched against the
 * few paths of its resource rather than every path of the API. A resource whose path starts with
 * another's is mounted before it (`/v1/bunits/{bunitId}/referrals` before `/v1/bunits`).
 *
 * In a resource's router: one `route()` per path with a handler per method (Express answers HEAD
 * with GET's), and after them the 405 with `Allow` for any other method of that path. A path no
 * route has falls through to the next middleware (the public pages, then 404). Express's defaults
 * apply: case-insensitive literals, one optional trailing slash, percent-decoded parameters
 * (malformed: a 400 error).
 */
export function apiRouter(routes: readonly RouteDef[], handlerOf: (route: RouteDef) => RequestHandler): Router {
  const byResource = new Map<string, Map<string, RouteDef[]>>();
  for (const route of routes) {
    const resource = resourceOf(route.path);
    const paths = byResource.get(resource) ?? new Map<string, RouteDef[]>();
    byResource.set(resource, paths);
    const defs = paths.get(route.path) ?? [];
    if (defs.some((d) => d.method === route.method)) throw new Error(`two routes for ${route.method.toUpperCase()} ${route.path}`);
    paths.set(route.path, [...defs, route]);
  }
  const api = express.Router();
  const depth = (path: string) => path.split('/').length;
  for (const resource of [...byResource.keys()].sort((a, b) => depth(b) - depth(a) || mountOrder(a, b))) {
    const paths = byResource.get(resource)!;
    const router = express.Router({ mergeParams: true });
    for (const template of [...paths.keys()].sort(mountOrder)) {
      const defs = paths.get(template)!;
      const mounted = router.route(expressPath(template.slice(resource.length) || '/'));
      for (const def of defs) mounted[def.method](handlerOf(def));
      mounted.all(notServed(template, defs.map((d) => d.method.toUpperCase())));
    }
    api.use(expressPath(resource), router);
  }
  return api;
}
