import type { Request } from 'express';
import { notAcceptable } from '../domain/errors';

const PROBLEM_JSON = 'application/problem+json';
/** The seed's second name for JSON (SPEC §2): wherever an operation answers JSON, it answers text/json. */
const TEXT_JSON = 'text/json';

/**
 * The representation to answer with, chosen by the Accept header among `types` (the operation's
 * own, first the default), or 406 not-acceptable when it names none of them. No Accept, `*` and
 * `application/*` take the first. An Accept that names `application/problem+json` and nothing
 * the operation has is a client that reads problems as JSON: it gets the default (JSON), and its
 * errors come as problem+json as they always do (errors are never negotiated). An operation with
 * no representation (204) has nothing to negotiate, and one that may answer without a body
 * (`bodiless`: a DELETE that answers 204, or 202 with a change request in maker-checker mode)
 * is not refused for an Accept it might never need: it answers its default.
 */
export function negotiate(req: Request, types: readonly string[], bodiless = false): string | undefined {
  if (types.length === 0) return undefined;
  const accept = req.headers.accept;
  // The common cases first: no header, or anything at all (most HTTP clients).
  if (accept === undefined || accept === '*/*' || accept.trim() === '') return types[0];
  // text/json last, so that it never wins a tie against the operation's own types (text/* → CSV).
  const chosen = preferred(accept, [...types, ...(types.includes('application/json') ? [TEXT_JSON] : []), PROBLEM_JSON]);
  if (chosen === PROBLEM_JSON) return types[0];
  // The same JSON, labelled text/json on its way out (src/http/text-json.ts).
  if (chosen === TEXT_JSON) return 'application/json';
  if (chosen !== undefined) return chosen;
  if (bodiless) return types[0];
  throw notAcceptable(`This operation answers ${types.join(' or ')}, which the Accept header (${accept.slice(0, 200)}) does not name.`);
}

interface Range {
  type: string;
  subtype: string;
  q: number;
}

/**
 * RFC 9110 §12.5.1: each type takes the quality of the most specific range that matches it; the
 * highest quality above 0 wins, ties in the order given. Parameters other than q (a charset, say)
 * are not held against a type: `application/json; charset=utf-8` asks for what we send.
 */
export function preferred(accept: string, types: readonly string[]): string | undefined {
  const ranges: Range[] = [];
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';');
    const [type, subtype = '*'] = range!.trim().toLowerCase().split('/');
    if (!type) continue;
    const qParam = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    ranges.push({ type, subtype: subtype.trim(), q: Number.isFinite(q) ? q : 0 });
  }
  let best: { type: string; q: number } | undefined;
  for (const candidate of types) {
    const [type, subtype] = candidate.split('/') as [string, string];
    let q = 0;
    let specificity = -1;
    for (const r of ranges) {
      const s = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' ? 0 : -1;
      if (s > specificity) {
        specificity = s;
        q = r.q;
      }
    }
    if (q > 0 && (best === undefined || q > best.q)) best = { type: candidate, q };
  }
  return best?.type;
}
