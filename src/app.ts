import crypto from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { BusinessCalendar, type Clock } from './clock';
import { type KeyResolver, authorise } from './http/auth';
import { docsRouter } from './http/docs';
import { jsonBody } from './http/json-body';
import { errorHandler, notFoundHandler } from './http/problem';
import { expressPath, type RouteDef } from './http/route';
import { apiRoutes } from './http/routes';
import { validateRequest } from './http/validate';
import { buildOpenApiDocument } from './openapi/document';
import { createServices, type Services } from './services';
import { stringify } from 'yaml';

export interface AppDeps {
  db: Knex;
  clock: Clock;
  businessTimeZone: string;
  resolveKey: KeyResolver;
  logger: Logger;
}

export interface App {
  app: Express;
  services: Services;
}

/** Builds the Express app; no listen() here (server.ts does that), so tests drive it directly. */
export function createApp(deps: AppDeps): App {
  const services = createServices({ db: deps.db, calendar: new BusinessCalendar(deps.clock, deps.businessTimeZone) });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestLog(deps.logger));
  app.use(jsonBody);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.db.raw('select 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable' });
    }
  });

  const document = buildOpenApiDocument();
  const json = JSON.stringify(document);
  const yaml = stringify(document, { lineWidth: 0, aliasDuplicateObjects: false });
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(json);
  });
  app.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(yaml);
  });
  app.use(docsRouter());
  app.get('/', (_req, res) => {
    res.redirect('/docs');
  });

  for (const route of apiRoutes) mount(app, route, services, deps.resolveKey);

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return { app, services };
}

function mount(app: Express, route: RouteDef, services: Services, resolveKey: KeyResolver): void {
  app[route.method](expressPath(route.path), async (req: Request, res: Response, next: NextFunction) => {
    try {
      const rawBunit = req.params.bunitId;
      const bunitId = typeof rawBunit === 'string' && /^[1-9]\d{0,15}$/.test(rawBunit) ? Number(rawBunit) : undefined;
      const actor = await authorise(req, route.access, resolveKey, bunitId);
      const valid = validateRequest(route, { params: req.params, query: req.query, body: req.body });
      const reason = req.headers['x-change-reason'];
      const reply = await route.handler({
        params: valid.params,
        query: valid.query,
        body: valid.body,
        actor: actor ? { ...actor, reason: typeof reason === 'string' ? reason : undefined } : (null as never),
        services,
        req,
        res,
      });
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      res.status(reply.status);
      if (reply.body === undefined) res.end();
      else if (reply.contentType) res.type(reply.contentType).send(reply.body);
      else res.type('application/json').send(JSON.stringify(reply.body));
    } catch (err) {
      next(err);
    }
  });
}

function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info(
        {
          requestId,
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}
