import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createContract, createReferral, expectProblem, world } from '../helpers/fixtures';

/**
 * Revenue lines of SPEC §3.4 and their ingest (§6.1): a batch of 1..1000 lines, all or nothing,
 * idempotent by externalId; the list with paging, sort and the `settled` filter; DELETE while a
 * line is unsettled. Today is 2026-11-23 (noon UTC).
 */

interface Line {
  id: number;
  contractId: number;
  externalId: string;
  amount: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
  createdDate: string;
  settled: boolean;
}

interface Ingested {
  created: number;
  existing: number;
  data: Line[];
}

interface FieldError {
  path: string;
  message: string;
}

const revenueOf = (bunitId: number, contractId: number) => `/v1/bunits/${bunitId}/contracts/${contractId}/revenue`;
const lineAt = (bunitId: number, contractId: number, lineId: number) => `${revenueOf(bunitId, contractId)}/${lineId}`;

async function ingest(ctx: ApiContext, bunitId: number, contractId: number, lines: object[]): Promise<Ingested> {
  const res = await ctx.post(revenueOf(bunitId, contractId), { lines });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as Ingested;
}

async function list(ctx: ApiContext, bunitId: number, contractId: number, query = '') {
  const res = await ctx.get(`${revenueOf(bunitId, contractId)}${query}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as { data: Line[]; meta: { total: number; limit: number; offset: number } };
}

const storedCount = async (ctx: ApiContext, bunitId: number, contractId: number) => (await list(ctx, bunitId, contractId)).meta.total;

const errorPaths = (body: { errors?: FieldError[] }) => (body.errors ?? []).map((e) => e.path);

/** A valid one-day line; `n` makes the externalId. */
const oneDay = (n: number | string, overrides: Record<string, unknown> = {}) => ({
  externalId: `INV-${n}`,
  amount: '100.00',
  date: '2026-10-15',
  ...overrides,
});

async function settleThrough(ctx: ApiContext, through: string) {
  const res = await ctx.post('/v1/settlement-runs', { through });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as { id: number };
}

describeApi('revenue lines (SPEC §3.4, §6.1)', (ctx) => {
  describe('ingest', () => {
    it('answers 201 with the stored lines in request order, a Location header and created/existing counts', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [
          { externalId: 'INV-1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
          { externalId: 'CN-1', amount: '-100.00', date: '2026-10-15', currency: 'EUR' },
        ],
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.headers.location).to.equal(revenueOf(owner, contract));
      expect(res.body).to.include({ created: 2, existing: 0 });
      const [first, second] = res.body.data as Line[];
      expect(first).to.have.all.keys('id', 'contractId', 'externalId', 'amount', 'currency', 'periodStart', 'periodEnd', 'createdDate', 'settled');
      expect(first).to.deep.include({
        contractId: contract,
        externalId: 'INV-1',
        amount: '3000.00',
        currency: 'EUR',
        periodStart: '2026-10-01',
        periodEnd: '2026-10-31',
        createdDate: '2026-11-23T12:00:00.000Z',
        settled: false,
      });
      expect(second).to.deep.include({ externalId: 'CN-1', amount: '-100.00', periodStart: '2026-10-15', periodEnd: '2026-10-15' });
      expect(second!.id).to.be.greaterThan(first!.id);

      const stored = await list(ctx, owner, contract);
      expect(stored.data).to.deep.equal([first, second]);
    });

    it('rejects an empty batch and a batch of 1001 lines with 400 validation-failed, and accepts exactly 1000', async () => {
      const { owner, contract } = await world(ctx);
      const lines = (n: number) => Array.from({ length: n }, (_, i) => oneDay(i));

      const empty = await ctx.post(revenueOf(owner, contract), { lines: [] });
      expectProblem(empty, 400, 'validation-failed');
      expect(errorPaths(empty.body)).to.deep.equal(['body.lines']);

      const tooMany = await ctx.post(revenueOf(owner, contract), { lines: lines(1001) });
      expectProblem(tooMany, 400, 'validation-failed');
      expect(errorPaths(tooMany.body)).to.deep.equal(['body.lines']);
      expect(await storedCount(ctx, owner, contract)).to.equal(0);

      const full = await ingest(ctx, owner, contract, lines(1000));
      expect(full).to.include({ created: 1000, existing: 0 });
      expect(full.data).to.have.length(1000);
      expect(full.data[999]!.externalId).to.equal('INV-999');
      expect(await storedCount(ctx, owner, contract)).to.equal(1000);
    });

    it('rejects a body without lines, and lines that are not an array', async () => {
      const { owner, contract } = await world(ctx);
      expectProblem(await ctx.post(revenueOf(owner, contract), {}), 400, 'validation-failed');
      const notArray = await ctx.post(revenueOf(owner, contract), { lines: oneDay(1) });
      expectProblem(notArray, 400, 'validation-failed');
      expect(errorPaths(notArray.body)).to.deep.equal(['body.lines']);
    });

    it('is all or nothing: bad lines among good ones write nothing, and every bad line is named by its index', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [
          oneDay(0),
          oneDay(1, { date: '2026-02-30' }),
          oneDay(2),
          oneDay(3, { amount: '0' }),
          oneDay(4, { amount: '1.1234567', unknown: true }),
          oneDay(5),
        ],
      });
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res.body)).to.have.members(['body.lines.1.date', 'body.lines.3.amount', 'body.lines.4.amount', 'body.lines.4.unknown']);
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('names the currency of each line that differs from the contract currency, and writes nothing', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [oneDay(0, { currency: 'EUR' }), oneDay(1, { currency: 'USD' }), oneDay(2), oneDay(3, { currency: 'JPY' })],
      });
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res.body)).to.deep.equal(['body.lines.1.currency', 'body.lines.3.currency']);
      expect(res.body.errors[0].message).to.include('EUR');
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('answers 404 for a contract that is not under the path business unit, or does not exist', async () => {
      const { owner, alice, contract } = await world(ctx);
      expectProblem(await ctx.post(revenueOf(alice, contract), { lines: [oneDay(1)] }), 404, 'not-found');
      expectProblem(await ctx.post(revenueOf(owner, 99999), { lines: [oneDay(1)] }), 404, 'not-found');
      expectProblem(await ctx.get(revenueOf(alice, contract)), 404, 'not-found');
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });
  });

  describe('amounts', () => {
    it('accepts negative amounts (credit notes) and rejects zero, however it is written', async () => {
      const { owner, contract } = await world(ctx);
      const { data } = await ingest(ctx, owner, contract, [oneDay('CN', { amount: '-0.01' }), oneDay('CN2', { amount: -250 })]);
      expect(data.map((l) => l.amount)).to.deep.equal(['-0.01', '-250.00']);

      for (const zero of ['0', '0.00', '-0', 0, '0.000000']) {
        const res = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('Z', { amount: zero })] });
        expectProblem(res, 400, 'validation-failed');
        expect(errorPaths(res.body), String(zero)).to.deep.equal(['body.lines.0.amount']);
      }
      expect(await storedCount(ctx, owner, contract)).to.equal(2);
    });

    it('rejects more than 6 decimals, as a string or as a JSON number, instead of rounding', async () => {
      const { owner, contract } = await world(ctx);
      for (const amount of ['1.1234567', 1.1234567, '-0.0000001']) {
        const res = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('X', { amount })] });
        expectProblem(res, 400, 'validation-failed');
        expect(res.body.errors, String(amount)).to.deep.equal([{ path: 'body.lines.0.amount', message: 'must have at most 6 decimal places' }]);
      }
      const raw = await ctx
        .post(revenueOf(owner, contract))
        .set('Content-Type', 'application/json')
        .send('{"lines": [{"externalId": "X", "amount": 2.0000001, "date": "2026-10-15"}]}');
      expectProblem(raw, 400, 'validation-failed');
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('rejects amounts that are not plain decimals', async () => {
      const { owner, contract } = await world(ctx);
      for (const amount of ['1e3', ' 12', '12,50', 'abc', '', null, true, '+5']) {
        const res = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('X', { amount })] });
        expectProblem(res, 400, 'validation-failed');
        expect(errorPaths(res.body), JSON.stringify(amount)).to.deep.equal(['body.lines.0.amount']);
      }
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('accepts amounts up to 18 digits before the point and rejects larger ones with 400, on every database', async () => {
      const { owner, contract } = await world(ctx);
      for (const amount of ['1000000000000000000', '-1000000000000000000', '12345678901234567890.5']) {
        const res = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('X', { amount })] });
        expectProblem(res, 400, 'validation-failed');
        expect(errorPaths(res.body), amount).to.deep.equal(['body.lines.0.amount']);
      }
      expect(await storedCount(ctx, owner, contract)).to.equal(0);

      const { data } = await ingest(ctx, owner, contract, [
        oneDay('MAX', { amount: '999999999999999999.999999' }),
        oneDay('MIN', { amount: '-999999999999999999.999999' }),
      ]);
      expect(data.map((l) => l.amount)).to.deep.equal(['999999999999999999.999999', '-999999999999999999.999999']);
      expect((await list(ctx, owner, contract)).data.map((l) => l.amount)).to.deep.equal(['999999999999999999.999999', '-999999999999999999.999999']);
    });

    it('answers amounts as strings with the currency’s minor digits, keeping more digits when given', async () => {
      const { owner, contract } = await world(ctx);
      const jpy = await createContract(ctx, owner, { number: 'J-1', currency: 'JPY' });
      const kwd = await createContract(ctx, owner, { number: 'K-1', currency: 'KWD' });

      const eur = await ingest(ctx, owner, contract, [
        oneDay('E1', { amount: '3000' }),
        oneDay('E2', { amount: 3000.5 }),
        oneDay('E3', { amount: '0.123456' }),
        oneDay('E4', { amount: '12.5' }),
        oneDay('E5', { amount: '-7' }),
      ]);
      expect(eur.data.map((l) => l.amount)).to.deep.equal(['3000.00', '3000.50', '0.123456', '12.50', '-7.00']);

      const yen = await ingest(ctx, owner, jpy, [oneDay('J1', { amount: '125000' }), oneDay('J2', { amount: '125000.00' }), oneDay('J3', { amount: '0.5' })]);
      expect(yen.data.map((l) => [l.currency, l.amount])).to.deep.equal([
        ['JPY', '125000'],
        ['JPY', '125000'],
        ['JPY', '0.5'],
      ]);

      const dinar = await ingest(ctx, owner, kwd, [oneDay('K1', { amount: '1.5' }), oneDay('K2', { amount: '2.0001' })]);
      expect(dinar.data.map((l) => l.amount)).to.deep.equal(['1.500', '2.0001']);

      // Read back from the database, the same strings.
      expect((await list(ctx, owner, contract)).data.map((l) => l.amount)).to.deep.equal(['3000.00', '3000.50', '0.123456', '12.50', '-7.00']);
      expect((await list(ctx, owner, jpy)).data.map((l) => l.amount)).to.deep.equal(['125000', '125000', '0.5']);
      expect((await list(ctx, owner, kwd)).data.map((l) => l.amount)).to.deep.equal(['1.500', '2.0001']);
    });

    it('keeps a JSON number exactly as written, never through a float', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx
        .post(revenueOf(owner, contract))
        .set('Content-Type', 'application/json')
        .send('{"lines": [{"externalId": "BIG", "amount": 123456789012.123457, "date": "2026-10-15"}, {"externalId": "T", "amount": 0.100000, "date": "2026-10-15"}]}');
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.data.map((l: Line) => l.amount)).to.deep.equal(['123456789012.123457', '0.10']);
    });
  });

  describe('periods', () => {
    it('takes a single-day date as periodStart = periodEnd', async () => {
      const { owner, contract } = await world(ctx);
      const { data } = await ingest(ctx, owner, contract, [{ externalId: 'D', amount: '5', date: '2026-10-15' }]);
      expect(data[0]).to.deep.include({ periodStart: '2026-10-15', periodEnd: '2026-10-15' });
    });

    it('rejects a line that gives both date and a period, naming date', async () => {
      const { owner, contract } = await world(ctx);
      for (const period of [{ periodStart: '2026-10-15', periodEnd: '2026-10-15' }, { periodStart: '2026-10-15' }, { periodEnd: '2026-10-15' }]) {
        const res = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('X', period)] });
        expectProblem(res, 400, 'validation-failed');
        expect(errorPaths(res.body), JSON.stringify(period)).to.deep.equal(['body.lines.0.date']);
      }
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('rejects a line that gives neither date nor a full period, naming what is missing', async () => {
      const { owner, contract } = await world(ctx);
      const neither = await ctx.post(revenueOf(owner, contract), { lines: [{ externalId: 'X', amount: '5' }] });
      expectProblem(neither, 400, 'validation-failed');
      expect(errorPaths(neither.body)).to.have.members(['body.lines.0.periodStart', 'body.lines.0.periodEnd']);

      const startOnly = await ctx.post(revenueOf(owner, contract), { lines: [{ externalId: 'X', amount: '5', periodStart: '2026-10-01' }] });
      expectProblem(startOnly, 400, 'validation-failed');
      expect(errorPaths(startOnly.body)).to.deep.equal(['body.lines.0.periodEnd']);
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('rejects a period that ends before it starts, and accepts a period of one day', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [{ externalId: 'X', amount: '5', periodStart: '2026-10-02', periodEnd: '2026-10-01' }],
      });
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res.body)).to.deep.equal(['body.lines.0.periodEnd']);

      const { data } = await ingest(ctx, owner, contract, [{ externalId: 'Y', amount: '5', periodStart: '2026-10-02', periodEnd: '2026-10-02' }]);
      expect(data[0]).to.deep.include({ periodStart: '2026-10-02', periodEnd: '2026-10-02' });
    });

    it('names a malformed period date once, without also comparing it with the other date', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [
          { externalId: 'A', amount: '5', periodStart: '2026-10-01', periodEnd: '20261130' },
          { externalId: 'B', amount: '5', periodStart: '2026-10-5', periodEnd: '2026-10-01' },
          { externalId: 'C', amount: '5', periodStart: '2026-10-01', periodEnd: '2026-10-5' },
          { externalId: 'D', amount: '5', periodStart: '2026-10-01', periodEnd: '2026-13-01' },
        ],
      });
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res.body)).to.deep.equal([
        'body.lines.0.periodEnd',
        'body.lines.1.periodStart',
        'body.lines.2.periodEnd',
        'body.lines.3.periodEnd',
      ]);
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('accepts a period of 366 days and rejects one of 367', async () => {
      const { owner, contract } = await world(ctx);
      const tooLong = await ctx.post(revenueOf(owner, contract), {
        lines: [{ externalId: 'LONG', amount: '5', periodStart: '2026-01-01', periodEnd: '2027-01-02' }],
      });
      expectProblem(tooLong, 400, 'validation-failed');
      expect(errorPaths(tooLong.body)).to.deep.equal(['body.lines.0.periodEnd']);

      const leapYear = await ctx.post(revenueOf(owner, contract), {
        lines: [{ externalId: 'LEAP', amount: '5', periodStart: '2028-01-01', periodEnd: '2028-12-31' }],
      });
      expect(leapYear.status, JSON.stringify(leapYear.body)).to.equal(201);
      const { data } = await ingest(ctx, owner, contract, [{ externalId: 'YEAR', amount: '5', periodStart: '2026-01-01', periodEnd: '2027-01-01' }]);
      expect(data[0]).to.deep.include({ periodStart: '2026-01-01', periodEnd: '2027-01-01' });
      expect(await storedCount(ctx, owner, contract)).to.equal(2);
    });
  });

  describe('idempotency by externalId', () => {
    it('reports a line sent again with the same content as existing, without duplicating it', async () => {
      const { owner, contract } = await world(ctx);
      const lines = [
        { externalId: 'INV-1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
        { externalId: 'CN-1', amount: '-100.00', date: '2026-10-15' },
      ];
      const first = await ingest(ctx, owner, contract, lines);

      const again = await ingest(ctx, owner, contract, lines);
      expect(again).to.include({ created: 0, existing: 2 });
      expect(again.data).to.deep.equal(first.data);
      expect(await storedCount(ctx, owner, contract)).to.equal(2);
    });

    it('counts an amount written differently but equal, a date given as a period, and a given currency as identical', async () => {
      const { owner, contract } = await world(ctx);
      const first = await ingest(ctx, owner, contract, [
        { externalId: 'A', amount: '3000.00', date: '2026-10-15' },
        { externalId: 'B', amount: '12.5', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      ]);
      const again = await ingest(ctx, owner, contract, [
        { externalId: 'A', amount: '3000', periodStart: '2026-10-15', periodEnd: '2026-10-15', currency: 'EUR' },
        { externalId: 'B', amount: 12.5, periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      ]);
      expect(again).to.include({ created: 0, existing: 2 });
      expect(again.data.map((l) => [l.id, l.amount])).to.deep.equal(first.data.map((l) => [l.id, l.amount]));
      expect(await storedCount(ctx, owner, contract)).to.equal(2);
    });

    it('creates the new lines of a request and reports the known ones as existing, in request order', async () => {
      const { owner, contract } = await world(ctx);
      const [known] = (await ingest(ctx, owner, contract, [oneDay('OLD')])).data;
      const res = await ingest(ctx, owner, contract, [oneDay('NEW-1'), oneDay('OLD'), oneDay('NEW-2')]);
      expect(res).to.include({ created: 2, existing: 1 });
      expect(res.data.map((l) => l.externalId)).to.deep.equal(['INV-NEW-1', 'INV-OLD', 'INV-NEW-2']);
      expect(res.data[1]!.id).to.equal(known!.id);
      expect(await storedCount(ctx, owner, contract)).to.equal(3);
    });

    it('answers 409 duplicate-external-id naming the ids whose content differs, and writes nothing, not even the new lines', async () => {
      const { owner, contract } = await world(ctx);
      const before = await ingest(ctx, owner, contract, [
        oneDay('AMOUNT', { amount: '100.00' }),
        oneDay('PERIOD', { date: '2026-10-15' }),
        oneDay('SAME'),
      ]);

      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [
          oneDay('BRAND-NEW'),
          oneDay('AMOUNT', { amount: '100.01' }),
          oneDay('SAME'),
          oneDay('PERIOD', { date: undefined, periodStart: '2026-10-15', periodEnd: '2026-10-16' }),
        ],
      });
      expectProblem(res, 409, 'duplicate-external-id');
      expect(res.body.detail).to.include('INV-AMOUNT').and.to.include('INV-PERIOD');
      expect(res.body.detail).not.to.include('INV-SAME').and.not.to.include('INV-BRAND-NEW');

      const after = await list(ctx, owner, contract);
      expect(after.data).to.deep.equal(before.data);
    });

    it('rejects the same externalId twice in one request with 400, naming the repeat, and writes nothing', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('A'), oneDay('B'), oneDay('A')] });
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res.body)).to.deep.equal(['body.lines.2.externalId']);

      // Even with identical content: one request may not carry one externalId twice.
      const identical = await ctx.post(revenueOf(owner, contract), { lines: [oneDay('C'), oneDay('C')] });
      expectProblem(identical, 400, 'validation-failed');
      expect(await storedCount(ctx, owner, contract)).to.equal(0);
    });

    it('keeps externalIds unique per contract: the same externalId on another contract is a new line', async () => {
      const { owner, alice, contract } = await world(ctx);
      const second = await createContract(ctx, owner, { number: 'C-2' });
      const ofAlice = await createContract(ctx, alice, { number: 'A-1' });

      const a = await ingest(ctx, owner, contract, [oneDay('SHARED', { amount: '1' })]);
      const b = await ingest(ctx, owner, second, [oneDay('SHARED', { amount: '2' })]);
      const c = await ingest(ctx, alice, ofAlice, [oneDay('SHARED', { amount: '3' })]);
      for (const r of [a, b, c]) expect(r).to.include({ created: 1, existing: 0 });
      expect(new Set([a.data[0]!.id, b.data[0]!.id, c.data[0]!.id]).size).to.equal(3);
      expect(b.data[0]).to.deep.include({ contractId: second, amount: '2.00' });
    });

    it('rejects an empty or over-long externalId and accepts one of 128 characters', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(revenueOf(owner, contract), {
        lines: [oneDay(0, { externalId: '' }), oneDay(1, { externalId: 'x'.repeat(129) }), oneDay(2, { externalId: 42 })],
      });
      expectProblem(res, 400, 'validation-failed');
      expect(errorPaths(res.body)).to.deep.equal(['body.lines.0.externalId', 'body.lines.1.externalId', 'body.lines.2.externalId']);
      const { data } = await ingest(ctx, owner, contract, [oneDay(0, { externalId: 'x'.repeat(128) })]);
      expect(data[0]!.externalId).to.have.length(128);
    });
  });

  describe('settled lines and DELETE', () => {
    it('shows settled false before and true after a settlement run that covers the line', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
      const { data } = await ingest(ctx, owner, contract, [
        oneDay('OCT', { date: '2026-10-31' }),
        oneDay('NOV', { periodStart: '2026-10-20', periodEnd: '2026-11-01', date: undefined }),
      ]);
      expect(data.map((l) => l.settled)).to.deep.equal([false, false]);

      await settleThrough(ctx, '2026-10-31');
      const after = await list(ctx, owner, contract);
      expect(after.data.map((l) => [l.externalId, l.settled])).to.deep.equal([
        ['INV-OCT', true],
        ['INV-NOV', false],
      ]);

      // An ingest that repeats a settled line reports it as stored: settled.
      const again = await ingest(ctx, owner, contract, [oneDay('OCT', { date: '2026-10-31' })]);
      expect(again).to.include({ created: 0, existing: 1 });
      expect(again.data[0]).to.deep.include({ id: data[0]!.id, settled: true });
    });

    it('deletes an unsettled line with 204; it is gone, and a second DELETE answers 404', async () => {
      const { owner, contract } = await world(ctx);
      const { data } = await ingest(ctx, owner, contract, [oneDay('KEEP'), oneDay('DROP')]);
      const drop = data[1]!.id;

      const res = await ctx.del(lineAt(owner, contract, drop));
      expect(res.status, JSON.stringify(res.body)).to.equal(204);
      expect(res.text).to.equal('');
      expect((await list(ctx, owner, contract)).data.map((l) => l.externalId)).to.deep.equal(['INV-KEEP']);
      expectProblem(await ctx.del(lineAt(owner, contract, drop)), 404, 'not-found');

      // Once deleted, the externalId is free again.
      const again = await ingest(ctx, owner, contract, [oneDay('DROP', { amount: '7' })]);
      expect(again).to.include({ created: 1, existing: 0 });
    });

    it('refuses to delete a settled line with 409 already-settled and keeps it', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
      const { data } = await ingest(ctx, owner, contract, [oneDay('OCT')]);
      await settleThrough(ctx, '2026-10-31');

      expectProblem(await ctx.del(lineAt(owner, contract, data[0]!.id)), 409, 'already-settled');
      expect((await list(ctx, owner, contract)).data).to.have.length(1);
    });

    it('answers 404 for a line of another contract or under another business unit, and deletes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const second = await createContract(ctx, owner, { number: 'C-2' });
      const ofAlice = await createContract(ctx, alice, { number: 'A-1' });
      const [line] = (await ingest(ctx, owner, contract, [oneDay('A')])).data;
      await ingest(ctx, alice, ofAlice, [oneDay('A')]);

      expectProblem(await ctx.del(lineAt(owner, second, line!.id)), 404, 'not-found');
      expectProblem(await ctx.del(lineAt(alice, contract, line!.id)), 404, 'not-found');
      expectProblem(await ctx.del(lineAt(alice, ofAlice, line!.id)), 404, 'not-found');
      expectProblem(await ctx.del(lineAt(owner, contract, 99999)), 404, 'not-found');
      expect(await storedCount(ctx, owner, contract)).to.equal(1);
      expect(await storedCount(ctx, alice, ofAlice)).to.equal(1);
    });
  });

  describe('listing', () => {
    async function fiveLines() {
      const { owner, alice, contract } = await world(ctx);
      const other = await createContract(ctx, owner, { number: 'C-2' });
      await ingest(ctx, owner, other, [oneDay('ELSEWHERE')]);
      const { data } = await ingest(ctx, owner, contract, [
        oneDay('A', { date: '2026-10-20' }),
        oneDay('B', { date: '2026-10-05' }),
        oneDay('C', { date: '2026-11-10' }),
        oneDay('D', { date: '2026-10-05' }),
        oneDay('E', { date: '2026-10-12' }),
      ]);
      return { owner, alice, contract, ids: data.map((l) => l.id) };
    }

    it('lists only the lines of the contract, by id, with meta and default paging', async () => {
      const { owner, contract, ids } = await fiveLines();
      const page = await list(ctx, owner, contract);
      expect(page.meta).to.deep.equal({ total: 5, limit: 50, offset: 0 });
      expect(page.data.map((l) => l.id)).to.deep.equal(ids);
      expect(page.data.every((l) => l.contractId === contract)).to.equal(true);
    });

    it('pages with limit and offset', async () => {
      const { owner, contract, ids } = await fiveLines();
      const second = await list(ctx, owner, contract, '?limit=2&offset=2');
      expect(second.meta).to.deep.equal({ total: 5, limit: 2, offset: 2 });
      expect(second.data.map((l) => l.id)).to.deep.equal(ids.slice(2, 4));
      const past = await list(ctx, owner, contract, '?offset=10');
      expect(past.meta.total).to.equal(5);
      expect(past.data).to.deep.equal([]);
    });

    it('sorts by id, periodStart and periodEnd, ascending or descending, ties by id', async () => {
      const { owner, contract } = await fiveLines();
      const order = async (sort: string) => (await list(ctx, owner, contract, `?sort=${sort}`)).data.map((l) => l.externalId);
      expect(await order('-id')).to.deep.equal(['INV-E', 'INV-D', 'INV-C', 'INV-B', 'INV-A']);
      expect(await order('periodStart')).to.deep.equal(['INV-B', 'INV-D', 'INV-E', 'INV-A', 'INV-C']);
      expect(await order('-periodEnd')).to.deep.equal(['INV-C', 'INV-A', 'INV-E', 'INV-D', 'INV-B']);
      expect(await order('createdDate')).to.deep.equal(['INV-A', 'INV-B', 'INV-C', 'INV-D', 'INV-E']);
      expectProblem(await ctx.get(`${revenueOf(owner, contract)}?sort=amount`), 400, 'validation-failed');
    });

    it('filters with settled=true and settled=false, and rejects any other value', async () => {
      const { owner, alice, contract } = await fiveLines();
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
      await settleThrough(ctx, '2026-10-31');

      const settled = await list(ctx, owner, contract, '?settled=true');
      expect(settled.meta.total).to.equal(4);
      expect(settled.data.map((l) => l.externalId)).to.deep.equal(['INV-A', 'INV-B', 'INV-D', 'INV-E']);
      expect(settled.data.every((l) => l.settled)).to.equal(true);

      const open = await list(ctx, owner, contract, '?settled=false&sort=-id');
      expect(open.meta.total).to.equal(1);
      expect(open.data.map((l) => [l.externalId, l.settled])).to.deep.equal([['INV-C', false]]);

      const paged = await list(ctx, owner, contract, '?settled=true&limit=1&offset=3');
      expect(paged.meta).to.deep.equal({ total: 4, limit: 1, offset: 3 });
      expect(paged.data.map((l) => l.externalId)).to.deep.equal(['INV-E']);

      const bad = await ctx.get(`${revenueOf(owner, contract)}?settled=yes`);
      expectProblem(bad, 400, 'validation-failed');
      expect(errorPaths(bad.body)).to.deep.equal(['query.settled']);
    });
  });
});
