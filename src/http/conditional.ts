/**
 * If-None-Match (RFC 9110 §13.1.2): does the header name this ETag? Weak comparison (W/"x" and
 * "x" are the same tag), `*` names any, a list names each of its tags. Evaluated whatever the
 * request's Cache-Control says: `no-cache` (sent by fetch() and Postman) speaks to caches on the
 * way, not to the origin, which the `fresh` package ignores by answering "not fresh" for it.
 */
export function ifNoneMatchNames(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '*') return true;
  const wanted = opaque(etag);
  for (const tag of text.match(ENTITY_TAG) ?? []) if (opaque(tag) === wanted) return true;
  return false;
}

/** An entity tag: an optional W/ and a quoted string (which may hold commas, so no split on them). */
const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
