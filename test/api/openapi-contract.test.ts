import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { PROBLEMS } from '../../src/openapi/problems';
import { Conformance, conformance } from '../helpers/conformance';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const doc: Json = parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../openapi.yaml'), 'utf8'));
const operations = Object.entries(doc.paths as Json).flatMap(([p, item]) =>
  Object.entries(item as Json).map(([method, op]) => ({ path: p, method, op: op as Json, name: `${method.toUpperCase()} ${p}` })),
);
const v1 = operations.filter((o) => o.path.startsWith('/v1/'));
const headerParams = (op: Json) => ((op.parameters ?? []) as Json[]).filter((p) => p.$ref).map((p) => String(p.$ref).split('/').pop());

describe('openapi.yaml documents the whole contract (SPEC §2, §4, §7, §9)', () => {
  it('gives every operation a summary, a description and a tag, and every parameter a description', () => {
    for (const { name, op } of operations) {
      expect(op.summary, name).to.be.a('string').and.not.empty;
      expect(op.description, name).to.be.a('string').and.not.empty;
      expect(op.tags, name).to.have.length(1);
      for (const p of (op.parameters ?? []) as Json[]) {
        if (!p.$ref) expect(p.description, `${name} parameter ${p.name}`).to.be.a('string').and.not.empty;
      }
    }
  });

  it('documents the request headers: Idempotency-Key on every POST, If-Match wherever 412 can answer, X-Change-Reason on every change', () => {
    for (const { name, method, op } of v1) {
      const headers = headerParams(op);
      expect(headers, name).to.include('X-Request-Id');
      expect(headers.includes('Idempotency-Key'), name).to.equal(method === 'post');
      expect(headers.includes('If-Match'), name).to.equal('412' in op.responses);
      expect(headers.includes('X-Change-Reason'), name).to.equal(method !== 'get');
    }
    // The versioned resources (SPEC §7.3) honour If-Match on PUT and DELETE.
    for (const p of ['/v1/bunits/{bunitId}', '/v1/bunits/{bunitId}/contracts/{contractId}', '/v1/bunits/{bunitId}/referrals/{referralId}']) {
      for (const method of ['put', 'delete']) expect(headerParams(doc.paths[p][method]), `${method} ${p}`).to.include('If-Match');
    }
  });

  it('requires the bearer key on every /v1 operation and on none of the public ones', () => {
    expect(doc.security).to.deep.equal([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).to.include({ type: 'http', scheme: 'bearer' });
    for (const { name, path: p, op } of operations) expect(op.security, name).to.deep.equal(p.startsWith('/v1/') ? undefined : []);
  });

  it('documents the response headers: X-Request-Id everywhere, Location on 201, ETag on the versioned resources, Retry-After on 429, Idempotent-Replayed on POST', () => {
    for (const { name, method, op } of operations) {
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        const headers = Object.keys(response.headers ?? {});
        expect(headers, `${name} ${status}`).to.include('X-Request-Id');
        if (status === '201') expect(headers, `${name} ${status}`).to.include('Location');
        if (status === '401') expect(headers, `${name} ${status}`).to.include('WWW-Authenticate');
        if (status === '429') expect(headers, `${name} ${status}`).to.include('Retry-After');
        if (method === 'post' && status.startsWith('2')) expect(headers, `${name} ${status}`).to.include('Idempotent-Replayed');
      }
    }
    for (const id of ['getBusinessUnit', 'updateBusinessUnit', 'createBusinessUnit', 'getContract', 'updateContract', 'createContract', 'getReferral', 'updateReferral', 'createReferral']) {
      const { op } = operations.find((o) => o.op.operationId === id)!;
      const success = Object.entries(op.responses as Record<string, Json>).find(([s]) => s.startsWith('2'))![1];
      expect(Object.keys(success.headers), id).to.include('ETag');
    }
  });

  it('lists, per operation and status, the problem codes of SPEC §9 it can answer with, each with an example', () => {
    for (const { name, op } of operations) {
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (Number(status) < 400 || (name === 'GET /readyz' && status === '503')) continue;
        const media = response.content['application/problem+json'];
        const codes: string[] = media.schema.allOf[1].properties.code.enum;
        expect(codes, `${name} ${status}`).to.not.be.empty;
        for (const code of codes) {
          expect(PROBLEMS[code as keyof typeof PROBLEMS]?.status, `${name}: ${code}`).to.equal(Number(status));
          expect(response.description, `${name} ${status}`).to.contain(`\`${code}\``);
          expect(media.examples[code].value.code, `${name} ${status}`).to.equal(code);
        }
      }
      if (name.includes(' /v1/')) {
        for (const status of ['400', '401', '403', '429', '500']) expect(op.responses, name).to.have.property(status);
      }
    }
    const all = new Set(v1.flatMap(({ op }) => Object.values(op.responses as Record<string, Json>).flatMap((r) => r.content?.['application/problem+json']?.schema.allOf[1].properties.code.enum ?? [])));
    // 405 is the answer to a method a path has no operation for, so no operation can list it: the
    // document's description says when it comes, with its Allow header.
    expect([...all, 'method-not-allowed'].sort(), 'every code of SPEC §9 is answered somewhere').to.deep.equal(Object.keys(PROBLEMS).sort());
    expect(doc.info.description).to.contain('405 `method-not-allowed`').and.contain('`Allow`');
  });

  it('shows a realistic example of every request body and every JSON response body', () => {
    for (const { name, op } of operations) {
      if (op.requestBody) expect(op.requestBody.content['application/json'].example, name).to.not.equal(undefined);
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        const json = response.content?.['application/json'];
        if (json?.schema?.$ref) expect(json.example, `${name} ${status}`).to.not.equal(undefined);
      }
    }
  });
});

describe('the conformance check of test/helpers/conformance.ts', () => {
  const checker = conformance();
  const json = { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'r1' };
  const problemType = { 'content-type': 'application/problem+json; charset=utf-8', 'x-request-id': 'r1' };
  const accounts = { receivable: 'r', payable: 'p', income: 'i', expense: 'e', clearing: 'c' };
  const bunit = { id: 1, code: 'DACH', name: 'DACH Enterprise', createdDate: '2026-01-05T09:30:00.000Z', archivedDate: null, accounts };
  const problem = (code: string, status: number, extra: Json = {}) =>
    JSON.stringify({ type: `urn:referral-service:problem:${code}`, title: 'Conflict', status, detail: 'd', code, ...extra });
  const get = (over: Partial<Parameters<Conformance['check']>[0]>) =>
    checker.check({ method: 'GET', url: '/v1/bunits/1', status: 200, headers: { ...json, etag: '"bunit-1-v1"' }, text: JSON.stringify(bunit), ...over });

  it('accepts a documented response', () => {
    expect(get({})).to.deep.equal([]);
  });

  it('rejects an undocumented field, status, header or content type, a missing required header and a malformed value', () => {
    expect(get({ text: JSON.stringify({ ...bunit, internalNote: 'x' }) })[0]).to.contain('"internalNote" is not documented');
    expect(get({ status: 202 })[0]).to.contain('status 202 is not documented');
    expect(get({ headers: { ...json, etag: '"x"', 'x-debug': '1' } })[0]).to.contain('header x-debug is not documented');
    expect(get({ headers: json })[0]).to.contain('required header etag is missing');
    expect(get({ headers: { ...json, 'content-type': 'text/plain', etag: '"x"' } })[0]).to.contain('content type text/plain is not documented');
    expect(get({ text: JSON.stringify({ ...bunit, createdDate: '2026-02-30' }) })[0]).to.contain('must match format "date-time"');
  });

  it('checks problem bodies against the codes the operation lists for the status', () => {
    const put = (text: string) => checker.check({ method: 'PUT', url: '/v1/bunits/1', status: 409, headers: problemType, text });
    expect(put(problem('duplicate-code', 409))).to.deep.equal([]);
    expect(put(problem('over-allocated', 409))[0]).to.contain('must be equal to one of the allowed values');
    expect(put(problem('duplicate-code', 409, { stack: 'at x' }))[0]).to.contain('"stack" is not documented');
    const limited = checker.check({ method: 'GET', url: '/v1/bunits', status: 429, headers: { ...problemType, 'retry-after': 'soon' }, text: problem('rate-limited', 429) });
    expect(limited[0]).to.contain('header retry-after must be integer');
  });

  it('expects a 404 problem for a path the document does not have, and a 405 with Allow for a method its path does not have', () => {
    expect(checker.check({ method: 'GET', url: '/v1/colours/1', status: 404, headers: problemType, text: problem('not-found', 404) })).to.deep.equal([]);
    expect(checker.check({ method: 'GET', url: '/v1/colours/1', status: 200, headers: json, text: '{}' })).to.have.length(2);
    const allowed = { ...problemType, allow: 'GET, HEAD, PUT, DELETE' };
    expect(checker.check({ method: 'PATCH', url: '/v1/bunits/1', status: 405, headers: allowed, text: problem('method-not-allowed', 405) })).to.deep.equal([]);
    expect(checker.check({ method: 'PATCH', url: '/v1/bunits/1', status: 404, headers: problemType, text: problem('not-found', 404) })).to.have.length(2);
    expect(checker.check({ method: 'PATCH', url: '/v1/bunits/1', status: 405, headers: { ...problemType, allow: 'GET' }, text: problem('method-not-allowed', 405) })[0]).to.contain(
      'Allow: GET, HEAD, PUT, DELETE',
    );
  });
});
