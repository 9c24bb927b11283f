import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { parse } from 'lossless-json';
import { malformedJson, payloadTooLarge, unsupportedMediaType, validationFailed, type FieldError } from '../domain/errors';
import { JsonNumber } from '../schemas/common';

export const BODY_LIMIT = '1mb';

const readBytes = express.raw({ type: () => true, limit: BODY_LIMIT });
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of UTF-8 bytes, or undefined when they are not valid UTF-8 (never U+FFFD in their place). */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * What `req.body` holds when a GET, HEAD or DELETE came with a body: it is not read, and the
 * request is refused (400, src/http/validate.ts), so that a DELETE never archives now while its
 * body asked for something else (`{"at": …}`: DELETE takes its parameters from the query).
 */
export const BODY_NOT_ALLOWED = Symbol('a body on a method that takes none');

const TAKES_NO_BODY = new Set(['GET', 'HEAD', 'DELETE']);

function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // text/json: the seed's second media type (SPEC §2), read as JSON.
  return type === 'application/json' || type === 'text/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** A charset other than UTF-8 named in Content-Type, or null. */
function otherCharset(req: Request): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.headers['content-type'] ?? '');
  if (!m) return null;
  return /^utf-?8$/i.test(m[1]!) ? null : m[1]!;
}

/** Integers that fit a JS number stay numbers; any other number keeps its exact text. */
function parseNumber(text: string): number | JsonNumber {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
  }
  return new JsonNumber(text);
}

/**
 * Reads a JSON body without ever turning a decimal into a float: 415 for a body that is not JSON,
 * 413 past the size limit, 400 malformed-json for text that does not parse. No body: undefined.
 */
export function jsonBody(req: Request, res: Response, next: NextFunction): void {
  if (!hasBody(req)) {
    req.body = undefined;
    next();
    return;
  }
  if (TAKES_NO_BODY.has(req.method)) {
    req.body = BODY_NOT_ALLOWED;
    next();
    return;
  }
  if (!isJson(req)) {
    next(unsupportedMediaType(`Request bodies must be application/json (or text/json), not ${req.headers['content-type'] ?? 'untyped'}.`));
    return;
  }
  const charset = otherCharset(req);
  if (charset !== null) {
    next(unsupportedMediaType(`Request bodies must be UTF-8 JSON, not ${charset}.`));
    return;
  }
  readBytes(req, res, (err?: unknown) => {
    if (err) {
      const type = (err as { type?: string }).type;
      if (type === 'entity.too.large') return next(payloadTooLarge(`The request body exceeds the limit of ${BODY_LIMIT}.`));
      if (type === 'encoding.unsupported') {
        return next(unsupportedMediaType(`Content-Encoding ${req.headers['content-encoding']} is not supported (gzip, deflate or none).`));
      }
      // A compressed body that does not inflate, a body cut short: the client's bytes are wrong.
      const status = (err as { status?: number }).status;
      if (status === 400) return next(malformedJson('The request body could not be read (a broken compressed body, or one cut short).'));
      return next(err);
    }
    // JSON is UTF-8 (RFC 8259).
    const text = Buffer.isBuffer(req.body) ? utf8Text(req.body) : '';
    if (text === undefined) {
      next(malformedJson('The request body is not valid UTF-8.'));
      return;
    }
    let body: unknown;
    try {
      body = parse(text, null, parseNumber);
    } catch (e) {
      next(malformedJson(`The request body is not valid JSON: ${(e as Error).message}.`));
      return;
    }
    // Only a \u escape can make a lone surrogate: the UTF-8 decoder refuses encoded ones.
    const broken = text.includes('\\u') ? loneSurrogates(body, 'body') : [];
    if (broken.length > 0) {
      next(validationFailed(broken));
      return;
    }
    req.body = body;
    next();
  });
}

/**
 * Strings (values and field names) holding a lone UTF-16 surrogate, written as a JSON escape
 * ("\ud800"): no text a person or a system means, and one that neither UTF-8 storage nor
 * PostgreSQL can hold (it would come back as U+FFFD, so a stored value would no longer equal
 * what was sent). Each is named by its path, the field name with the surrogate spelled out.
 */
function loneSurrogates(value: unknown, path: string, found: FieldError[] = []): FieldError[] {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) found.push({ path, message: WELL_FORMED });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => loneSurrogates(item, `${path}.${i}`, found));
  } else if (value !== null && typeof value === 'object' && !(value instanceof JsonNumber)) {
    for (const [key, item] of Object.entries(value)) {
      if (!key.isWellFormed()) found.push({ path: `${path}.${spelledOut(key)}`, message: `${WELL_FORMED} (in the field name)` });
      else loneSurrogates(item, `${path}.${key}`, found);
    }
  }
  return found;
}

const WELL_FORMED = 'must be well-formed Unicode: a lone UTF-16 surrogate (such as \\ud800) is not text';

const spelledOut = (key: string) =>
  key.replace(/[\ud800-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
