import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

/**
 * Checks an HTTP response against openapi.yaml, so that a test fails when the server answers with
 * something the document does not promise: a status the operation does not list, a content type it
 * does not list, a body that does not match the schema (including a field the schema does not name
 * — the document's schemas allow extra fields, the check does not), a header the response does not
 * document, or a required header that is missing. Problem bodies are checked like any other, against
 * the codes the operation lists for that status. Non-JSON bodies (CSV, YAML, HTML) are checked for
 * status and content type only.
 */

export interface ObservedResponse {
  method: string;
  /** Path and query as sent. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body; '' when there is none. */
  text: string;
}

/**
 * Headers of the transport and of the security middleware (helmet): the same on every response,
 * about how to handle the response rather than what it says, and so not part of the contract.
 */
const TRANSPORT_HEADERS = new Set([
  'cache-control',
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'vary',
  'content-security-policy',
  // a 405's list of the methods the path serves: checked against the document's operations above
  'allow',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]);

/** Static files of the docs page (Swagger UI's scripts and styles): served, but outside the API contract. */
const OUTSIDE_CONTRACT = /^\/docs\/(assets\/|init\.js$)/;

const DOC_ID = 'urn:referral-service:openapi.yaml';

type Json = Record<string, unknown>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, Json>;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || type === 'text/json' || /^application\/[\w.-]+\+json$/.test(type);
}

/**
 * The document's object schemas name their properties but do not forbid others (so that clients
 * tolerate additions). The check is stricter: an object may carry only the properties it names.
 * Branches of an allOf are left open and their composition is closed with unevaluatedProperties.
 */
function closeObjects(node: unknown, inAllOf = false): unknown {
  if (Array.isArray(node)) return node.map((n) => closeObjects(n, inAllOf));
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === 'example' || key === 'examples') out[key] = value;
    else if (key === 'allOf') out[key] = (value as unknown[]).map((n) => closeObjects(n, true));
    else if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) {
      // A component extended through allOf is referred to in its open form (see closeDocument).
      const target = inAllOf ? value.replace('#/components/schemas/', '#/components/openSchemas/') : value;
      out[key] = `${DOC_ID}${target}`;
    } else out[key] = closeObjects(value);
  }
  const open = !('additionalProperties' in out) && !('unevaluatedProperties' in out);
  if (open && 'allOf' in out) out.unevaluatedProperties = false;
  else if (open && !inAllOf && 'properties' in out) out.additionalProperties = false;
  return out;
}

/** The document with closed schemas, plus each component schema in an open form for allOf. */
function closeDocument(document: Json): Json {
  const doc = closeObjects(document) as Json;
  const components = doc.components as Json;
  const schemas = ((document.components as Json).schemas ?? {}) as Record<string, unknown>;
  components.openSchemas = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, closeObjects(schema, true)]));
  return doc;
}

export class Conformance {
  private readonly ajv: Ajv2020;
  private readonly operations: Operation[] = [];
  private readonly problem: ValidateFunction;
  private readonly compiled = new WeakMap<object, ValidateFunction>();
  private readonly headers: Record<string, Json>;

  constructor(document: Json) {
    const doc = closeDocument(document);
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: DOC_ID, components: doc.components });
    this.headers = ((doc.components as Json).headers ?? {}) as Record<string, Json>;
    for (const [template, item] of Object.entries(doc.paths as Record<string, Json>)) {
      const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(item)) {
        if (method === 'parameters') continue;
        this.operations.push({ method, template, pattern, responses: (op as Json).responses as Record<string, Json> });
      }
    }
    this.problem = this.ajv.compile({ $ref: `${DOC_ID}#/components/schemas/Problem` });
  }

  /** Every way the response departs from the document; empty when it conforms. */
  check(res: ObservedResponse): string[] {
    // Express routes without strict routing: /docs/ is /docs.
    const pathname = new URL(res.url, 'http://localhost').pathname.replace(/(.)\/$/, '$1');
    if (OUTSIDE_CONTRACT.test(pathname)) return [];
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const candidates = this.operations.filter((o) => o.pattern.test(pathname));
    // HEAD is GET without the body (Express answers it for every GET route).
    const head = res.method.toLowerCase() === 'head';
    const op = candidates.find((o) => o.method === (head ? 'get' : res.method.toLowerCase()));
    if (!op) {
      // No such operation: a path the document has answers 405 with Allow naming the methods it
      // documents (GET implies HEAD); a path it does not have answers 404. Either as a problem.
      const issues: string[] = [];
      const expected = candidates.length > 0 ? 405 : 404;
      if (res.status !== expected) issues.push(`no operation ${res.method} ${pathname} is documented, so the answer should be ${expected}, yet it was ${res.status}`);
      if (expected === 405) {
        const allow = candidates.flatMap((o) => (o.method === 'get' ? ['GET', 'HEAD'] : [o.method.toUpperCase()]));
        const sent = String(res.headers.allow ?? '').split(',').map((m) => m.trim()).filter(Boolean);
        if ([...sent].sort().join() !== [...allow].sort().join()) issues.push(`405 must carry Allow: ${allow.join(', ')}; it carried ${sent.join(', ') || 'none'}`);
      }
      // text/json: the same problem for a client whose Accept prefers it (SPEC §2).
      if (contentType !== 'application/problem+json' && contentType !== 'text/json') issues.push(`expected application/problem+json, got ${contentType || 'no content type'}`);
      else if (!head) issues.push(...this.validate(this.problem, res.text, 'body'));
      return issues;
    }

    const where = `${res.method.toUpperCase()} ${op.template} → ${res.status}`;
    const doc = op.responses[String(res.status)];
    if (!doc) return [`${where}: status ${res.status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`];

    const issues: string[] = [];
    const content = (doc.content ?? {}) as Record<string, { schema?: Json }>;
    if (res.text.length === 0) {
      if (Object.keys(content).length > 0 && !head) issues.push(`${where}: the response has no body, the document promises ${Object.keys(content).join(' or ')}`);
    } else if (!(contentType in content)) {
      issues.push(`${where}: content type ${contentType || '(none)'} is not documented (documented: ${Object.keys(content).join(', ') || 'no body'})`);
    } else if (isJsonMediaType(contentType) && content[contentType]!.schema) {
      issues.push(...this.validate(this.compile(content[contentType]!.schema!), res.text, `${where}: body`));
    }

    const documented = new Map(
      Object.entries((doc.headers ?? {}) as Record<string, Json>).map(([name, h]) => [name.toLowerCase(), this.resolveHeader(h)]),
    );
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || TRANSPORT_HEADERS.has(name.toLowerCase())) continue;
      const header = documented.get(name.toLowerCase());
      if (!header) {
        issues.push(`${where}: header ${name} is not documented`);
        continue;
      }
      const schema = header.schema as Json | undefined;
      const text = Array.isArray(value) ? value.join(', ') : value;
      const parsed = schema?.type === 'integer' && /^-?\d+$/.test(text) ? Number(text) : text;
      if (schema) issues.push(...this.validate(this.compile(schema), JSON.stringify(parsed), `${where}: header ${name}`));
    }
    for (const [name, header] of documented) {
      if (header.required === true && res.headers[name] === undefined) issues.push(`${where}: required header ${name} is missing`);
    }
    return issues;
  }

  /** Throws an assertion error naming every departure from the document. */
  assert(res: ObservedResponse): void {
    const issues = this.check(res);
    if (issues.length === 0) return;
    const body = res.text.length > 600 ? `${res.text.slice(0, 600)}…` : res.text;
    throw new Error(
      `The response to ${res.method.toUpperCase()} ${res.url} does not match openapi.yaml:\n  - ${issues.join('\n  - ')}\n  body: ${body}`,
    );
  }

  private resolveHeader(header: Json): Json {
    const ref = header.$ref;
    if (typeof ref !== 'string') return header;
    const resolved = this.headers[ref.split('/').pop()!];
    if (!resolved) throw new Error(`openapi.yaml: unresolved header ${ref}`);
    return resolved;
  }

  private compile(schema: Json): ValidateFunction {
    let fn = this.compiled.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.compiled.set(schema, fn);
    }
    return fn;
  }

  private validate(fn: ValidateFunction, text: string, what: string): string[] {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return [`${what} is not JSON`];
    }
    if (fn(value)) return [];
    return (fn.errors ?? []).map((e) => {
      const extra = e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties'
        ? ` (${JSON.stringify((e.params as { additionalProperty?: string; unevaluatedProperty?: string }).additionalProperty ?? (e.params as { unevaluatedProperty?: string }).unevaluatedProperty)} is not documented)`
        : e.keyword === 'enum'
          ? ` (allowed: ${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)})`
          : '';
      return `${what}${e.instancePath || ''} ${e.message}${extra}`;
    });
  }
}

let shared: Conformance | undefined;

/** The checker for the committed openapi.yaml (loaded once per test run). */
export function conformance(): Conformance {
  shared ??= new Conformance(parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../openapi.yaml'), 'utf8')) as Json);
  return shared;
}
