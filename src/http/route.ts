import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Capability } from '../domain/access';
import type { ProblemCode } from '../openapi/problems';
import type { Actor } from '../services/context';
import type { Services } from '../services';

/**
 * A route is declared once: its schemas validate the request and document it in OpenAPI, the
 * capability it needs drives authorisation, and its handler calls one service function.
 */
export type Access = 'public' | Capability;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Content type for a non-JSON body (CSV, YAML, HTML). */
  contentType?: string;
  /**
   * What a replay of this answer (Idempotency-Key) returns instead of `body`, when the body holds
   * something that must be shown once and never stored (a new key's secret).
   */
  replayBody?: unknown;
  /**
   * A body produced while it is sent (`body` is then left out): memory holds one chunk at a
   * time. Such an answer is never stored for an idempotent replay.
   */
  stream?: AsyncIterable<string>;
}

/** Response headers an operation documents beyond the ones every response carries (X-Request-Id). */
export type ResponseHeader = 'ETag' | 'Location' | 'Content-Disposition';

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** A realistic example of the JSON body. */
  example?: unknown;
  /** Other media types the same response may take (e.g. text/csv). */
  alternatives?: Record<string, { schema: z.ZodType | object; example?: string }>;
  /** Headers this response always carries. */
  headers?: ResponseHeader[];
}

export interface HandlerContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  actor: Actor;
  services: Services;
  req: Request;
  res: Response;
  /**
   * The representation the request's Accept header chose among those the operation documents
   * (`application/json` unless it has others, see `representationsOf`); a handler with
   * alternatives (text/csv) answers in this one.
   */
  mediaType: string;
  /** The request's Idempotency-Key, when it carries one (a POST): for a handler whose work outlasts the key's lease. */
  idempotency?: IdempotencyHandle | undefined;
}

/** What a long request may do with the Idempotency-Key it holds (SPEC §7.2). */
export interface IdempotencyHandle {
  /** What an earlier attempt of this request began (`remember`ed), if it died before it answered. */
  readonly resource: string | null;
  /** Notes what this attempt began, so that a retry after a crash continues it. */
  remember(resource: string): Promise<void>;
  /** Extends the key's lease: a retry meanwhile answers 409 idempotency-key-in-use. */
  renew(): Promise<void>;
}

export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI style: /v1/bunits/{bunitId} */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  access: Access;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** The body may be left out entirely (it is then validated as {}). */
  bodyOptional?: boolean;
  bodyExample?: unknown;
  responses: Record<number, ResponseDoc>;
  /**
   * Problem codes this operation can answer with, beyond the ones the OpenAPI document adds to
   * every operation of its kind (see src/openapi/document.ts). `precondition-failed` also
   * documents the If-Match request header.
   */
  problems: ProblemCode[];
  handler(ctx: HandlerContext<P, Q, B>): Promise<Reply>;
}

type Out<S> = S extends z.ZodType<infer O> ? O : undefined;

/** Typing helper: infers the handler's params, query and body from the schemas. */
export function defineRoute<
  PS extends z.ZodType | undefined = undefined,
  QS extends z.ZodType | undefined = undefined,
  BS extends z.ZodType | undefined = undefined,
>(
  def: Omit<RouteDef<Out<PS>, Out<QS>, Out<BS>>, 'params' | 'query' | 'body'> & { params?: PS; query?: QS; body?: BS },
): RouteDef {
  return def as unknown as RouteDef;
}

/**
 * The media types an operation answers with, in the order its responses document them: JSON for
 * a response with a schema, then each alternative (text/csv). Declared once, in `responses`, so
 * that content negotiation (406) and the OpenAPI document cannot disagree. Empty for an operation
 * that answers with no body (204).
 */
export function representationsOf(route: Pick<RouteDef, 'responses'>): string[] {
  const types = new Set<string>();
  for (const [status, doc] of Object.entries(route.responses)) {
    if (!status.startsWith('2')) continue;
    if (doc.schema) types.add('application/json');
    for (const type of Object.keys(doc.alternatives ?? {})) types.add(type);
  }
  return [...types];
}

/** Whether one of the route's successes has no body (204): see `negotiate`. */
export function mayAnswerWithoutBody(route: Pick<RouteDef, 'responses'>): boolean {
  return Object.entries(route.responses).some(([status, doc]) => status.startsWith('2') && !doc.schema && !doc.alternatives);
}
