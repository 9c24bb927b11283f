/**
 * Every error the API answers with is an ApiError; the error middleware turns it into RFC 9457
 * problem+json. Codes are the stable strings of SPEC §9.
 */
export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.name = 'ApiError';
  }

  get detail(): string {
    return this.message;
  }
}

export const validationFailed = (errors: FieldError[], detail?: string) =>
  new ApiError(
    400,
    'validation-failed',
    'Validation failed',
    detail ?? `The request has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}.`,
    errors,
  );

export const malformedJson = (detail: string) => new ApiError(400, 'malformed-json', 'Malformed JSON', detail);

export const unauthenticated = (detail = 'A valid API key is required: Authorization: Bearer <key>.') =>
  new ApiError(401, 'unauthenticated', 'Unauthenticated', detail, undefined, { 'WWW-Authenticate': 'Bearer' });

export const forbidden = (detail: string) => new ApiError(403, 'forbidden', 'Forbidden', detail);

export const notFound = (detail: string) => new ApiError(404, 'not-found', 'Not found', detail);

/** A method the path does not serve; `allow` lists the ones it does (the Allow header, RFC 9110 §15.5.6). */
export const methodNotAllowed = (method: string, path: string, allow: string[]) =>
  new ApiError(405, 'method-not-allowed', 'Method not allowed', `${method} is not served on ${path}; it serves ${allow.join(', ')}.`, undefined, {
    Allow: allow.join(', '),
  });

/** The Accept header names no representation the operation has (RFC 9110 §15.5.7). */
export const notAcceptable = (detail: string) => new ApiError(406, 'not-acceptable', 'Not acceptable', detail);

export const conflict = (code: string, detail: string, title = 'Conflict') => new ApiError(409, code, title, detail);

export const preconditionFailed = (detail: string) =>
  new ApiError(412, 'precondition-failed', 'Precondition failed', detail);

export const payloadTooLarge = (detail: string) => new ApiError(413, 'payload-too-large', 'Payload too large', detail);

export const unsupportedMediaType = (detail: string) =>
  new ApiError(415, 'unsupported-media-type', 'Unsupported media type', detail);

export const unprocessable = (code: string, detail: string, errors?: FieldError[]) =>
  new ApiError(422, code, 'Unprocessable request', detail, errors);

export const rateLimited = (retryAfterSeconds: number) =>
  new ApiError(429, 'rate-limited', 'Too many requests', `Rate limit exceeded; retry after ${retryAfterSeconds} s.`, undefined, {
    'Retry-After': String(retryAfterSeconds),
  });

export const unavailable = (detail: string, retryAfterSeconds: number) =>
  new ApiError(503, 'unavailable', 'Service unavailable', detail, undefined, { 'Retry-After': String(retryAfterSeconds) });
