import { expect } from 'chai';
import { Dec } from '../../src/domain/decimal';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, world } from '../helpers/fixtures';

/**
 * Statements and settlement runs (SPEC §6.3): grouping per (payer, referrer, currency) per run,
 * rounding once per statement in the currency's ISO 4217 minor units with largest-remainder
 * allocation, the statement list and its filters, a single statement as JSON and CSV, and the run
 * resource. Today is 2026-11-23 (noon UTC), so the default `through` is 2026-11-22.
 */

interface StatementLine {
  id: number;
  kind: 'share' | 'adjustment';
  adjusts: { statementId: number; lineId: number } | null;
  revenueLineId: number;
  referralId: number;
  contractId: number;
  periodStart: string;
  periodEnd: string;
  periodDays: number;
  billableDays: number;
  revenueAmount: string;
  exactAmount: string;
  amount: string;
}

interface Party {
  id: number;
  code: string;
  name: string;
}

interface Statement {
  id: number;
  runId: number;
  payer: Party;
  referrer: Party;
  currency: string;
  total: string;
  lineCount: number;
  createdDate: string;
  period: string;
  lines?: StatementLine[];
}

interface Run {
  id: number;
  through: string;
  dryRun: boolean;
  createdDate: string;
  statementCount: number;
  lineCount: number;
  totals: { currency: string; amount: string }[];
}

const MINOR_DIGITS: Record<string, number> = { EUR: 2, JPY: 0, KWD: 3 };

const revenueOf = (bunitId: number, contractId: number) => `/v1/bunits/${bunitId}/contracts/${contractId}/revenue`;
const statementsOf = (bunitId: number) => `/v1/bunits/${bunitId}/statements`;
const statementAt = (bunitId: number, id: number) => `${statementsOf(bunitId)}/${id}`;

async function ingest(ctx: ApiContext, bunitId: number, contractId: number, lines: object[]): Promise<number[]> {
  const res = await ctx.post(revenueOf(bunitId, contractId), { lines });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return (res.body.data as { id: number }[]).map((l) => l.id);
}

async function settle(ctx: ApiContext, body?: object): Promise<Run> {
  const res = await ctx.post('/v1/settlement-runs', body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as Run;
}

async function listStatements(ctx: ApiContext, bunitId: number, query = '') {
  const res = await ctx.get(`${statementsOf(bunitId)}${query}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as { data: Statement[]; meta: { total: number; limit: number; offset: number } };
}

async function readStatement(ctx: ApiContext, bunitId: number, id: number): Promise<Statement & { lines: StatementLine[] }> {
  const res = await ctx.get(statementAt(bunitId, id));
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as Statement & { lines: StatementLine[] };
}

/**
 * SPEC §6.3 checked on a statement as answered: the lines add up to the total; each line is its
 * exact share rounded down or up by one minor unit; the total is the exact sum rounded half to even.
 */
function expectRoundedOnce(statement: Statement & { lines: StatementLine[] }) {
  const digits = MINOR_DIGITS[statement.currency]!;
  const unit = new Dec(1).div(new Dec(10).pow(digits));
  const sumOfAmounts = statement.lines.reduce((s, l) => s.plus(l.amount), new Dec(0));
  expect(sumOfAmounts.equals(statement.total), `lines add up to ${sumOfAmounts.toFixed()}, total ${statement.total}`).to.equal(true);
  for (const line of statement.lines) {
    const floor = new Dec(line.exactAmount).toDecimalPlaces(digits, Dec.ROUND_FLOOR);
    const extra = new Dec(line.amount).minus(floor);
    expect(extra.isZero() || extra.equals(unit), `${line.amount} for exact ${line.exactAmount}`).to.equal(true);
    expect(line.amount).to.match(digits === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${digits}}$`));
  }
  const exactSum = statement.lines.reduce((s, l) => s.plus(l.exactAmount), new Dec(0));
  expect(exactSum.toDecimalPlaces(digits, Dec.ROUND_HALF_EVEN).toFixed(digits)).to.equal(statement.total);
}

describeApi('statements and settlement runs (SPEC §6.3)', (ctx) => {
  /**
   * One statement: PAYER's contract in `currency`, referred by EARNER at `percentage` from
   * `billingStartDate`; the lines are ingested in order and settled through 2026-10-31. Returns
   * the statement and its line amounts in the order the revenue lines were given.
   */
  async function settleOne(currency: string, percentage: string, lines: object[], billingStartDate = '2026-10-01') {
    const payer = await createBunit(ctx, 'PAYER');
    const earner = await createBunit(ctx, 'EARNER');
    const contract = await createContract(ctx, payer, { number: `C-${currency}`, currency, startDate: '2026-01-01' });
    await createReferral(ctx, payer, contract, earner, { percentage, billingStartDate });
    const lineIds = await ingest(ctx, payer, contract, lines);
    const run = await settle(ctx, { through: '2026-10-31' });
    expect(run.statementCount).to.equal(1);
    const [listed] = (await listStatements(ctx, payer)).data;
    const statement = await readStatement(ctx, payer, listed!.id);
    expectRoundedOnce(statement);
    const amounts = lineIds.map((id) => statement.lines.find((l) => l.revenueLineId === id)!.amount);
    return { statement, amounts, run };
  }

  const day = (externalId: string, amount: string, date = '2026-10-15') => ({ externalId, amount, date });
  /** A three-day line of which the referral starting 2026-10-03 is billable on one day: a third of it. */
  const third = (externalId: string, amount: string) => ({ externalId, amount, periodStart: '2026-10-01', periodEnd: '2026-10-03' });

  describe('rounding per statement in the currency’s minor units', () => {
    it('JPY (0 decimals): three shares of a third of a yen make one yen, given to the lowest revenue line id', async () => {
      const { statement, amounts } = await settleOne('JPY', '10', [third('A', '10'), third('B', '10'), third('C', '10')], '2026-10-03');
      expect(statement.total).to.equal('1');
      expect(amounts).to.deep.equal(['1', '0', '0']);
      expect(statement.lines[0]).to.deep.include({ periodDays: 3, billableDays: 1, revenueAmount: '10', exactAmount: '0.33333333333333333333' });
    });

    it('JPY: a total of exactly x.5 rounds to the even yen, up from 61.5 to 62, and the largest remainders get the extra yen', async () => {
      // 10.2 + 20.7 + 30.6 = 61.5 → 62; floors 10 + 20 + 30 = 60, so 20.7 and 30.6 get one more yen.
      const { statement, amounts } = await settleOne('JPY', '10', [day('A', '102'), day('B', '207'), day('C', '306')]);
      expect(statement.total).to.equal('62');
      expect(amounts).to.deep.equal(['10', '21', '31']);
    });

    it('JPY: a total of exactly x.5 rounds to the even yen, down from 62.5 to 62, not half up to 63', async () => {
      // 10.2 + 20.7 + 31.6 = 62.5 → 62; floors 10 + 20 + 31 = 61, so only 20.7 gets one more yen.
      const { statement, amounts } = await settleOne('JPY', '10', [day('A', '102'), day('B', '207'), day('C', '316')]);
      expect(statement.total).to.equal('62');
      expect(amounts).to.deep.equal(['10', '21', '31']);
    });

    it('KWD (3 decimals): three shares of a third make 0.100, split 0.034, 0.033, 0.033', async () => {
      const { statement, amounts } = await settleOne('KWD', '10', [third('A', '1'), third('B', '1'), third('C', '1')], '2026-10-03');
      expect(statement.total).to.equal('0.100');
      expect(amounts).to.deep.equal(['0.034', '0.033', '0.033']);
      expect(statement.lines[0]!.revenueAmount).to.equal('1.000');
    });

    it('KWD: a total of exactly x.xxx5 rounds to the even fils, 1.2345 down to 1.234', async () => {
      // 0.4115 + 0.823 = 1.2345 → 1.234 = floors 0.411 + 0.823: no line gets more.
      const { statement, amounts } = await settleOne('KWD', '10', [day('A', '4.115'), day('B', '8.23')]);
      expect(statement.total).to.equal('1.234');
      expect(amounts).to.deep.equal(['0.411', '0.823']);
    });

    it('KWD: a total of exactly x.xxx5 rounds to the even fils, 1.2355 up to 1.236', async () => {
      const { statement, amounts } = await settleOne('KWD', '10', [day('A', '4.125'), day('B', '8.23')]);
      expect(statement.total).to.equal('1.236');
      expect(amounts).to.deep.equal(['0.413', '0.823']);
    });

    it('EUR (2 decimals): three shares of a third make 0.10, split 0.04, 0.03, 0.03', async () => {
      const { statement, amounts } = await settleOne('EUR', '10', [third('A', '1.00'), third('B', '1.00'), third('C', '1.00')], '2026-10-03');
      expect(statement.total).to.equal('0.10');
      expect(amounts).to.deep.equal(['0.04', '0.03', '0.03']);
    });

    it('EUR: a total of exactly x.xx5 rounds to the even cent, 0.125 down to 0.12, not half up to 0.13', async () => {
      const down = await settleOne('EUR', '10', [day('A', '1.05'), day('B', '0.20')]);
      expect(down.statement.total).to.equal('0.12');
      expect(down.amounts).to.deep.equal(['0.10', '0.02']);
    });

    it('EUR: 0.135 rounds up to the even 0.14, and the half cent goes to the line it came from', async () => {
      const up = await settleOne('EUR', '10', [day('A', '1.15'), day('B', '0.20')]);
      expect(up.statement.total).to.equal('0.14');
      expect(up.amounts).to.deep.equal(['0.12', '0.02']);
    });

    it('EUR: the k extra cents go to the k largest remainders, not to the first lines', async () => {
      // 0.101 + 0.109 + 0.105 + 0.107 = 0.422 → 0.42; floors 0.40; k = 2 → the lines of 0.109 and 0.107.
      const { statement, amounts } = await settleOne('EUR', '10', [day('A', '1.01'), day('B', '1.09'), day('C', '1.05'), day('D', '1.07')]);
      expect(statement.total).to.equal('0.42');
      expect(amounts).to.deep.equal(['0.10', '0.11', '0.10', '0.11']);
    });

    it('EUR: floors a credit note toward minus infinity, and breaks equal remainders by the lower revenue line id', async () => {
      // 0.335 − 0.105 = 0.23; floors 0.33 and −0.11 = 0.22; both remainders are 0.005: the lower id wins.
      const first = await settleOne('EUR', '10', [day('A', '3.35'), day('B', '-1.05')]);
      expect(first.statement.total).to.equal('0.23');
      expect(first.amounts).to.deep.equal(['0.34', '-0.11']);
    });

    it('EUR: with the credit note ingested first, the credit note gets the extra cent', async () => {
      const first = await settleOne('EUR', '10', [day('B', '-1.05'), day('A', '3.35')]);
      expect(first.statement.total).to.equal('0.23');
      expect(first.amounts).to.deep.equal(['-0.10', '0.33']);
    });

    it('EUR: adds shares of lines with different period lengths exactly (thirds and sevenths)', async () => {
      // 1/30 + 1/70 = 0.047619… → 0.05; floors 0.03 + 0.01; the seventh has the larger remainder.
      const { statement, amounts } = await settleOne(
        'EUR',
        '10',
        [third('THIRD', '1.00'), { externalId: 'SEVENTH', amount: '1.00', periodStart: '2026-09-27', periodEnd: '2026-10-03' }],
        '2026-10-03',
      );
      expect(statement.total).to.equal('0.05');
      expect(amounts).to.deep.equal(['0.03', '0.02']);
      expect(statement.lines.map((l) => l.periodDays)).to.have.members([3, 7]);
    });

    it('EUR: two referrals of one referrer on one revenue line tie on remainder; the lower referral id wins', async () => {
      const payer = await createBunit(ctx, 'PAYER');
      const earner = await createBunit(ctx, 'EARNER');
      const contract = await createContract(ctx, payer, { number: 'C-1' });
      const early = await createReferral(ctx, payer, contract, earner, { percentage: '10', billingStartDate: '2026-10-01', billingEndDate: '2026-10-10' });
      const late = await createReferral(ctx, payer, contract, earner, { percentage: '10', billingStartDate: '2026-10-11', billingEndDate: '2026-10-20' });
      await ingest(ctx, payer, contract, [{ externalId: 'A', amount: '0.10', periodStart: '2026-10-01', periodEnd: '2026-10-20' }]);
      const run = await settle(ctx, { through: '2026-10-31' });
      expect(run).to.deep.include({ statementCount: 1, lineCount: 2 });

      const [listed] = (await listStatements(ctx, payer)).data;
      const statement = await readStatement(ctx, payer, listed!.id);
      expectRoundedOnce(statement);
      expect(statement.total).to.equal('0.01');
      const byReferral = Object.fromEntries(statement.lines.map((l) => [l.referralId, [l.billableDays, l.exactAmount, l.amount]]));
      expect(byReferral).to.deep.equal({ [early.id]: [10, '0.005', '0.01'], [late.id]: [10, '0.005', '0.00'] });
    });

    it('rounds per statement, not per run: equal remainders in two statements each get their own rounding', async () => {
      // Each of ALICE and BOB earns a third of a cent three times: each statement is 0.01, the run 0.02.
      const { owner, alice, bob, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-03' });
      await createReferral(ctx, owner, contract, bob, { percentage: '10', billingStartDate: '2026-10-03' });
      await ingest(ctx, owner, contract, [third('A', '0.10'), third('B', '0.10'), third('C', '0.10')]);
      const run = await settle(ctx, { through: '2026-10-31' });
      expect(run).to.deep.include({ statementCount: 2, lineCount: 6 });
      expect(run.totals).to.deep.equal([{ currency: 'EUR', amount: '0.02' }]);
      for (const s of (await listStatements(ctx, owner)).data) {
        const statement = await readStatement(ctx, owner, s.id);
        expectRoundedOnce(statement);
        expect(statement.total).to.equal('0.01');
        expect(statement.lines.map((l) => l.amount).sort()).to.deep.equal(['0.00', '0.00', '0.01']);
      }
    });
  });

  describe('grouping, listing and reading', () => {
    /**
     * OWNER's EUR contracts C-1, C-2 and JPY contract J-1 referred by ALICE, C-1 by BOB too; ALICE's
     * contract A-1 referred by OWNER. Run 1 settles October; a late line then goes into run 2.
     */
    async function twoRuns() {
      const { owner, alice, bob, contract: c1 } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const c2 = await createContract(ctx, owner, { number: 'C-2' });
      const j1 = await createContract(ctx, owner, { number: 'J-1', currency: 'JPY' });
      const a1 = await createContract(ctx, alice, { number: 'A-1' });
      const start = { percentage: '10', billingStartDate: '2026-10-01' };
      await createReferral(ctx, owner, c1, alice, start);
      await createReferral(ctx, owner, c2, alice, start);
      await createReferral(ctx, owner, j1, alice, start);
      await createReferral(ctx, owner, c1, bob, { ...start, percentage: '5' });
      await createReferral(ctx, alice, a1, owner, start);
      await ingest(ctx, owner, c1, [day('C1-OCT', '1000.00')]);
      await ingest(ctx, owner, c2, [day('C2-OCT', '500.00')]);
      await ingest(ctx, owner, j1, [day('J1-OCT', '12345')]);
      await ingest(ctx, alice, a1, [day('A1-OCT', '200.00')]);
      const run1 = await settle(ctx, { through: '2026-10-31' });
      await ingest(ctx, owner, c1, [day('C1-LATE', '-40.00', '2026-10-20')]);
      const run2 = await settle(ctx, { through: '2026-10-31' });
      return { owner, alice, bob, carol, c1, c2, j1, a1, run1, run2 };
    }

    const key = (s: Statement) => `${s.payer.code}>${s.referrer.code}:${s.currency}`;

    it('forms one statement per (payer, referrer, currency) in each run', async () => {
      const { owner, run1, run2 } = await twoRuns();
      expect(run1).to.deep.include({ statementCount: 4, lineCount: 5 });
      expect(run1.totals).to.deep.equal([
        { currency: 'EUR', amount: '220.00' },
        { currency: 'JPY', amount: '1234' },
      ]);
      expect(run2).to.deep.include({ statementCount: 2, lineCount: 2 });
      expect(run2.totals).to.deep.equal([{ currency: 'EUR', amount: '-6.00' }]);

      const first = await listStatements(ctx, owner, `?runId=${run1.id}`);
      expect(first.data.map((s) => [key(s), s.lineCount, s.total])).to.have.deep.members([
        ['OWNER>ALICE:EUR', 2, '150.00'],
        ['OWNER>ALICE:JPY', 1, '1234'],
        ['OWNER>BOB:EUR', 1, '50.00'],
        ['ALICE>OWNER:EUR', 1, '20.00'],
      ]);
      const second = await listStatements(ctx, owner, `?runId=${run2.id}`);
      expect(second.data.map((s) => [key(s), s.lineCount, s.total])).to.have.deep.members([
        ['OWNER>ALICE:EUR', 1, '-4.00'],
        ['OWNER>BOB:EUR', 1, '-2.00'],
      ]);
    });

    it('lists statements without lines, by role: payer, referrer or any (the default)', async () => {
      const { owner, alice, bob, carol, run1 } = await twoRuns();
      const count = async (bunitId: number, query = '') => (await listStatements(ctx, bunitId, query)).meta.total;
      expect([await count(owner), await count(owner, '?role=any'), await count(owner, '?role=payer'), await count(owner, '?role=referrer')]).to.deep.equal([6, 6, 5, 1]);
      expect([await count(alice), await count(alice, '?role=payer'), await count(alice, '?role=referrer')]).to.deep.equal([4, 1, 3]);
      expect([await count(bob), await count(bob, '?role=payer'), await count(bob, '?role=referrer')]).to.deep.equal([2, 0, 2]);
      expect(await count(carol)).to.equal(0);

      const payer = await listStatements(ctx, owner, '?role=payer');
      expect(payer.data.every((s) => s.payer.id === owner)).to.equal(true);
      const referrer = await listStatements(ctx, alice, '?role=referrer');
      expect(referrer.data.every((s) => s.referrer.id === alice)).to.equal(true);

      const listed = payer.data.find((s) => s.runId === run1.id && s.currency === 'JPY')!;
      expect(listed).to.have.all.keys(
        'id', 'runId', 'payer', 'referrer', 'currency', 'total', 'lineCount', 'createdDate',
        'period', 'status', 'acceptedBy', 'acceptedDate', 'heldAmount',
      );
      expect(listed).to.deep.include({
        runId: run1.id,
        payer: { id: owner, code: 'OWNER', name: 'OWNER unit' },
        referrer: { id: alice, code: 'ALICE', name: 'ALICE unit' },
        currency: 'JPY',
        total: '1234',
        lineCount: 1,
        createdDate: '2026-11-23T12:00:00.000Z',
        // SPEC §15: the month of the run's through; nothing accepted or held yet (in JPY's minor units).
        status: 'issued',
        acceptedBy: null,
        acceptedDate: null,
        heldAmount: '0',
      });
      expect(listed.period).to.match(/^2026-\d\d$/);
    });

    it('filters by runId and currency, together with role', async () => {
      const { owner, alice, run1, run2 } = await twoRuns();
      const keys = async (bunitId: number, query: string) => (await listStatements(ctx, bunitId, query)).data.map(key);
      expect(await keys(owner, '?currency=JPY')).to.deep.equal(['OWNER>ALICE:JPY']);
      expect(await keys(owner, '?currency=USD')).to.deep.equal([]);
      expect(await keys(owner, `?role=payer&currency=EUR&runId=${run1.id}`)).to.have.members(['OWNER>ALICE:EUR', 'OWNER>BOB:EUR']);
      expect(await keys(owner, `?role=referrer&runId=${run2.id}`)).to.deep.equal([]);
      expect(await keys(alice, `?runId=${run2.id}`)).to.deep.equal(['OWNER>ALICE:EUR']);
      expect(await keys(alice, `?runId=${run2.id + 100}`)).to.deep.equal([]);
    });

    it('pages and sorts the list deterministically', async () => {
      const { owner } = await twoRuns();
      const all = await listStatements(ctx, owner);
      expect(all.meta).to.deep.equal({ total: 6, limit: 50, offset: 0 });
      const ids = all.data.map((s) => s.id);
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));

      const page = await listStatements(ctx, owner, '?limit=2&offset=2');
      expect(page.meta).to.deep.equal({ total: 6, limit: 2, offset: 2 });
      expect(page.data.map((s) => s.id)).to.deep.equal(ids.slice(2, 4));
      expect((await listStatements(ctx, owner, '?sort=-id')).data.map((s) => s.id)).to.deep.equal([...ids].reverse());
      const byRun = (await listStatements(ctx, owner, '?sort=-runId')).data.map((s) => s.runId);
      expect(byRun).to.deep.equal([...byRun].sort((a, b) => b - a));
    });

    it('rejects a bad role, runId or currency, and unknown query parameters, with 400; an unknown business unit is 404', async () => {
      const { owner } = await world(ctx);
      for (const [query, path] of [
        ['?role=owner', 'query.role'],
        ['?runId=abc', 'query.runId'],
        ['?runId=0', 'query.runId'],
        ['?currency=XYZ', 'query.currency'],
        ['?limit=0', 'query.limit'],
        ['?lines=true', 'query.lines'],
      ] as const) {
        const res = await ctx.get(`${statementsOf(owner)}${query}`);
        expectProblem(res, 400, 'validation-failed');
        expect(res.body.errors.map((e: { path: string }) => e.path), query).to.deep.equal([path]);
      }
      expectProblem(await ctx.get(statementsOf(9999)), 404, 'not-found');
    });

    it('shows a single statement with its lines to the payer and to the referrer, and 404 to anyone else', async () => {
      const { owner, alice, bob, carol, c1, c2, run1 } = await twoRuns();
      const listed = (await listStatements(ctx, owner, `?role=payer&currency=EUR&runId=${run1.id}`)).data.find((s) => s.referrer.id === alice)!;

      const asPayer = await readStatement(ctx, owner, listed.id);
      const asReferrer = await readStatement(ctx, alice, listed.id);
      expect(asReferrer).to.deep.equal(asPayer);
      expect(asPayer).to.deep.include({ ...listed, total: '150.00', lineCount: 2 });
      expect(asPayer.lines).to.have.length(2);
      expect(asPayer.lines.map((l) => [l.contractId, l.revenueAmount, l.exactAmount, l.amount])).to.have.deep.members([
        [c1, '1000.00', '100', '100.00'],
        [c2, '500.00', '50', '50.00'],
      ]);
      expect(asPayer.lines[0]).to.have.all.keys(
        'id',
        'kind',
        'adjusts',
        'revenueLineId',
        'referralId',
        'contractId',
        'periodStart',
        'periodEnd',
        'periodDays',
        'billableDays',
        'revenueAmount',
        'exactAmount',
        'amount',
        'disputeId',
        'held',
      );
      expect(asPayer.lines[0]).to.deep.include({
        kind: 'share', adjusts: null, periodStart: '2026-10-15', periodEnd: '2026-10-15', periodDays: 1, billableDays: 1, disputeId: null, held: false,
      });

      expectProblem(await ctx.get(statementAt(bob, listed.id)), 404, 'not-found');
      expectProblem(await ctx.get(statementAt(carol, listed.id)), 404, 'not-found');
      expectProblem(await ctx.get(statementAt(owner, 99999)), 404, 'not-found');
    });

    it('answers a statement as CSV with Accept: text/csv: a header row and one row per line, amounts as in JSON', async () => {
      const { owner, alice, carol, run1 } = await twoRuns();
      const listed = (await listStatements(ctx, owner, `?role=payer&currency=EUR&runId=${run1.id}`)).data.find((s) => s.referrer.id === alice)!;
      const json = await readStatement(ctx, owner, listed.id);

      const csv = await ctx.get(statementAt(alice, listed.id)).set('Accept', 'text/csv');
      expect(csv.status).to.equal(200);
      expect(csv.headers['content-type']).to.match(/^text\/csv/);
      expect(csv.headers['content-disposition']).to.equal(`attachment; filename="statement-${listed.id}.csv"`);
      const columns = ['id', 'kind', 'revenueLineId', 'referralId', 'contractId', 'periodStart', 'periodEnd', 'periodDays', 'billableDays', 'revenueAmount', 'exactAmount', 'amount'] as const;
      expect(csv.text.endsWith('\r\n')).to.equal(true);
      const rows = csv.text.slice(0, -2).split('\r\n');
      expect(rows[0]).to.equal([...columns, 'adjustsStatementId', 'adjustsLineId', 'disputeId', 'held'].join(','));
      // A share adjusts nothing (two empty cells); no line was disputed (SPEC §15): no dispute, not held.
      expect(rows.slice(1)).to.deep.equal(json.lines.map((l) => `${columns.map((c) => String(l[c])).join(',')},,,,false`));

      expectProblem(await ctx.get(statementAt(9999, listed.id)).set('Accept', 'text/csv'), 404, 'not-found');
      expectProblem(await ctx.get(statementAt(carol, listed.id)).set('Accept', 'text/csv'), 404, 'not-found');
    });

    it('keeps the CSV amounts exactly as in JSON for JPY and for long exact shares', async () => {
      const { statement } = await settleOne('JPY', '10', [third('A', '10'), third('B', '10'), third('C', '10')], '2026-10-03');
      const csv = await ctx.get(statementAt(statement.payer.id, statement.id)).set('Accept', 'text/csv');
      const rows = csv.text.trim().split('\r\n').slice(1);
      expect(rows).to.have.length(3);
      const tails = rows.map((r) => r.split(',').slice(-7, -4).join(','));
      expect(tails).to.have.members(['10,0.33333333333333333333,1', '10,0.33333333333333333333,0', '10,0.33333333333333333333,0']);
    });
  });

  describe('settlement runs', () => {
    it('lists runs and reads one by id, with their fields and totals per currency', async () => {
      const { owner, alice, contract } = await world(ctx);
      const yen = await createContract(ctx, owner, { number: 'J-1', currency: 'JPY' });
      await createReferral(ctx, owner, contract, alice, { percentage: '12.5', billingStartDate: '2026-10-01' });
      await createReferral(ctx, owner, yen, alice, { percentage: '10', billingStartDate: '2026-10-01' });
      await ingest(ctx, owner, contract, [day('E', '80.00')]);
      await ingest(ctx, owner, yen, [day('J', '1000')]);
      const first = await settle(ctx, { through: '2026-10-31' });
      ctx.clock.set('2026-11-23T13:30:00.000Z');
      const second = await settle(ctx);

      expect(first).to.have.all.keys(
        'id', 'through', 'dryRun', 'status', 'createdDate', 'startedDate', 'completedDate', 'statementCount', 'lineCount', 'totals', 'progress',
      );
      expect(first).to.deep.include({
        through: '2026-10-31',
        dryRun: false,
        status: 'completed',
        createdDate: '2026-11-23T12:00:00.000Z',
        startedDate: '2026-11-23T12:00:00.000Z',
        completedDate: '2026-11-23T12:00:00.000Z',
        progress: { partitionsDone: 1, partitionsTotal: 1, partitionsFailed: 0 },
        statementCount: 2,
        lineCount: 2,
        totals: [
          { currency: 'EUR', amount: '10.00' },
          { currency: 'JPY', amount: '100' },
        ],
      });
      expect(second).to.deep.include({ through: '2026-11-22', createdDate: '2026-11-23T13:30:00.000Z', statementCount: 0, lineCount: 0, totals: [] });

      const one = await ctx.get(`/v1/settlement-runs/${first.id}`);
      expect(one.status).to.equal(200);
      expect(one.body).to.deep.equal(first);

      const list = await ctx.get('/v1/settlement-runs');
      expect(list.status).to.equal(200);
      expect(list.body.meta).to.deep.equal({ total: 2, limit: 50, offset: 0 });
      expect(list.body.data).to.deep.equal([first, second]);
      expect((await ctx.get('/v1/settlement-runs?sort=-id&limit=1')).body.data).to.deep.equal([second]);
      expect((await ctx.get('/v1/settlement-runs?sort=through&offset=1')).body.data).to.deep.equal([second]);
    });

    it('answers 404 for an unknown run and 400 for an id that is not one', async () => {
      expectProblem(await ctx.get('/v1/settlement-runs/9999'), 404, 'not-found');
      expectProblem(await ctx.get('/v1/settlement-runs/abc'), 400, 'validation-failed');
    });

    it('rejects a through of today or later with 400 (today’s percentage may still change, R8) and writes no run; yesterday is allowed', async () => {
      for (const through of ['2026-11-24', '2026-11-23']) {
        const late = await ctx.post('/v1/settlement-runs', { through });
        expectProblem(late, 400, 'validation-failed');
        expect(late.body.errors).to.deep.equal([{ path: 'body.through', message: 'must not be later than yesterday (2026-11-22)' }]);
        expectProblem(await ctx.post('/v1/settlement-runs', { through, dryRun: true }), 400, 'validation-failed');
      }
      expectProblem(await ctx.post('/v1/settlement-runs', { through: '2026-02-30' }), 400, 'validation-failed');
      expectProblem(await ctx.post('/v1/settlement-runs', { through: '2026-11-22', extra: 1 }), 400, 'validation-failed');
      expect((await ctx.get('/v1/settlement-runs')).body.meta.total).to.equal(0);

      const yesterday = await settle(ctx, { through: '2026-11-22' });
      expect(yesterday.through).to.equal('2026-11-22');
    });

    it('settles through yesterday by default: a line ending 2026-11-22 is settled, one ending 2026-11-23 is not', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      const [yesterday, today] = await ingest(ctx, owner, contract, [
        { externalId: 'Y', amount: '220.00', periodStart: '2026-11-01', periodEnd: '2026-11-22' },
        { externalId: 'T', amount: '230.00', periodStart: '2026-11-01', periodEnd: '2026-11-23' },
      ]);

      const run = await settle(ctx);
      expect(run).to.deep.include({ through: '2026-11-22', statementCount: 1, lineCount: 1 });
      const lines = (await ctx.get(revenueOf(owner, contract))).body.data as { id: number; settled: boolean }[];
      expect(lines.map((l) => [l.id, l.settled])).to.deep.equal([
        [yesterday, true],
        [today, false],
      ]);

      // An empty object is the same as no body; tomorrow the other line is due.
      expect((await settle(ctx, {})).lineCount).to.equal(0);
      ctx.clock.setToday('2026-11-24');
      expect(await settle(ctx)).to.deep.include({ through: '2026-11-23', lineCount: 1 });
    });

    it('is for admins only: without a key it answers 401', async () => {
      expect((await ctx.anonymous.get('/v1/settlement-runs')).status).to.equal(401);
      expect((await ctx.anonymous.post('/v1/settlement-runs').send({})).status).to.equal(401);
      expect((await ctx.get('/v1/settlement-runs')).body.meta.total).to.equal(0);
    });
  });
});
