import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { stringify } from 'yaml';
import { ProblemSchema } from '../schemas/common';
import type { RouteDef } from '../http/route';
import { apiRoutes } from '../http/routes';

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'validation-failed (every invalid field is listed in `errors`) or malformed-json.',
  401: 'unauthenticated: the API key is missing, unknown or revoked.',
  403: 'forbidden: the key’s role or business-unit scope does not allow this.',
  404: 'not-found: no such resource under this business unit.',
  409: 'A business rule conflict; `code` says which (see the description of the operation).',
  412: 'precondition-failed: If-Match does not match the current ETag.',
  413: 'payload-too-large: the body exceeds 1 MB.',
  415: 'unsupported-media-type: bodies must be application/json.',
  422: 'invalid-reference or self-referral: the body names something that cannot be used.',
  429: 'rate-limited: too many requests for this key; see Retry-After.',
  500: 'internal: an unexpected error. The body carries no detail; the log has it under the request id.',
};

const problemResponse = (status: number) => ({
  description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem details.',
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

function registerRoute(registry: OpenAPIRegistry, route: RouteDef): void {
  const responses: RouteConfig['responses'] = {};
  for (const [status, doc] of Object.entries(route.responses)) {
    const content: Record<string, { schema: never; example?: string }> = {};
    if (doc.schema) content['application/json'] = { schema: doc.schema as never };
    for (const [type, alt] of Object.entries(doc.alternatives ?? {})) content[type] = alt as never;
    responses[status] = {
      description: doc.description,
      ...(Object.keys(content).length ? { content } : {}),
      ...(doc.headers ? { headers: doc.headers as never } : {}),
    };
  }
  const common = route.access === 'public' ? [] : [401, 403, 429];
  const bodied = route.body ? [413, 415] : [];
  for (const status of [...new Set([...route.problems, ...common, ...bodied, 500])].sort()) {
    responses[status] = problemResponse(status);
  }
  registry.registerPath({
    method: route.method,
    path: route.path,
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    ...(route.access === 'public' ? { security: [] } : {}),
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
              },
            },
          }
        : {}),
    },
    responses,
  });
}

export function buildOpenApiDocument(routes: RouteDef[] = apiRoutes) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key: `Authorization: Bearer <key>`.',
  });
  registry.register('Problem', ProblemSchema);
  for (const route of routes) registerRoute(registry, route);
  const generator = new OpenApiGeneratorV31(registry.definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Referral service',
      version: '1.0.0',
      description: DESCRIPTION,
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'Business units', description: 'The units of the company that own contracts and refer customers.' },
      { name: 'Contracts', description: 'Contracts a business unit sold; revenue is booked against them.' },
      { name: 'Referrals', description: 'Who earns which share of a contract’s revenue, and when.' },
      { name: 'Revenue', description: 'Revenue lines (invoice lines) of a contract: what the shares are computed from.' },
      { name: 'Settlement', description: 'The nightly run that turns billable revenue into statements, and the billing windows behind it.' },
      { name: 'Statements', description: 'What one business unit owes another, per run and currency, to the cent.' },
      { name: 'API keys', description: 'Who may call the API: roles read, write and admin, scoped to business units.' },
    ],
  });
}

export function openApiYaml(): string {
  return stringify(buildOpenApiDocument(), { lineWidth: 0, aliasDuplicateObjects: false });
}

const DESCRIPTION = `The system of record for revenue-share referrals between business units.

When one business unit makes a contract possible for another, it *refers* the customer and earns a
percentage of that contract's revenue inside a **billing window** (\`billingStartDate\` to
\`billingEndDate\`, both inclusive). Every night the settlement run computes what each referrer has earned.

Conventions:
- Amounts and percentages are **decimal strings** in responses (\`"12.5"\`, \`"1234.50"\`). Inputs take a JSON
  number or a plain decimal string; more decimals than allowed are rejected, never rounded.
- Calendar dates are \`yyyy-MM-dd\`; timestamps are ISO 8601 UTC with milliseconds. "Today" is the date in
  the service's business time zone.
- Lists answer \`{"data": [...], "meta": {"total", "limit", "offset"}}\` and take \`limit\` (1-200),
  \`offset\` and \`sort\` (\`-\` prefix for descending).
- Errors are RFC 9457 \`application/problem+json\` with a stable \`code\` and every invalid field listed.
`;
