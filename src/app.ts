import crypto from 'node:crypto';
import { once } from 'node:events';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { BusinessCalendar, type Clock } from './clock';
import { DEFAULT_STATEMENT_SETTINGS, DEFAULT_WEBHOOK_SETTINGS, type ApprovalMode, type StatementSettings, type WebhookSettings } from './config';
import { ApiError, validationFailed, type FieldError } from './domain/errors';
import { authorise } from './http/auth';
import { ifNoneMatchNames } from './http/conditional';
import { docsRouter } from './http/docs';
import { IdempotencyStore, isReplayable, type StoredResponse } from './http/idempotency';
import { jsonBody, utf8Text } from './http/json-body';
import { securityHeaders } from './http/security-headers';
import { PROBLEM_CONTENT_TYPE, errorHandler, notFoundHandler, notServed, problemBody } from './http/problem';
import { negotiate } from './http/negotiation';
import { textJson } from './http/text-json';
import { RateLimiter } from './http/rate-limit';
import { mayAnswerWithoutBody, representationsOf, type Reply, type RouteDef } from './http/route';
import { apiRoutes } from './http/routes';
import { apiRouter } from './http/api-router';
import { validateRequest } from './http/validate';
import { buildOpenApiDocument } from './openapi/document';
import { createServices, type Services } from './services';
import { KeyCache } from './services/api-key.service';
import { WebhookDispatcher } from './services/webhook/dispatcher';
import type { Actor } from './services/context';
import { PeriodicWorker, type BackgroundWorker } from './workers';

export interface AppDeps {
  db: Knex;
  clock: Clock;
  businessTimeZone: string;
  adminApiKey: string | undefined;
  logger: Logger;
  rateLimitPerMinute?: number;
  /** How often revocations made through other instances are looked for (ms); 0 = never. */
  keyPollMs?: number;
  /** About how many revenue lines a settlement partition holds. */
  settlementPartitionLines?: number;
  /** SETTLEMENT_LEASE_SECONDS (default 30). */
  settlementLeaseSeconds?: number;
  approvalMode?: ApprovalMode;
  /**
   * Told of every answered request, with the route's template (`/v1/bunits/{bunitId}`, never the
   * raw URL; UNMATCHED_ROUTE for a path no route has): the runtime passes the metrics' histogram.
   */
  observeRequest?: (method: string, route: string, status: number, seconds: number) => void;
  /** Events and webhooks (SPEC §13); default: delivery on, public https only, the schedule of the spec. */
  webhooks?: Partial<WebhookSettings>;
  /** Statements after the run (SPEC §15): auto-acceptance; default 5 days, looked for every minute. */
  statements?: Partial<StatementSettings>;
}

/** The route label of a request no route matched (one label for every such path). */
export const UNMATCHED_ROUTE = 'unmatched';

export interface App {
  app: Express;
  services: Services;
  keys: KeyCache;
  /**
   * The app's background work (the poll for revocations made elsewhere, the hourly sweep of
   * expired idempotency keys), not started: the runtime starts and stops it; tests mostly leave it off.
   */
  workers: BackgroundWorker[];
  /** From now on /readyz answers 503: the instance is shutting down and takes no new traffic. */
  drain(): void;
}

const MAX_REASON_LENGTH = 500;
/** Response headers a replayed idempotent response carries again. */
const REPLAYED_HEADERS = ['location', 'etag', 'content-type', 'content-disposition'];

/** Builds the Express app; no listen() here (server.ts does that), so tests drive it directly. */
export function createApp(deps: AppDeps): App {
  const calendar = new BusinessCalendar(deps.clock, deps.businessTimeZone);
  const keys = new KeyCache(deps.db, deps.adminApiKey);
  const webhooks = { ...DEFAULT_WEBHOOK_SETTINGS, ...deps.webhooks };
  const webhookUrlPolicy = { allowHttp: webhooks.allowHttp, allowPrivate: webhooks.allowPrivate };
  const statements = { ...DEFAULT_STATEMENT_SETTINGS, ...deps.statements };
  const services = createServices(
    {
      db: deps.db,
      calendar,
      logger: deps.logger,
      partitionLines: deps.settlementPartitionLines,
      settlementLeaseSeconds: deps.settlementLeaseSeconds,
      approvalMode: deps.approvalMode,
      webhookUrlPolicy,
      statementAcceptDays: statements.acceptDays,
    },
    { onKeyRevoked: () => keys.clear() },
  );
  const idempotency = new IdempotencyStore(deps.db, calendar);
  const limiter = new RateLimiter(deps.rateLimitPerMinute ?? 0, deps.clock);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(securityHeaders());
  app.use(requestLog(deps.logger, deps.observeRequest));
  app.use(textJson);
  app.use(jsonBody);

  const context: MountContext = { logger: deps.logger, services, keys, idempotency, limiter };
  app.use(apiRouter(apiRoutes, (route) => operation(route, context)));

  servedOnly(app, '/healthz').get((_req, res) => {
    res.json({ status: 'ok' });
  });
  let draining = false;
  servedOnly(app, '/readyz').get(async (_req, res) => {
    if (draining) {
      res.status(503).json({ status: 'unavailable' });
      return;
    }
    try {
      await deps.db.raw('select 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable' });
    }
  });

  // Built on the first request for it, not at start: generating and printing the document is
  // most of the time to ready and a few MB that an instance no one reads the docs of never needs.
  let documents: { json: string; yaml: string } | null = null;
  const documentsOf = () => {
    if (!documents) {
      const document = buildOpenApiDocument();
      documents = { json: JSON.stringify(document), yaml: stringify(document, { lineWidth: 0, aliasDuplicateObjects: false }) };
    }
    return documents;
  };
  servedOnly(app, '/openapi.json').get((_req, res) => {
    res.type('application/json').send(documentsOf().json);
  });
  servedOnly(app, '/openapi.yaml').get((_req, res) => {
    res.type('application/yaml').send(documentsOf().yaml);
  });
  app.use(docsRouter());
  servedOnly(app, '/').get((_req, res) => {
    res.redirect('/docs');
  });

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return {
    app,
    services,
    keys,
    workers: [
      new PeriodicWorker('key-revocations', deps.keyPollMs ?? 1000, () => keys.poll(), deps.logger),
      new PeriodicWorker('idempotency-sweep', 60 * 60 * 1000, () => idempotency.sweep(), deps.logger),
      new PeriodicWorker('event-retention', 60 * 60 * 1000, () => services.events.sweep(webhooks.retentionDays), deps.logger),
      // Statements issued STATEMENT_ACCEPT_DAYS days ago: whichever instance (or settle command) gets there first accepts them, once.
      new PeriodicWorker('statement-acceptance', statements.acceptIntervalMs, () => services.statementAcceptance.acceptDue(), deps.logger),
      ...(webhooks.delivery
        ? [new WebhookDispatcher(services.ctx, { retrySchedule: webhooks.retrySchedule, policy: webhookUrlPolicy, pollMs: webhooks.pollMs, leaseMs: webhooks.leaseSeconds * 1000 }, deps.logger)]
        : []),
    ],
    drain: () => {
      draining = true;
    },
  };
}

interface MountContext {
  logger: Logger;
  services: Services;
  keys: KeyCache;
  idempotency: IdempotencyStore;
  limiter: RateLimiter;
}

/** A public path that answers GET (and HEAD) only, and 405 to any other method. Add its handler with .get(). */
function servedOnly(app: Express, path: string): { get(handler: express.RequestHandler): void } {
  const route = app.route(path);
  return {
    get(handler) {
      route.get(handler).all(notServed(path, ['GET']));
    },
  };
}

/**
 * The way every request travels: authenticate and authorise (401/403), rate-limit (429), validate
 * (400), honour Idempotency-Key on POST, call the handler, send its reply.
 */
function operation(route: RouteDef, ctx: MountContext) {
  const representations = representationsOf(route);
  const bodiless = mayAnswerWithoutBody(route);
  return async (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = route.path;
    let held: { id: number; attempt: string; resource: string | null } | null = null;
    try {
      const rawBunit = req.params.bunitId;
      const bunitId = typeof rawBunit === 'string' && /^[1-9]\d{0,15}$/.test(rawBunit) ? Number(rawBunit) : undefined;
      const actor = (await authorise(req, route.access, (secret) => ctx.keys.resolve(secret), bunitId)) as Actor;
      ctx.limiter.hit(actor.keyId === null ? `env:${actor.name}` : `key:${actor.keyId}`);
      const mediaType = negotiate(req, representations, bodiless) ?? 'application/json';
      const reason = changeReason(req);
      const valid = validateWithHeaders(route, req, reason);

      const idempotencyKey = route.method === 'post' ? IdempotencyStore.keyOf(req) : undefined;
      if (idempotencyKey !== undefined) {
        const begun = await ctx.idempotency.begin(actor, idempotencyKey, req);
        if (begun.kind === 'replay') {
          send(req, res, { ...begun.response, headers: { ...begun.response.headers, 'Idempotent-Replayed': 'true' } });
          return;
        }
        held = begun;
      }

      const reply = await route.handler({
        params: valid.params,
        query: valid.query,
        body: valid.body,
        actor: { ...actor, reason: reason.value },
        services: ctx.services,
        req,
        res,
        mediaType,
        idempotency: held ? ctx.idempotency.handle(held) : undefined,
      });
      if (reply.stream) {
        // A streamed answer is never stored for replay (SPEC §6.5: a dry run changes nothing).
        if (held) await ctx.idempotency.release(held.id, held.attempt);
        held = null;
        await sendStream(res, reply, ctx.logger);
        return;
      }
      const contentType = reply.body === undefined ? undefined : (reply.contentType ?? 'application/json; charset=utf-8');
      const response: StoredResponse = {
        status: reply.status,
        headers: { ...(reply.headers ?? {}), ...(contentType ? { 'Content-Type': contentType } : {}) },
        body: reply.body === undefined ? '' : typeof reply.body === 'string' && reply.contentType ? reply.body : JSON.stringify(reply.body),
      };
      if (held) {
        const replay = reply.replayBody === undefined ? response : { ...response, body: JSON.stringify(reply.replayBody) };
        await ctx.idempotency.complete(held.id, held.attempt, storable(replay));
      }
      send(req, res, response);
    } catch (err) {
      if (held) {
        try {
          if (isReplayable(err)) {
            const requestId = res.locals.requestId as string | undefined;
            await ctx.idempotency.complete(held.id, held.attempt, {
              status: err.status,
              headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...(err.headers ?? {}) },
              body: problemBody(err, requestId),
            });
          } else {
            await ctx.idempotency.release(held.id, held.attempt);
          }
        } catch (storeErr) {
          next(storeErr);
          return;
        }
      }
      next(err);
    }
  };
}

/**
 * X-Change-Reason (SPEC §7.4), as UTF-8 text. Header bytes reach Node as Latin-1 characters, one a
 * byte; they are read back as the bytes they were and decoded as UTF-8 (what curl and browsers
 * send), so `grün – ✓` is stored as sent. Bytes that are not UTF-8 are refused rather than
 * guessed at (a Latin-1 reading would store other text than the client meant).
 */
function changeReason(req: Request): { value: string | undefined; error?: FieldError } {
  const raw = req.headers['x-change-reason'];
  if (raw === undefined) return { value: undefined };
  const value = typeof raw === 'string' ? utf8Text(Buffer.from(raw, 'latin1')) : undefined;
  if (value === undefined) return { value, error: { path: 'header.X-Change-Reason', message: 'must be UTF-8 text' } };
  if (value.length > MAX_REASON_LENGTH) return { value, error: { path: 'header.X-Change-Reason', message: `must be at most ${MAX_REASON_LENGTH} characters` } };
  return { value };
}

/** The route's validation, with a bad X-Change-Reason named among the other bad fields (one 400 for all). */
function validateWithHeaders(route: RouteDef, req: Request, reason: { error?: FieldError }): ReturnType<typeof validateRequest> {
  let valid: ReturnType<typeof validateRequest>;
  try {
    valid = validateRequest(route, { params: req.params, query: req.query, body: req.body });
  } catch (err) {
    if (!reason.error || !(err instanceof ApiError) || err.code !== 'validation-failed') throw err;
    throw validationFailed([...(err.errors ?? []), reason.error]);
  }
  if (reason.error) throw validationFailed([reason.error]);
  return valid;
}

function storable(response: StoredResponse): StoredResponse {
  const headers = Object.fromEntries(Object.entries(response.headers).filter(([k]) => REPLAYED_HEADERS.includes(k.toLowerCase())));
  return { ...response, headers };
}

/** Sends a reply. A GET whose If-None-Match names the reply's ETag gets 304 Not Modified with no body. */
function send(req: Request, res: Response, response: StoredResponse): void {
  const etag = response.headers.ETag;
  if (etag !== undefined && (req.method === 'GET' || req.method === 'HEAD') && ifNoneMatchNames(req.headers['if-none-match'], etag)) {
    res.status(304).set('ETag', etag).end();
    return;
  }
  res.status(response.status).set(response.headers);
  if (response.body === '') res.end();
  else res.send(response.body);
}

/**
 * Writes a reply whose body is produced as it is sent (a dry run's statements, a run's export),
 * with backpressure: memory holds a chunk, not the answer. A failure after the head was sent
 * cuts the connection, so that a client never takes half an answer for a whole one.
 */
async function sendStream(res: Response, reply: Reply, logger: Logger): Promise<void> {
  const chunks = reply.stream!;
  res.status(reply.status).set({ ...(reply.headers ?? {}), 'Content-Type': reply.contentType ?? 'application/json; charset=utf-8' });
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await once(res, 'drain');
    }
    res.end();
  } catch (err) {
    logger.error({ err, requestId: res.locals.requestId }, 'a streamed answer failed after it had begun; the connection was cut');
    res.destroy();
  }
}

/**
 * The request id, and once the answer is sent one log line (info) and one observation of the
 * request's duration by method, route template and status (metrics).
 */
function requestLog(appLogger: Logger, observe: AppDeps['observeRequest']) {
  const logs = appLogger.isLevelEnabled('info');
  // The request line's fields are fixed and none can hold a secret (those travel in headers and
  // bodies, never logged): it skips the redaction pass every other line goes through.
  const logger = appLogger.child({}, { redact: { paths: [] } });
  // One listener for every response (no closure per request): what it needs is on the response.
  function finished(this: Response) {
    const ns = Number(process.hrtime.bigint() - (this.locals.startedAt as bigint));
    const req = this.req;
    if (logs) logger.info({ requestId: this.locals.requestId as string, method: req.method, url: req.originalUrl, status: this.statusCode, ms: ns / 1e6 }, 'request');
    if (observe) observe(req.method, routeLabel(req, this), this.statusCode, ns / 1e9);
  }
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
    res.locals.requestId = requestId;
    res.set('X-Request-Id', requestId);
    // A finish listener on every response costs time even when nothing would be done with it.
    if (!logs && !observe) return next();
    res.locals.startedAt = process.hrtime.bigint();
    res.on('finish', finished);
    next();
  };
}

/** The template of the route that answered (set by the /v1 pipeline; Express's own path for the public pages). */
function routeLabel(req: Request, res: Response): string {
  const template = res.locals.route as string | undefined;
  if (template !== undefined) return template;
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : UNMATCHED_ROUTE;
}
