import type { Request } from 'express';
import type { ResponseDoc } from '../route';

/** Response headers as documented in OpenAPI. */
export const ETAG_HEADER = { ETag: { description: 'Strong entity tag of this version; send it back in If-Match.', schema: { type: 'string' } } };
export const LOCATION_HEADER = { Location: { description: 'URL of the created resource.', schema: { type: 'string' } } };

export function ifMatchOf(req: Request): string | undefined {
  const v = req.headers['if-match'];
  return typeof v === 'string' ? v : undefined;
}

export const noContent = (description: string): ResponseDoc => ({ description });
