import { expect } from 'chai';
import type request from 'supertest';
import { ADMIN_KEY, describeApi, type ApiContext } from '../helpers/api';
import { createReferral, referralBody, world } from '../helpers/fixtures';

/**
 * Bad input of every kind gets a 4xx RFC 9457 problem that names every bad field, and nothing is
 * written (SPEC §2, §3.1–3.3, §8, §9).
 */

interface FieldError {
  path: string;
  message: string;
}

type Response = request.Response;

/** The problem+json shape of SPEC §2: type, title, status, detail, code. */
function expectProblemDetails(res: Response, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  const body = res.body as Record<string, unknown>;
  expect(body.code).to.equal(code);
  expect(body.status).to.equal(status);
  expect(body.type).to.be.a('string').and.include(code);
  expect(body.title).to.be.a('string').and.not.equal('');
  expect(body.detail).to.be.a('string').and.not.equal('');
}

/** The paths of `errors`, each with a message. */
function errorPaths(res: Response): string[] {
  const errors = (res.body as { errors?: FieldError[] }).errors;
  expect(errors, 'errors').to.be.an('array').that.is.not.empty;
  for (const e of errors!) expect(e.message, `message for ${e.path}`).to.be.a('string').and.not.equal('');
  return errors!.map((e) => e.path);
}

/** 400 validation-failed that lists exactly these fields (every bad one, nothing else). */
function expectInvalid(res: Response, paths: string[]): void {
  expectProblemDetails(res, 400, 'validation-failed');
  expect(errorPaths(res)).to.have.members(paths);
}

/** Every list the API has, archived objects included: what a rejected write must leave alone. */
async function snapshot(ctx: ApiContext): Promise<unknown> {
  const bunits = await ctx.get('/v1/bunits?archived=include&limit=200');
  expect(bunits.status).to.equal(200);
  const lists: unknown[] = [bunits.body];
  for (const b of bunits.body.data as { id: number }[]) {
    lists.push((await ctx.get(`/v1/bunits/${b.id}/contracts?archived=include&limit=200`)).body);
    lists.push((await ctx.get(`/v1/bunits/${b.id}/referrals?archived=include&limit=200`)).body);
  }
  return lists;
}

/** Sends a write, checks the problem, and checks that every list is as it was. */
async function rejectsWrite(
  ctx: ApiContext,
  send: () => request.Test,
  status: number,
  code: string,
  paths?: string[],
): Promise<Response> {
  const before = await snapshot(ctx);
  const res = await send();
  expectProblemDetails(res, status, code);
  if (paths) expect(errorPaths(res)).to.have.members(paths);
  expect(await snapshot(ctx), 'the lists after the rejected write').to.deep.equal(before);
  return res;
}

/** A request with a body sent exactly as given, under the given content type. */
/** Sends `body` byte for byte (superagent would otherwise serialise a Buffer as JSON). */
function raw(ctx: ApiContext, method: 'post' | 'put', path: string, contentType: string, body: string | Buffer): request.Test {
  return ctx.anonymous[method](path)
    .set('Authorization', `Bearer ${ADMIN_KEY}`)
    .set('Content-Type', contentType)
    .serialize((b: unknown) => b as string)
    .send(body);
}

const contractBody = (overrides: Record<string, unknown> = {}) => ({
  number: 'C-NEW',
  name: 'Fleet telematics',
  currency: 'EUR',
  startDate: '2026-01-01',
  ...overrides,
});

describeApi('bad input', (ctx) => {
  describe('bodies that are not JSON', () => {
    it('answers 400 malformed-json for text that does not parse, and writes nothing', async () => {
      const { owner } = await world(ctx);
      for (const text of ['{"code": "NEW", "name": ', '{code: "NEW"}', "{'code': 'NEW'}", '{"code": "NEW",}', 'NEW', '{"code":"NEW","code":"NEWER","name":"x"}']) {
        await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'application/json', text), 400, 'malformed-json');
      }
      await rejectsWrite(ctx, () => raw(ctx, 'put', `/v1/bunits/${owner}`, 'application/json', '{"code": "OWNER", "name": "x"'), 400, 'malformed-json');
      await rejectsWrite(
        ctx,
        () => raw(ctx, 'post', `/v1/bunits/${owner}/contracts`, 'application/json; charset=utf-8', '{"number": "C-2", name: 1}'),
        400,
        'malformed-json',
      );
    });

    it('answers 415 unsupported-media-type for a text/plain or form body, even when the text is JSON', async () => {
      const { owner, alice, contract } = await world(ctx);
      const json = JSON.stringify({ code: 'NEW', name: 'New unit' });
      await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'text/plain', json), 415, 'unsupported-media-type');
      await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'application/x-www-form-urlencoded', 'code=NEW&name=New'), 415, 'unsupported-media-type');
      await rejectsWrite(ctx, () => raw(ctx, 'put', `/v1/bunits/${owner}`, 'text/plain', json), 415, 'unsupported-media-type');
      await rejectsWrite(
        ctx,
        () => raw(ctx, 'post', `/v1/bunits/${owner}/referrals`, 'text/plain', JSON.stringify(referralBody(contract, alice))),
        415,
        'unsupported-media-type',
      );
    });

    it('takes UTF-8 only: another charset is 415, bytes that are not UTF-8 or a broken gzip body are 400 malformed-json', async () => {
      await world(ctx);
      const json = JSON.stringify({ code: 'NEW', name: 'Café' });
      for (const type of ['application/json; charset=latin1', 'application/json; charset=utf-16le', 'application/json; charset="ISO-8859-1"']) {
        await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', type, json), 415, 'unsupported-media-type');
      }
      const latin1 = Buffer.from('{"code": "NEW", "name": "Caf\xe9"}', 'latin1');
      await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'application/json; charset=utf-8', latin1), 400, 'malformed-json');
      await rejectsWrite(
        ctx,
        () => raw(ctx, 'post', '/v1/bunits', 'application/json', Buffer.from('not gzip at all')).set('Content-Encoding', 'gzip'),
        400,
        'malformed-json',
      );
      const saved = await raw(ctx, 'post', '/v1/bunits', 'application/json; charset=UTF-8', Buffer.from(json, 'utf8'));
      expect(saved.status, JSON.stringify(saved.body)).to.equal(201);
      expect(saved.body.name).to.equal('Café');
    });

    it('answers 413 payload-too-large for a body over 1 MB, and writes nothing', async () => {
      const { owner } = await world(ctx);
      const big = JSON.stringify({ code: 'BIG', name: 'x'.repeat(1024 * 1024 + 1) });
      await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'application/json', big), 413, 'payload-too-large');
      await rejectsWrite(ctx, () => raw(ctx, 'put', `/v1/bunits/${owner}`, 'application/json', big), 413, 'payload-too-large');
    });

    it('reads a body just under 1 MB and validates it (the over-long name is the problem, not the size)', async () => {
      await world(ctx);
      const res = await rejectsWrite(
        ctx,
        () => ctx.post('/v1/bunits', { code: 'BIG', name: 'x'.repeat(1000 * 1000) }),
        400,
        'validation-failed',
        ['body.name'],
      );
      expect(res.body.errors[0].message).to.match(/200/);
    });

    it('answers 400 when a write has no body, or a JSON body that is not an object', async () => {
      const { owner } = await world(ctx);
      await rejectsWrite(ctx, () => ctx.post('/v1/bunits'), 400, 'validation-failed', ['body']);
      await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'application/json', '[]'), 400, 'validation-failed', ['body']);
      await rejectsWrite(ctx, () => raw(ctx, 'post', '/v1/bunits', 'application/json', 'null'), 400, 'validation-failed', ['body']);
      await rejectsWrite(ctx, () => raw(ctx, 'put', `/v1/bunits/${owner}`, 'application/json', '"OWNER"'), 400, 'validation-failed', ['body']);
    });
  });

  describe('unknown fields and parameters', () => {
    it('rejects unknown body fields by name, on create and on save, nested ones too', async () => {
      const { owner, alice, contract } = await world(ctx);
      await rejectsWrite(ctx, () => ctx.post('/v1/bunits', { code: 'NEW', name: 'New', colour: 'red' }), 400, 'validation-failed', ['body.colour']);
      await rejectsWrite(ctx, () => ctx.put(`/v1/bunits/${owner}`, { code: 'OWNER', name: 'Owner', version: 3 }), 400, 'validation-failed', [
        'body.version',
      ]);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ amount: '5', status: 'open' })),
        400,
        'validation-failed',
        ['body.amount', 'body.status'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, { ...referralBody(contract, alice), contract: { id: contract, owner: owner } }),
        400,
        'validation-failed',
        ['body.contract.owner'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, { ...referralBody(contract, alice), billingStart: '2026-12-01' }),
        400,
        'validation-failed',
        ['body.billingStart'],
      );
    });

    it('rejects unknown query parameters on lists, reads and writes, and does not archive on a rejected DELETE', async () => {
      const { owner, contract } = await world(ctx);
      expectInvalid(await ctx.get('/v1/bunits?colour=red'), ['query.colour']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}?expand=contracts`), ['query.expand']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/contracts?status=open&page=2`), ['query.status', 'query.page']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?contract=${contract}`), ['query.contract']);
      await rejectsWrite(ctx, () => ctx.post('/v1/bunits?dryRun=true', { code: 'NEW', name: 'New' }), 400, 'validation-failed', ['query.dryRun']);
      await rejectsWrite(ctx, () => ctx.del(`/v1/bunits/${owner}?force=true`), 400, 'validation-failed', ['query.force']);
      await rejectsWrite(ctx, () => ctx.del(`/v1/bunits/${owner}/contracts/${contract}?cascade=1`), 400, 'validation-failed', ['query.cascade']);
      expect((await ctx.get(`/v1/bunits/${owner}`)).body.archivedDate).to.equal(null);
    });
  });

  describe('wrong types', () => {
    it('rejects a string where an id belongs, a number where a name belongs, and an array where an object belongs', async () => {
      const { owner, alice, contract } = await world(ctx);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, { ...referralBody(contract, alice), contract: { id: String(contract) } }),
        400,
        'validation-failed',
        ['body.contract.id'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, { ...referralBody(contract, alice), referrer: { id: 1.5 } }),
        400,
        'validation-failed',
        ['body.referrer.id'],
      );
      await rejectsWrite(ctx, () => ctx.post('/v1/bunits', { code: 'NEW', name: 42 }), 400, 'validation-failed', ['body.name']);
      await rejectsWrite(ctx, () => ctx.put(`/v1/bunits/${owner}`, { code: 'OWNER', name: ['Owner'] }), 400, 'validation-failed', ['body.name']);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, { ...referralBody(contract, alice), contract: [contract], referrer: alice }),
        400,
        'validation-failed',
        ['body.contract', 'body.referrer'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ number: 17, customer: { name: 'Acme' }, endDate: 20261231 })),
        400,
        'validation-failed',
        ['body.number', 'body.customer', 'body.endDate'],
      );
    });

    it('rejects missing required fields by name', async () => {
      const { owner } = await world(ctx);
      await rejectsWrite(ctx, () => ctx.post('/v1/bunits', {}), 400, 'validation-failed', ['body.code', 'body.name']);
      await rejectsWrite(ctx, () => ctx.post(`/v1/bunits/${owner}/referrals`, {}), 400, 'validation-failed', [
        'body.contract',
        'body.referrer',
        'body.percentage',
      ]);
      await rejectsWrite(ctx, () => ctx.post(`/v1/bunits/${owner}/contracts`, { name: 'No number' }), 400, 'validation-failed', [
        'body.number',
        'body.currency',
        'body.startDate',
      ]);
    });
  });

  describe('calendar dates', () => {
    it('rejects impossible and non-canonical dates in bodies', async () => {
      const { owner, alice, contract } = await world(ctx);
      for (const date of ['2026-02-30', '2026-13-01', '26-1-1', '2026-1-1', '2026-00-10', '2026-04-31', '2026-11-23T00:00:00Z', '23.11.2026', '']) {
        await rejectsWrite(
          ctx,
          () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ startDate: date })),
          400,
          'validation-failed',
          ['body.startDate'],
        );
        await rejectsWrite(
          ctx,
          () => ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { billingStartDate: '2026-11-01', billingEndDate: date })),
          400,
          'validation-failed',
          ['body.billingEndDate'],
        );
      }
    });

    it('accepts a real leap day', async () => {
      const { owner } = await world(ctx);
      const res = await ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ startDate: '2028-02-29' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.startDate).to.equal('2028-02-29');
    });

    it('rejects an impossible date in a query', async () => {
      const { owner } = await world(ctx);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?activeOn=2026-02-30`), ['query.activeOn']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?activeOn=26-1-1`), ['query.activeOn']);
    });

    it('rejects an impossible archive instant and archives nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice);
      for (const at of ['2026-02-30T00:00:00Z', '2026-12-01', '2026-12-01T25:00:00Z', 'tomorrow']) {
        await rejectsWrite(ctx, () => ctx.del(`/v1/bunits/${owner}/referrals/${referral.id}?at=${encodeURIComponent(at)}`), 400, 'validation-failed', [
          'query.at',
        ]);
      }
    });

    it('rejects a contract endDate before its startDate, on create and on save', async () => {
      const { owner, contract } = await world(ctx);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ startDate: '2026-06-01', endDate: '2026-05-31' })),
        400,
        'validation-failed',
        ['body.endDate'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.put(`/v1/bunits/${owner}/contracts/${contract}`, contractBody({ number: 'C-1', startDate: '2026-06-01', endDate: '2026-01-01' })),
        400,
        'validation-failed',
        ['body.endDate'],
      );
      const sameDay = await ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ startDate: '2026-06-01', endDate: '2026-06-01' }));
      expect(sameDay.status, JSON.stringify(sameDay.body)).to.equal(201);
    });

    it('rejects a referral billingEndDate before its billingStartDate, given or defaulted to today', async () => {
      const { owner, alice, contract } = await world(ctx);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { billingStartDate: '2026-12-01', billingEndDate: '2026-11-30' })),
        400,
        'validation-failed',
        ['body.billingEndDate'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { billingEndDate: '2026-11-22' })),
        400,
        'validation-failed',
        ['body.billingEndDate'],
      );
    });
  });

  describe('the last date there is (9999-12-31)', () => {
    it('takes it as a billing end, in the R5 check, in activeOn and in billing windows; an archive instant after it is 400', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const url = `/v1/bunits/${owner}/referrals`;
      const forever = { billingStartDate: '2026-11-01', billingEndDate: '9999-12-31' };
      const first = await ctx.post(url, referralBody(contract, alice, { ...forever, percentage: '60' }));
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect(first.body.billingEndDate).to.equal('9999-12-31');

      // R5 up to the very last day: 60 + 50 > 100.
      expectProblemDetails(await ctx.post(url, referralBody(contract, bob, { ...forever, percentage: '50' })), 409, 'over-allocated');
      const second = await ctx.post(url, referralBody(contract, bob, { ...forever, percentage: '40' }));
      expect(second.status, JSON.stringify(second.body)).to.equal(201);

      const saved = await ctx.put(`${url}/${first.body.id}`, { ...referralBody(contract, alice), ...forever, percentage: '55' });
      expect(saved.status, JSON.stringify(saved.body)).to.equal(200);
      expect(saved.body.percentageHistory).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-22', percentage: '60' },
        { from: '2026-11-23', to: null, percentage: '55' },
      ]);

      const active = await ctx.get(`${url}?activeOn=9999-12-31`);
      expect(active.status, JSON.stringify(active.body)).to.equal(200);
      expect(active.body.data.map((r: { id: number }) => r.id)).to.deep.equal([first.body.id, second.body.id]);

      const windows = await ctx.get(`/v1/bunits/${owner}/billing-windows?from=9999-01-01&to=9999-12-31`);
      expect(windows.status, JSON.stringify(windows.body)).to.equal(200);
      expect(windows.body.data.map((w: { segments: unknown[] }) => w.segments)).to.deep.equal([
        [{ from: '9999-01-01', to: '9999-12-31', days: 365, percentage: '55' }],
        [{ from: '9999-01-01', to: '9999-12-31', days: 365, percentage: '40' }],
      ]);

      // 23:00 on 9999-12-31 five hours west of UTC is already the year 10000 in UTC.
      await rejectsWrite(ctx, () => ctx.del(`${url}/${first.body.id}?at=9999-12-31T23:00:00-05:00`), 400, 'validation-failed', ['query.at']);
      expect((await ctx.del(`${url}/${first.body.id}?at=9999-12-31T23:00:00Z`)).status).to.equal(204);
    });
  });

  describe('percentages', () => {
    const bad: [unknown, string][] = [
      ['12.12345', '5 decimals'],
      ['0', 'zero'],
      [0, 'zero as a number'],
      ['0.0000', 'zero with decimals'],
      ['-5', 'negative'],
      [-0.5, 'negative number'],
      ['100.0001', 'over 100'],
      [101, 'over 100 as a number'],
      ['1e1', 'an exponent'],
      ['1E1', 'an exponent'],
      [' 12', 'a leading space'],
      ['12 ', 'a trailing space'],
      ['1 2', 'an inner space'],
      ['', 'empty'],
      ['+5', 'a plus sign'],
      ['.5', 'no integer part'],
      ['5.', 'no decimals after the point'],
      ['12,5', 'a decimal comma'],
      ['ten', 'words'],
      [true, 'a boolean'],
      [null, 'null'],
      [{ value: '10' }, 'an object'],
    ];

    it('rejects every kind of bad percentage, naming body.percentage, on create and on save', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const existing = await createReferral(ctx, owner, contract, bob, { percentage: '20' });
      for (const [percentage, why] of bad) {
        const created = await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { percentage }));
        expectInvalid(created, ['body.percentage']);
        const saved = await ctx.put(`/v1/bunits/${owner}/referrals/${existing.id}`, { ...existing, percentage });
        expect(saved.status, `${JSON.stringify(percentage)} (${why})`).to.equal(400);
        expectInvalid(saved, ['body.percentage']);
      }
      const list = await ctx.get(`/v1/bunits/${owner}/referrals?archived=include`);
      expect(list.body.data.map((r: { id: number; percentage: string }) => [r.id, r.percentage])).to.deep.equal([[existing.id, '20']]);
    });

    it('rejects a JSON number with too many decimals instead of rounding it', async () => {
      const { owner, alice, contract } = await world(ctx);
      const url = `/v1/bunits/${owner}/referrals`;
      for (const number of ['12.123456789', '12.12345', '0.00001', '99.999999999999999999']) {
        const res = await rejectsWrite(
          ctx,
          () => raw(ctx, 'post', url, 'application/json', `{"contract":{"id":${contract}},"referrer":{"id":${alice}},"percentage":${number}}`),
          400,
          'validation-failed',
          ['body.percentage'],
        );
        expect(res.body.errors[0].message, number).to.match(/4 decimal/);
      }
    });

    it('keeps a percentage given as a JSON number exactly as written, at the limits too', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const url = `/v1/bunits/${owner}/referrals`;
      const exact = await raw(ctx, 'post', url, 'application/json', `{"contract":{"id":${contract}},"referrer":{"id":${alice}},"percentage":12.1234}`);
      expect(exact.status, JSON.stringify(exact.body)).to.equal(201);
      expect(exact.body.percentage).to.equal('12.1234');
      const tiny = await ctx.post(url, referralBody(contract, bob, { percentage: '0.0001' }));
      expect(tiny.status, JSON.stringify(tiny.body)).to.equal(201);
      expect(tiny.body.percentage).to.equal('0.0001');
    });
  });

  describe('ids, paging and sorting', () => {
    it('rejects path ids that are not positive integers', async () => {
      const { owner, contract } = await world(ctx);
      for (const id of ['abc', '0', '-1', '1.5', '01', '1e3', '99999999999999999']) {
        expectInvalid(await ctx.get(`/v1/bunits/${id}`), ['params.bunitId']);
        expectInvalid(await ctx.get(`/v1/bunits/${owner}/contracts/${id}`), ['params.contractId']);
      }
      expectInvalid(await ctx.get('/v1/bunits/abc/contracts/0'), ['params.bunitId', 'params.contractId']);
      await rejectsWrite(ctx, () => ctx.put('/v1/bunits/0', { code: 'OWNER', name: 'Owner' }), 400, 'validation-failed', ['params.bunitId']);
      await rejectsWrite(ctx, () => ctx.del(`/v1/bunits/abc/contracts/${contract}`), 400, 'validation-failed', ['params.bunitId']);
      await rejectsWrite(ctx, () => ctx.del(`/v1/bunits/${owner}/referrals/0`), 400, 'validation-failed', ['params.referralId']);
    });

    it('rejects ids past the 32-bit keys of the database (2147483648) in the path, the query and the body, never a 500', async () => {
      const { owner, contract, alice } = await world(ctx);
      const big = '2147483648';
      expectInvalid(await ctx.get(`/v1/bunits/${big}`), ['params.bunitId']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/contracts/${big}`), ['params.contractId']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?contractId=${big}&referrerId=${big}`), ['query.contractId', 'query.referrerId']);
      expectInvalid(await ctx.get(`/v1/api-keys/${big}`), ['params.keyId']);
      await rejectsWrite(ctx, () => ctx.del(`/v1/bunits/${owner}/referrals/${big}`), 400, 'validation-failed', ['params.referralId']);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, { ...referralBody(contract, alice), contract: { id: 2147483648 }, referrer: { id: 2147483648 } }),
        400,
        'validation-failed',
        ['body.contract.id', 'body.referrer.id'],
      );
      await rejectsWrite(ctx, () => ctx.post('/v1/api-keys', { name: 'big', role: 'read', bunitIds: [2147483648] }), 400, 'validation-failed', [
        'body.bunitIds.0',
      ]);
      // The largest id there can be is valid: it simply does not exist.
      expect((await ctx.get('/v1/bunits/2147483647')).status).to.equal(404);
    });

    it('rejects control characters (NUL, line breaks) in names, numbers and external ids, never a 500', async () => {
      const { owner, contract } = await world(ctx);
      await rejectsWrite(ctx, () => ctx.post('/v1/bunits', { code: 'NUL', name: 'a\u0000b' }), 400, 'validation-failed', ['body.name']);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ number: 'C-\u0000', name: 'two\nlines', customer: 'tab\there' })),
        400,
        'validation-failed',
        ['body.number', 'body.name', 'body.customer'],
      );
      await rejectsWrite(ctx, () => ctx.post('/v1/api-keys', { name: 'key\u0000', role: 'read', bunitIds: [owner] }), 400, 'validation-failed', ['body.name']);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'INV\u00001', amount: '10', date: '2026-10-01' }] }),
        400,
        'validation-failed',
        ['body.lines.0.externalId'],
      );
      // Letters of any script are fine.
      expect((await ctx.post('/v1/bunits', { code: 'UNICODE', name: 'Vertrieb Österreich – 東京' })).status).to.equal(201);
    });

    it('rejects a sort of "-" alone and a query parameter given twice', async () => {
      const { owner } = await world(ctx);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?sort=-`), ['query.sort']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?limit=1&limit=2`), ['query.limit']);
    });

    it('rejects limit 0, 201 and abc, a negative offset and a sort on an unknown field, on every list', async () => {
      const { owner } = await world(ctx);
      for (const list of ['/v1/bunits', `/v1/bunits/${owner}/contracts`, `/v1/bunits/${owner}/referrals`]) {
        expectInvalid(await ctx.get(`${list}?limit=0`), ['query.limit']);
        expectInvalid(await ctx.get(`${list}?limit=201`), ['query.limit']);
        expectInvalid(await ctx.get(`${list}?limit=abc`), ['query.limit']);
        expectInvalid(await ctx.get(`${list}?limit=1.5`), ['query.limit']);
        expectInvalid(await ctx.get(`${list}?offset=-1`), ['query.offset']);
        expectInvalid(await ctx.get(`${list}?sort=colour`), ['query.sort']);
        expectInvalid(await ctx.get(`${list}?sort=--id`), ['query.sort']);
        expectInvalid(await ctx.get(`${list}?archived=yes`), ['query.archived']);
        expectInvalid(await ctx.get(`${list}?limit=0&offset=-1&sort=colour`), ['query.limit', 'query.offset', 'query.sort']);
      }
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?sort=contract`), ['query.sort']);
      expectInvalid(await ctx.get(`/v1/bunits/${owner}/referrals?role=payer&contractId=abc&referrerId=0`), [
        'query.role',
        'query.contractId',
        'query.referrerId',
      ]);
    });

    it('accepts limit 1 and 200 and offset 0, the edges of the ranges', async () => {
      await world(ctx);
      expect((await ctx.get('/v1/bunits?limit=1&offset=0')).body.meta).to.deep.equal({ total: 3, limit: 1, offset: 0 });
      expect((await ctx.get('/v1/bunits?limit=200')).body.meta).to.deep.equal({ total: 3, limit: 200, offset: 0 });
    });
  });

  describe('currencies and codes', () => {
    it('rejects a currency that is not an ISO 4217 code, or one without minor units', async () => {
      const { owner } = await world(ctx);
      for (const currency of ['EURO', 'XYZ', 'eur', 'Eur', 'EU', '', ' EUR', 978]) {
        await rejectsWrite(
          ctx,
          () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ currency })),
          400,
          'validation-failed',
          ['body.currency'],
        );
      }
      // Codes ISO 4217 gives no minor unit: gold, the SDR, testing, no currency.
      for (const currency of ['XAU', 'XDR', 'XTS', 'XXX']) {
        await rejectsWrite(ctx, () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ currency })), 400, 'validation-failed', ['body.currency']);
      }
      for (const currency of ['EUR', 'JPY', 'KWD', 'NOK', 'XOF', 'CLF']) {
        const res = await ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ number: `C-${currency}`, currency }));
        expect(res.status, `${currency}: ${JSON.stringify(res.body)}`).to.equal(201);
      }
    });

    it('rejects a business unit code outside [A-Z0-9-]{2,32}, on create and on save', async () => {
      const { owner } = await world(ctx);
      for (const code of ['A', 'ab', 'Nordics', 'A_B', 'A B', 'A.B', 'ÆØÅ', 'X'.repeat(33), '', 12]) {
        await rejectsWrite(ctx, () => ctx.post('/v1/bunits', { code, name: 'New' }), 400, 'validation-failed', ['body.code']);
        await rejectsWrite(ctx, () => ctx.put(`/v1/bunits/${owner}`, { code, name: 'Owner' }), 400, 'validation-failed', ['body.code']);
      }
      for (const code of ['AB', 'NORDIC-2', 'X'.repeat(32), '42']) {
        const res = await ctx.post('/v1/bunits', { code, name: 'Valid' });
        expect(res.status, `${code}: ${JSON.stringify(res.body)}`).to.equal(201);
      }
    });
  });

  describe('several bad fields at once', () => {
    it('lists every bad field of a contract, not just the first', async () => {
      const { owner } = await world(ctx);
      await rejectsWrite(
        ctx,
        () =>
          ctx.post(`/v1/bunits/${owner}/contracts`, {
            number: '',
            name: 7,
            customer: false,
            currency: 'eur',
            startDate: '2026-02-30',
            endDate: '2026-13-01',
            colour: 'red',
          }),
        400,
        'validation-failed',
        ['body.number', 'body.name', 'body.customer', 'body.currency', 'body.startDate', 'body.endDate', 'body.colour'],
      );
    });

    it('lists a bad percentage and an end before the start of one referral together', async () => {
      const { owner, alice, contract } = await world(ctx);
      await rejectsWrite(
        ctx,
        () =>
          ctx.post(
            `/v1/bunits/${owner}/referrals`,
            referralBody(contract, alice, { percentage: '12.12345', billingStartDate: '2026-12-01', billingEndDate: '2026-11-01' }),
          ),
        400,
        'validation-failed',
        ['body.percentage', 'body.billingEndDate'],
      );
    });

    it('lists a wrongly typed field and an end before the start of one contract together', async () => {
      const { owner } = await world(ctx);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ customer: 7, startDate: '2026-06-01', endDate: '2026-05-01' })),
        400,
        'validation-failed',
        ['body.customer', 'body.endDate'],
      );
    });

    it('does not call an end "before the start" when the start itself is not a date', async () => {
      const { owner, alice, contract } = await world(ctx);
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ startDate: '2026-02-30', endDate: '2026-01-01' })),
        400,
        'validation-failed',
        ['body.startDate'],
      );
      await rejectsWrite(
        ctx,
        () => ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { billingStartDate: '2026-13-01', billingEndDate: '2026-12-01' })),
        400,
        'validation-failed',
        ['body.billingStartDate'],
      );
    });

    it('lists bad path, query and body fields of one request together', async () => {
      await world(ctx);
      await rejectsWrite(
        ctx,
        () => ctx.put('/v1/bunits/abc?force=1', { code: 'ab', name: 5, extra: true }),
        400,
        'validation-failed',
        ['params.bunitId', 'query.force', 'body.code', 'body.name', 'body.extra'],
      );
    });
  });

  it('answers 400 validation-failed, not 500, for a path with malformed percent-encoding', async () => {
    const res = await ctx.get('/v1/bunits/%E0%A4%A');
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.code).to.equal('validation-failed');
  });
});
