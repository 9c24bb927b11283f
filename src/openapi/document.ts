import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { stringify } from 'yaml';
import { z } from 'zod';
import { ProblemSchema } from '../schemas/common';
import { mayAnswerWithoutBody, representationsOf, type ResponseHeader, type RouteDef } from '../http/route';
import { apiRoutes } from '../http/routes';
import { PROBLEMS, STATUS_TITLES, problemExample, type ProblemCode } from './problems';

/**
 * The OpenAPI 3.1 document, generated from the routes (src/http/routes) and their Zod schemas.
 * What every operation of a kind has in common — the headers of SPEC §7 (Authorization, the
 * request id, Idempotency-Key on POST, If-Match where an ETag is honoured, X-Change-Reason on
 * changes) and the problem codes of §9 that the request pipeline in src/app.ts can answer with —
 * is added here, once, so that a route declares only what is its own.
 */

type HeaderName = ResponseHeader | 'X-Request-Id' | 'Retry-After' | 'Idempotent-Replayed' | 'WWW-Authenticate';

const RESPONSE_HEADERS: Record<HeaderName, { description: string; required: boolean; schema: object; example?: unknown }> = {
  'X-Request-Id': {
    required: true,
    description:
      'Id of this request, on every response: the one the client sent in `X-Request-Id` (if it was 1-128 letters, digits, `_`, `.` or `-`), else a new UUID. The service logs it with every line about the request; quote it when reporting a problem.',
    schema: { type: 'string' },
    example: '5b0e7d1c-2f4a-4a57-9d8e-0c6c1f2b9a31',
  },
  ETag: {
    required: true,
    description:
      'Strong entity tag of the version returned. Send it back in `If-Match` on PUT or DELETE so that a change made by someone else in the meantime is not overwritten (412 otherwise), or in `If-None-Match` on GET to be told (304) that your copy is still current.',
    schema: { type: 'string' },
    example: '"referral-17-v3.1.1"',
  },
  Location: {
    required: true,
    description: 'Path of the resource created (for revenue: of the contract’s revenue lines).',
    schema: { type: 'string' },
    example: '/v1/bunits/1/referrals/17',
  },
  'Content-Disposition': {
    required: false,
    description: 'With `Accept: text/csv`: suggests a file name for the download.',
    schema: { type: 'string' },
    example: 'attachment; filename="statement-88.csv"',
  },
  'Retry-After': {
    required: true,
    description: 'Seconds to wait before sending the request again (429: this API key is over its rate limit; 503: the database is unreachable or busy).',
    schema: { type: 'integer', minimum: 1 },
    example: 12,
  },
  'Idempotent-Replayed': {
    required: false,
    description:
      'Present (`true`) when this is a replay: the request repeated an `Idempotency-Key` of the last 24 hours with the same body, so nothing was done again and the first answer (status, body, Location, ETag) is returned as it was.',
    schema: { type: 'string', enum: ['true'] },
    example: 'true',
  },
  'WWW-Authenticate': {
    required: true,
    description: 'The authentication scheme the API expects.',
    schema: { type: 'string', enum: ['Bearer'] },
    example: 'Bearer',
  },
};

const REQUEST_HEADERS = {
  'X-Request-Id': {
    in: 'header',
    name: 'X-Request-Id',
    required: false,
    description:
      'Your correlation id for this request (1-128 letters, digits, `_`, `.` or `-`). It is logged and returned in the `X-Request-Id` response header; without it (or with another form) the service makes one.',
    schema: { type: 'string', pattern: '^[\\w.-]{1,128}$' },
    example: 'billing-2026-11-23-0001',
  },
  'Idempotency-Key': {
    in: 'header',
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes a retry safe: any unique string (a UUID, or your own id of the batch). Within 24 hours, the same key from the same API key on the same method and path with the same body returns the first answer again, with `Idempotent-Replayed: true`, instead of doing the work twice (no second referral, no revenue booked twice, no second settlement). The same key with a different body: 422 `idempotency-key-mismatch`; while the first request is still running: 409 `idempotency-key-in-use`.',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    example: '4f7c2a10-ingest-2026-10',
  },
  'If-Match': {
    in: 'header',
    name: 'If-Match',
    required: false,
    description:
      'The `ETag` you read. The change is made only if the object is still at that version, else 412 `precondition-failed`; `*` matches any version. Without the header the change is made unconditionally.',
    schema: { type: 'string' },
    example: '"referral-17-v3.1.1"',
  },
  'If-None-Match': {
    in: 'header',
    name: 'If-None-Match',
    required: false,
    description:
      'The `ETag` of the copy you hold (several may be listed, comma-separated; `*` matches any). If the object is still at that version the answer is 304 Not Modified with no body; else the usual 200.',
    schema: { type: 'string' },
    example: '"referral-17-v3.1.1"',
  },
  'X-Change-Reason': {
    in: 'header',
    name: 'X-Change-Reason',
    required: false,
    description:
      'Why the change is made (at most 500 characters), kept in the audit trail with the change, the time and the API key’s name. Its bytes are read as UTF-8 (as curl sends `grün – ✓`) and stored exactly; bytes that are not UTF-8 answer 400 naming `header.X-Change-Reason`.',
    schema: { type: 'string', maxLength: 500 },
    example: 'Renegotiated referral terms, Q4 2026',
  },
} as const;

const headerRef = (name: HeaderName) => ({ $ref: `#/components/headers/${name}` });
const parameterRef = (name: keyof typeof REQUEST_HEADERS) => ({ $ref: `#/components/parameters/${name}` });

/** The codes the request pipeline (src/app.ts) can answer with, by kind of operation. */
function genericProblems(route: RouteDef): ProblemCode[] {
  if (route.access === 'public') return ['internal'];
  const codes: ProblemCode[] = [
    // unknown query parameters, an over-long X-Change-Reason
    'validation-failed',
    'unauthenticated',
    'forbidden',
    'rate-limited',
    'internal',
    'unavailable',
  ];
  if (/\{\w+\}/.test(route.path)) codes.push('not-found');
  // An Accept that names none of its representations (an operation that may answer with no body is never refused).
  if (representationsOf(route).length > 0 && !mayAnswerWithoutBody(route)) codes.push('not-acceptable');
  if (route.body) codes.push('malformed-json', 'payload-too-large', 'unsupported-media-type');
  if (route.method === 'post') codes.push('idempotency-key-in-use', 'idempotency-key-mismatch');
  return codes;
}

/** The statuses a replayed POST can answer with: the ones its handler (not the pipeline before it) gives. */
const REPLAYABLE_STATUSES = new Set([400, 404, 409, 422]);

function problemResponse(route: RouteDef, status: number, codes: ProblemCode[]) {
  const lines = codes.map((code) => `- \`${code}\`: ${PROBLEMS[code].meaning}`);
  const headers: Record<string, unknown> = { 'X-Request-Id': headerRef('X-Request-Id') };
  if (status === 401) headers['WWW-Authenticate'] = headerRef('WWW-Authenticate');
  if (status === 429 || status === 503) headers['Retry-After'] = headerRef('Retry-After');
  if (route.method === 'post' && REPLAYABLE_STATUSES.has(status)) headers['Idempotent-Replayed'] = headerRef('Idempotent-Replayed');
  return {
    description: `${STATUS_TITLES[status] ?? 'Problem'}. ${codes.length === 1 ? 'Code' : 'One of these codes'}:\n\n${lines.join('\n')}`,
    headers,
    content: {
      'application/problem+json': {
        schema: {
          allOf: [
            { $ref: '#/components/schemas/Problem' },
            { type: 'object', properties: { status: { const: status }, code: { type: 'string', enum: codes } } },
          ],
        },
        examples: Object.fromEntries(codes.map((code) => [code, { summary: code, value: problemExample(code) }])),
      },
      // For a client whose Accept prefers text/json (SPEC §2): the same problem under that name.
      'text/json': { schema: { $ref: '#/components/schemas/Problem' } },
    },
  };
}

/** A GET whose answer carries an ETag also answers If-None-Match (src/app.ts, send). */
const isConditionalRead = (route: RouteDef) => route.method === 'get' && (route.responses[200]?.headers ?? []).includes('ETag');

function registerRoute(registry: OpenAPIRegistry, route: RouteDef): void {
  const responses: RouteConfig['responses'] = {};
  for (const [status, doc] of Object.entries(route.responses)) {
    const content: Record<string, unknown> = {};
    if (doc.schema) content['application/json'] = { schema: doc.schema, ...(doc.example !== undefined ? { example: doc.example } : {}) };
    for (const [type, alt] of Object.entries(doc.alternatives ?? {})) content[type] = alt;
    // The seed's second name for JSON (SPEC §2): the same body, for a client whose Accept prefers it.
    if (doc.schema) content['text/json'] = { schema: doc.schema };
    const headers: Record<string, unknown> = { 'X-Request-Id': headerRef('X-Request-Id') };
    for (const name of doc.headers ?? []) headers[name] = headerRef(name);
    if (route.method === 'post') headers['Idempotent-Replayed'] = headerRef('Idempotent-Replayed');
    responses[status] = {
      description: doc.description,
      headers: headers as never,
      ...(Object.keys(content).length ? { content: content as never } : {}),
    };
  }
  const conditional = isConditionalRead(route);
  if (conditional) {
    responses[304] = {
      description: 'Not Modified: the object is still at the version `If-None-Match` names. No body.',
      headers: { 'X-Request-Id': headerRef('X-Request-Id'), ETag: headerRef('ETag') } as never,
    };
  }

  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set([...genericProblems(route), ...route.problems])) {
    const status = PROBLEMS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) responses[status] = problemResponse(route, status, byStatus.get(status)!) as never;

  const parameters = [parameterRef('X-Request-Id')];
  if (route.method === 'post') parameters.push(parameterRef('Idempotency-Key'));
  if (route.problems.includes('precondition-failed')) parameters.push(parameterRef('If-Match'));
  if (conditional) parameters.push(parameterRef('If-None-Match'));
  if (route.method !== 'get' && route.access !== 'public') parameters.push(parameterRef('X-Change-Reason'));

  registry.registerPath({
    method: route.method,
    path: route.path,
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    ...(route.access === 'public' ? { security: [] } : {}),
    parameters: parameters as never,
    request: {
      ...(route.params ? { params: route.params as never } : {}),
      ...(route.query ? { query: route.query as never } : {}),
      ...(route.body
        ? {
            body: {
              required: !route.bodyOptional,
              content: {
                'application/json': {
                  schema: route.body as never,
                  ...(route.bodyExample !== undefined ? { example: route.bodyExample } : {}),
                },
                // SPEC §2: a body sent as text/json is read as JSON.
                'text/json': { schema: route.body as never },
              },
            },
          }
        : {}),
    },
    responses,
  });
}

/** The public endpoints of src/app.ts that are not /v1 routes: health, the documents, the docs page. */
function serviceRoutes(): RouteDef[] {
  const tags = ['Service'];
  const none = async () => ({ status: 500 });
  const Health = (value: string) => z.object({ status: z.enum([value]) });
  return [
    {
      method: 'get',
      path: '/',
      operationId: 'getRoot',
      summary: 'Start page',
      description: 'Redirects to these docs (`/docs`). No API key needed.',
      tags,
      access: 'public',
      responses: {
        302: {
          description: 'Found: go to /docs.',
          headers: ['Location'],
          alternatives: { 'text/plain': { schema: { type: 'string' }, example: 'Found. Redirecting to /docs' } },
        },
      },
      problems: [],
      handler: none,
    },
    {
      method: 'get',
      path: '/healthz',
      operationId: 'getHealth',
      summary: 'Liveness',
      description: 'Answers 200 while the process serves requests. No API key needed.',
      tags,
      access: 'public',
      responses: { 200: { description: 'The process is up.', schema: Health('ok').openapi('Health'), example: { status: 'ok' } } },
      problems: [],
      handler: none,
    },
    {
      method: 'get',
      path: '/readyz',
      operationId: 'getReadiness',
      summary: 'Readiness',
      description: 'Answers 200 when the database answers, 503 when it does not. No API key needed.',
      tags,
      access: 'public',
      responses: {
        200: { description: 'Ready: the database is reachable.', schema: Health('ready').openapi('Ready'), example: { status: 'ready' } },
        503: {
          description: 'Not ready: the database does not answer.',
          schema: Health('unavailable').openapi('Unavailable'),
          example: { status: 'unavailable' },
        },
      },
      problems: [],
      handler: none,
    },
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiJson',
      summary: 'This API description as JSON',
      description: 'The OpenAPI 3.1 document you are reading, as JSON. No API key needed.',
      tags,
      access: 'public',
      responses: {
        200: { description: 'The OpenAPI document.', alternatives: { 'application/json': { schema: { type: 'object' } } } },
      },
      problems: [],
      handler: none,
    },
    {
      method: 'get',
      path: '/openapi.yaml',
      operationId: 'getOpenApiYaml',
      summary: 'This API description as YAML',
      description: 'The same document as YAML (the file `openapi.yaml` of the repository). No API key needed.',
      tags,
      access: 'public',
      responses: {
        200: { description: 'The OpenAPI document.', alternatives: { 'application/yaml': { schema: { type: 'string' } } } },
      },
      problems: [],
      handler: none,
    },
    {
      method: 'get',
      path: '/docs',
      operationId: 'getApiDocs',
      summary: 'These docs in a browser',
      description: 'This documentation as a web page (Swagger UI). It loads nothing from the internet. No API key needed.',
      tags,
      access: 'public',
      responses: { 200: { description: 'The HTML page.', alternatives: { 'text/html': { schema: { type: 'string' } } } } },
      problems: [],
      handler: none,
    },
  ] satisfies RouteDef[];
}

export function buildOpenApiDocument(routes: RouteDef[] = apiRoutes) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description:
      'Every `/v1` request carries an API key: `Authorization: Bearer <key>`. A key has a role — `read` (GET only), `write` (changes within its business units), `approver` (reads, and decides change requests within its business units: maker-checker), `admin` (everything, including business units, settlement runs, keys and webhooks) — and the business units it may act for. Missing, unknown or revoked key: 401; a key that may not do this: 403.',
  });
  for (const [name, header] of Object.entries(RESPONSE_HEADERS)) registry.registerComponent('headers', name, header as never);
  for (const [name, parameter] of Object.entries(REQUEST_HEADERS)) registry.registerComponent('parameters', name, parameter as never);
  registry.register('Problem', ProblemSchema);
  for (const route of [...routes, ...serviceRoutes()]) registerRoute(registry, route);
  const generator = new OpenApiGeneratorV31(registry.definitions);
  return pathAndQueryFirst(generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Referral service',
      version: '1.0.0',
      description: DESCRIPTION,
      license: { name: 'Proprietary: internal use only', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/', description: 'This service' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'Business units', description: 'The units of the company that own contracts and refer customers.' },
      { name: 'Contracts', description: 'Contracts a business unit sold; revenue is booked against them.' },
      {
        name: 'Referrals',
        description:
          'Who earns which share of a contract’s revenue, and when: a referrer business unit, a percentage (which may change over time), and a billing window.',
      },
      {
        name: 'Approval',
        description:
          'Maker-checker (APPROVAL_MODE=maker-checker): creating a referral, changing its terms and archiving it become change requests that another key decides (four eyes); amendments are change requests in every mode.',
      },
      { name: 'Revenue', description: 'Revenue lines (invoice lines) of a contract: what the shares are computed from.' },
      {
        name: 'Settlement',
        description: 'The nightly run that turns billable revenue into statements, and the billing windows behind it.',
      },
      { name: 'Statements', description: 'What one business unit owes another, per run and currency, to the minor unit.' },
      {
        name: 'Month-end close',
        description:
          'Closing a month: what each pair of business units owes the other netted into one amount, balanced journals for both units’ books that mirror each other, and the payments of the net amounts.',
      },
      { name: 'API keys', description: 'Who may call the API: roles read, write, approver and admin, scoped to business units.' },
      {
        name: 'Events',
        description:
          'Every change as an event, in commit order: a feed to page through with `after`, never missing or repeating an event, for systems that want to know what changed without polling every list.',
      },
      {
        name: 'Webhooks',
        description:
          'Events pushed to your HTTPS endpoint, signed per the Standard Webhooks specification (verify with the `standardwebhooks` package), retried for about a day, with a delivery log, retries and recovery. Admin keys only.',
      },
      { name: 'Service', description: 'Health checks and this documentation. No API key needed.' },
    ],
  }));
}

/** The operation's own parameters (path, query) before the headers every operation of its kind shares. */
function pathAndQueryFirst<D extends { paths?: object }>(doc: D): D {
  for (const item of Object.values((doc.paths ?? {}) as Record<string, object>)) {
    for (const op of Object.values(item) as { parameters?: object[] }[]) {
      if (!op.parameters) continue;
      op.parameters = [...op.parameters.filter((p) => !('$ref' in p)), ...op.parameters.filter((p) => '$ref' in p)];
    }
  }
  return doc;
}

export function openApiYaml(): string {
  return stringify(buildOpenApiDocument(), { lineWidth: 0, aliasDuplicateObjects: false });
}

const DESCRIPTION = `The system of record for revenue-share referrals between business units, and the settlement that
computes what each referrer has earned.

## Referrals and billing windows

When one business unit makes a contract possible for another, it *refers* the customer and earns a
percentage of that contract's revenue for a limited time: its **billing window**, from
\`billingStartDate\` to \`billingEndDate\` (both days included; no end date = open-ended). A referral
earns on a day when the day lies inside the window and the referral is not archived on that day.
The percentage may change over time (\`percentageHistory\`); each day uses the percentage of that day.
On any day the percentages of a contract's referrals add up to at most 100.

## Revenue and proration

Revenue arrives as lines, each covering a period of days (an invoice for October covers 31 days).
A line's amount is spread evenly over the days of its period: a referral that is billable on 20 of
31 days earns \`amount / 31 × 20 × percentage / 100\`. Credit notes are negative lines.

## Settlement and rounding

Every night a settlement run settles the revenue lines whose period has ended. Each (revenue line,
referral) pair is settled once, ever; late revenue is picked up by the next run, and settled amounts
never change. Shares are computed exactly, with no rounding on the way. The new lines of one payer,
one referrer and one currency form a **statement**, rounded once to the currency's minor unit
(EUR 0.01, JPY 1, KWD 0.001):

- the statement total is the exact sum rounded half to even;
- each line gets its exact share rounded down, and the lines with the largest remainders get one
  more minor unit, so the lines always add up to the total.

Example (EUR): a referral at 12.5 % billable on 20 of the 31 days of a 3000.00 line earns exactly
241.935483…; with a credit note of −12.50 on the same statement the exact sum 229.435483… gives a total
of 229.44, and the lines 241.94 and −12.50.

## Conventions

- Amounts and percentages are **decimal strings** in responses (\`"12.5"\`, \`"1234.50"\`). Inputs take a JSON
  number or a plain decimal string (\`-?\\d+(\\.\\d+)?\`); more decimals than allowed are rejected, never rounded.
- Calendar dates are \`yyyy-MM-dd\` with no time or zone; timestamps are ISO 8601 UTC with milliseconds.
  "Today" is the date in the service's business time zone.
- Lists answer \`{"data": [...], "meta": {"total", "limit", "offset"}}\` and take \`limit\` (1-200, default 50),
  \`offset\` and \`sort\` (\`-\` prefix for descending). Unknown query parameters and body fields are rejected.
- A change (POST, PUT, DELETE) may carry \`X-Change-Reason\`, kept in the audit trail. POST may carry
  \`Idempotency-Key\` so that a retry is safe. PUT and DELETE of business units, contracts and referrals
  honour \`If-Match\` with the \`ETag\` you read.
- Errors are RFC 9457 \`application/problem+json\` with a stable \`code\` and every invalid field listed in
  \`errors\`. Each operation lists the codes it can answer with.
- \`text/json\`, the second media type of the service this one replaces, works as \`application/json\` does:
  a request body sent as \`text/json\` is read as JSON, and an \`Accept\` that prefers \`text/json\` (alone,
  or with a higher quality than \`application/json\`) gets the same JSON labelled \`text/json\`, problems
  included. A tie goes to \`application/json\`; CSV is answered only to an \`Accept\` that names it or \`text/*\`.
- A method a path does not serve (a PATCH, an OPTIONS, a PUT on a list) answers 405 \`method-not-allowed\`
  with an \`Allow\` header naming the methods it does serve (GET implies HEAD); a path that does not
  exist answers 404. An \`Accept\` header that names no media type the operation answers with is 406
  \`not-acceptable\` (no Accept, \`*/*\` and \`application/*\` take JSON).
- GET and DELETE take no body: one sent is 400 \`validation-failed\` (DELETE takes its parameters from the
  query). A field left out that is required is reported as \`is required\`. Strings hold well-formed
  Unicode: a lone UTF-16 surrogate written as a JSON escape (\`"\\ud800"\`) is 400.
- \`If-None-Match\` is honoured whatever \`Cache-Control\` says (\`no-cache\` speaks to caches, not to this
  service). A PUT that changes nothing keeps the version (the same \`ETag\`) and writes no audit entry.
- When the database cannot be reached the answer is 503 \`unavailable\` with \`Retry-After\`, never a 500.
`;
