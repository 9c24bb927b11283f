import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { parse } from 'lossless-json';
import { malformedJson, payloadTooLarge, unsupportedMediaType } from '../domain/errors';
import { JsonNumber } from '../schemas/common';

export const BODY_LIMIT = '1mb';

const readText = express.text({ type: () => true, limit: BODY_LIMIT });

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
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
  readText(req, res, (err?: unknown) => {
    if (err) {
      const type = (err as { type?: string }).type;
      if (type === 'entity.too.large') return next(payloadTooLarge(`The request body exceeds the limit of ${BODY_LIMIT}.`));
      if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
        return next(unsupportedMediaType('The request body must be UTF-8 JSON.'));
      }
      return next(err);
    }
    const text = typeof req.body === 'string' ? req.body : '';
    try {
      req.body = parse(text, null, parseNumber);
      next();
    } catch (e) {
      next(malformedJson(`The request body is not valid JSON: ${(e as Error).message}.`));
    }
  });
}
