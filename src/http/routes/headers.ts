import type { Request } from 'express';
import type { ResponseDoc, ResponseHeader } from '../route';

/** Response headers as documented in OpenAPI (components/headers in src/openapi/document.ts). */
export const ETAG_HEADER: ResponseHeader[] = ['ETag'];
export const LOCATION_HEADER: ResponseHeader[] = ['Location'];

export function ifMatchOf(req: Request): string | undefined {
  const v = req.headers['if-match'];
  return typeof v === 'string' ? v : undefined;
}

export const noContent = (description: string): ResponseDoc => ({ description });
