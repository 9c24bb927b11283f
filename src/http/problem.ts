import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../db';
import { ApiError, methodNotAllowed, notFound, unavailable, validationFailed } from '../domain/errors';

export const PROBLEM_TYPE_BASE = 'urn:referral-service:problem:';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export function problemBody(err: ApiError, requestId: string | undefined): string {
  return JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.detail,
    code: err.code,
    ...(requestId ? { requestId } : {}),
    ...(err.errors ? { errors: err.errors } : {}),
  });
}

export function sendProblem(res: Response, err: ApiError, requestId: string | undefined): void {
  res
    .status(err.status)
    .set({ ...(err.headers ?? {}), 'Content-Type': PROBLEM_CONTENT_TYPE })
    .send(problemBody(err, requestId));
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(notFound(`No route for ${req.method} ${req.path}.`));
}

/**
 * The answer to a method the path `template` does not serve: 405 method-not-allowed, with
 * `Allow` naming those it does (GET implies HEAD, which Express answers for every GET route).
 * Mounted after a path's own methods; the route template labels the request's metrics.
 */
export function notServed(template: string, methods: readonly string[]) {
  const allow = methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
  return (req: Request, res: Response, next: NextFunction): void => {
    res.locals.route = template;
    next(methodNotAllowed(req.method, template, allow));
  };
}

/** The one place errors become responses. Anything unexpected is a 500 with a generic body and a full log line. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const requestId = res.locals.requestId as string | undefined;
    if (err instanceof ApiError) {
      sendProblem(res, err, requestId);
      return;
    }
    // Express's own client errors (e.g. a path with malformed percent-encoding) are the client's fault.
    const status = (err as { status?: unknown; expose?: unknown } | null)?.status;
    if (status === 400 && (err instanceof URIError || (err as { expose?: unknown }).expose === true)) {
      sendProblem(res, validationFailed([{ path: 'url', message: 'is not a well-formed URL' }], 'The request URL is malformed.'), requestId);
      return;
    }
    if (isDatabaseUnavailable(err)) {
      logger.warn({ err, requestId, method: req.method, url: req.originalUrl }, 'database unavailable');
      if (!res.headersSent) sendProblem(res, unavailableProblem(err), requestId);
      else res.end();
      return;
    }
    logger.error({ err, requestId, method: req.method, url: req.originalUrl }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, new ApiError(500, 'internal', 'Internal error', 'An unexpected error occurred. Quote the request id when you report it.'), requestId);
  };
}

/** The database is unreachable or locked for too long: 503, never a 500 (SPEC §14). */
export function unavailableProblem(err: unknown): ApiError {
  if (err instanceof DatabaseUnavailableError) return unavailable(err.message, err.retryAfterSeconds);
  return unavailable('The database cannot be reached right now; nothing was changed. Retry after 5 s.', 5);
}
