import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { parse } from 'lossless-json';
import { malformedJson, payloadTooLarge, unsupportedMediaType } from '../domain/errors';
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

function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
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
  if (!isJson(req)) {
    next(unsupportedMediaType(`Request bodies must be application/json, not ${req.headers['content-type'] ?? 'untyped'}.`));
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
    try {
      req.body = parse(text, null, parseNumber);
      next();
    } catch (e) {
      next(malformedJson(`The request body is not valid JSON: ${(e as Error).message}.`));
    }
  });
}
