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
 * The API's routes on an Express router, generated from the `defineRoute` table: one `route()`
 * per path with a handler per method (Express answers HEAD with GET's), and after them the 405
 * with `Allow` for any other method of that path. A path no route has falls through to the next
 * middleware (the public pages, then 404). Express's defaults apply: case-insensitive literals,
 * one optional trailing slash, percent-decoded parameters (malformed: a 400 error).
 */
export function apiRouter(routes: readonly RouteDef[], handlerOf: (route: RouteDef) => RequestHandler): Router {
  const byPath = new Map<string, RouteDef[]>();
  for (const route of routes) {
    const defs = byPath.get(route.path) ?? [];
    if (defs.some((d) => d.method === route.method)) throw new Error(`two routes for ${route.method.toUpperCase()} ${route.path}`);
    byPath.set(route.path, [...defs, route]);
  }
  const router = express.Router();
  for (const template of [...byPath.keys()].sort(mountOrder)) {
    const defs = byPath.get(template)!;
    const mounted = router.route(expressPath(template));
    for (const def of defs) mounted[def.method](handlerOf(def));
    mounted.all(notServed(template, defs.map((d) => d.method.toUpperCase())));
  }
  return router;
}
