import { expect } from 'chai';
import { apiRoutes } from '../../src/http/routes';
import { EmptyBody } from '../../src/schemas/common';
import { describeApi } from '../helpers/api';
import { expectProblem } from '../helpers/fixtures';

/**
 * SPEC §2: unknown body properties are refused with 400. Every operation that takes a body
 * declares it (an operation that takes no fields declares EmptyBody), so that none can take an
 * unknown field silently; each route of the table is walked, so a route added later is held too.
 */
const TAKES_A_BODY = new Set(['post', 'put', 'patch']);
const withBody = apiRoutes.filter((route) => TAKES_A_BODY.has(route.method));
/** A path of the route with every parameter 1: validation answers before anything is looked up. */
const pathOf = (template: string) => template.replace(/\{[^}]+\}/g, '1');

describe('every route declares its body', () => {
  it('every POST, PUT and PATCH has a body schema (EmptyBody when it takes no fields)', () => {
    expect(withBody.length).to.be.greaterThan(10);
    const undeclared = withBody.filter((route) => route.body === undefined).map((route) => `${route.method.toUpperCase()} ${route.path}`);
    expect(undeclared).to.deep.equal([]);
  });

  it('GET and DELETE declare none (a body sent to them is refused)', () => {
    const declared = apiRoutes.filter((route) => !TAKES_A_BODY.has(route.method) && route.body !== undefined).map((route) => `${route.method.toUpperCase()} ${route.path}`);
    expect(declared).to.deep.equal([]);
  });

  it('the operations that take no fields are the ones expected, and take no body at all too', () => {
    const empty = withBody.filter((route) => route.body === EmptyBody);
    expect(empty.map((route) => route.operationId).sort()).to.deep.equal(['retryWebhookDelivery', 'rotateWebhookSecret', 'withdrawChangeRequest'].sort());
    for (const route of empty) expect(route.bodyOptional, route.operationId).to.equal(true);
  });
});

describeApi('unknown body fields (SPEC §2)', (ctx) => {
  it('every POST and PUT of the route table refuses an unknown field with 400 naming it, before anything is looked up', async () => {
    for (const route of withBody) {
      const name = `${route.method.toUpperCase()} ${route.path}`;
      const send = route.method === 'put' ? ctx.put : ctx.post;
      const res = await send(pathOf(route.path), { surpriseField: true });
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors, name).to.deep.include({ path: 'body.surpriseField', message: 'unknown field' });
    }
  });

  it('an operation that takes no fields accepts {} and no body alike (then answers for the resource: 404 here)', async () => {
    for (const route of withBody.filter((r) => r.body === EmptyBody)) {
      for (const res of [await ctx.post(pathOf(route.path), {}), await ctx.post(pathOf(route.path))]) {
        expectProblem(res, 404, 'not-found');
      }
    }
  });
});
