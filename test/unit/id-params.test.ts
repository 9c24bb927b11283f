import { expect } from 'chai';
import { apiRoutes } from '../../src/http/routes';
import { idFieldsOf, validateRequest } from '../../src/http/validate';

/**
 * Path parameters that are all ids are checked without Zod (src/http/validate.ts): for every
 * route, every sample id in every position gets exactly what the route's Zod schema gives.
 */
describe('id path parameters without Zod', () => {
  const samples = ['1', '17', '2147483647', '2147483648', '9999999999999999', '99999999999999999', '0', '01', '-1', '1.5', '1e3', ' 1', 'abc', '', '١٢'];
  const withParams = apiRoutes.filter((r) => r.params);

  it('covers the routes whose parameters are all ids (almost all)', () => {
    const fast = withParams.filter((r) => idFieldsOf(r.params!));
    expect(fast.length).to.be.greaterThan(withParams.length * 0.8);
  });

  for (const route of withParams) {
    const fields = idFieldsOf(route.params!);
    if (!fields) continue;
    it(`${route.method.toUpperCase()} ${route.path}: the same ids and the same errors as its schema`, () => {
      for (const sample of samples) {
        for (const position of fields.keys()) {
          const params = Object.fromEntries(fields.map((f, i) => [f, i === position ? sample : String(i + 1)]));
          const expected = route.params!.safeParse(params);
          // The query and body are left empty; only what is said of the parameters counts here.
          let errors: { path: string }[] | null = null;
          let parsed: unknown;
          try {
            parsed = validateRequest(route, { params, query: {}, body: undefined }).params;
          } catch (err) {
            const ofParams = ((err as { errors?: { path: string }[] }).errors ?? []).filter((e) => e.path.startsWith('params.'));
            errors = ofParams.length ? ofParams : null;
          }
          if (expected.success) {
            expect(errors, sample).to.equal(null);
            if (parsed !== undefined) expect(parsed, sample).to.deep.equal(expected.data);
          } else {
            expect(errors, sample).to.deep.equal(expected.error.issues.map((i) => ({ path: ['params', ...i.path].join('.'), message: i.message })));
          }
        }
      }
    });
  }
});
