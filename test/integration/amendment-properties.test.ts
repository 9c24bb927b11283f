import { expect } from 'chai';
import type { Knex } from 'knex';
import { BusinessCalendar } from '../../src/clock';
import { Dec } from '../../src/domain/decimal';
import { ApiError } from '../../src/domain/errors';
import { findStatement, findStatementLines } from '../../src/repositories/statement.repository';
import { presentReferral } from '../../src/representations/referral';
import { createServices, type Services } from '../../src/services';
import type { Actor } from '../../src/services/context';
import { TestClock } from '../helpers/clock';
import { resetDatabase, testDatabases } from '../helpers/databases';
import { ledgerOrphans } from '../helpers/portfolio';

/**
 * The guarantee of SPEC §12, checked against an independent exact oracle: after every run, for
 * every settled pair (revenue line L, referral F), the exact amounts of its statement lines add
 * up to exact(L, F) under the terms in force — whatever sequence of runs and approved amendments
 * came before — every statement's lines add up to its total, and the total is the exact sum of
 * its lines rounded once, half to even.
 *
 * Seeded random portfolios: EUR, JPY and KWD contracts, credit notes, partial billing windows,
 * archived referrals; random amendments (a percentage from some day, a start or an end moved
 * either way) approved between runs. The oracle computes each share day by day, as a fraction of
 * BigInts, from the referral as the API shows it (its window, archive date and percentageHistory).
 */

/** A fraction n/d of BigInts, d > 0, for the oracle. */
interface Fraction {
  n: bigint;
  d: bigint;
}
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));
const reduce = (f: Fraction): Fraction => {
  const g = gcd(f.n, f.d) || 1n;
  return { n: f.n / g, d: f.d / g };
};
const add = (a: Fraction, b: Fraction): Fraction => reduce({ n: a.n * b.d + b.n * a.d, d: a.d * b.d });
const same = (a: Fraction, b: Fraction) => a.n * b.d === b.n * a.d;
/** A decimal string as a fraction. */
function fraction(text: string): Fraction {
  const negative = text.startsWith('-');
  const [whole, part = ''] = (negative ? text.slice(1) : text).split('.');
  const n = BigInt(whole + part);
  return reduce({ n: negative ? -n : n, d: 10n ** BigInt(part.length) });
}

const DAY = 86_400_000;
const dayNumber = (iso: string) => Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10))) / DAY;
const isoOf = (n: number) => new Date(n * DAY).toISOString().slice(0, 10);

interface Shown {
  billingStartDate: string;
  billingEndDate: string | null;
  archivedDate: string | null;
  status: string;
  percentageHistory: { from: string; to: string | null; percentage: string }[];
}

/** exact(L, F) of SPEC §6.3, the slow and obvious way: day by day. */
function oracle(line: { amount: string; periodStart: string; periodEnd: string }, referral: Shown): Fraction {
  const first = dayNumber(line.periodStart);
  const last = dayNumber(line.periodEnd);
  const perDay = reduce({ n: fraction(line.amount).n, d: fraction(line.amount).d * BigInt(last - first + 1) });
  // The archive day in the business time zone (UTC here): nothing from it on.
  const archiveDay = referral.archivedDate === null ? Infinity : dayNumber(referral.archivedDate.slice(0, 10));
  let sum: Fraction = { n: 0n, d: 1n };
  for (let d = first; d <= last; d++) {
    const day = isoOf(d);
    if (day < referral.billingStartDate || (referral.billingEndDate !== null && day > referral.billingEndDate) || d >= archiveDay) continue;
    const segment = referral.percentageHistory.find((s) => s.from <= day && (s.to === null || day <= s.to)) ?? referral.percentageHistory[0]!;
    const pct = fraction(segment.percentage);
    sum = add(sum, reduce({ n: perDay.n * pct.n, d: perDay.d * pct.d * 100n }));
  }
  return sum;
}

/** mulberry32. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
  };
}

const ADMIN: Actor = { keyId: null, name: 'property-admin', role: 'admin', bunitIds: 'all' };
const MAKER: Actor = { keyId: 901, name: 'property-maker', role: 'write', bunitIds: 'all' };

for (const database of testDatabases) {
  describe(`amendments against an exact oracle (SPEC §12) [${database.name}]`, function () {
    this.timeout(120_000);
    let db: Knex;
    let drop: () => Promise<void>;
    let services: Services;
    const clock = new TestClock();

    before(async () => {
      ({ db, drop } = await database.create());
      services = createServices({ db, calendar: new BusinessCalendar(clock, 'UTC') });
    });
    after(async () => drop());

    const SCENARIOS = database.name === 'sqlite' ? 6 : 3;
    for (let seed = 1; seed <= SCENARIOS; seed++) {
      it(`portfolio ${seed}: after every run, each settled pair's lines add up to its exact share under the terms in force, and every statement rounds once`, async () => {
        await resetDatabase(db);
        const random = prng(seed * 7919);
        clock.set('2026-08-01T08:00:00.000Z');
        const owners = [await services.bunits.create({ code: 'OWN-A', name: 'A' }, ADMIN), await services.bunits.create({ code: 'OWN-B', name: 'B' }, ADMIN)];
        const referrers = [];
        for (const code of ['R-1', 'R-2', 'R-3']) referrers.push(await services.bunits.create({ code, name: code }, ADMIN));
        const contracts = [];
        for (const [i, currency] of ['EUR', 'JPY', 'KWD', 'EUR'].entries()) {
          const owner = owners[i % 2]!;
          contracts.push({
            owner: owner.id,
            record: await services.contracts.create(owner.id, { number: `C-${i}`, name: 'C', customer: null, currency, startDate: '2026-01-01', endDate: null }, ADMIN),
          });
        }
        const referrals: { id: number; owner: number }[] = [];
        for (const c of contracts) {
          for (const referrer of referrers.slice(0, random.int(1, 3))) {
            const start = isoOf(dayNumber('2026-08-01') + random.int(0, 40));
            const end = random.next() < 0.3 ? isoOf(dayNumber(start) + random.int(10, 60)) : null;
            const r = await services.referrals.create(
              c.owner,
              { contract: { id: c.record.id }, referrer: { id: referrer.id }, percentage: new Dec(random.pick(['2.5', '10', '12.5', '3.3333', '7'])), billingStartDate: start, billingEndDate: end },
              ADMIN,
            );
            referrals.push({ id: r.id, owner: c.owner });
            // Some are archived later in the period (their archive day lies before the last runs).
            if (random.next() < 0.25) await services.referrals.archive(c.owner, r.id, new Date(`${isoOf(dayNumber('2026-09-20') + random.int(0, 40))}T10:00:00.000Z`), ADMIN);
          }
        }
        let line = 0;
        for (const c of contracts) {
          const lines = Array.from({ length: random.int(8, 16) }, () => {
            const periodStart = isoOf(dayNumber('2026-08-01') + random.int(0, 100));
            const periodEnd = isoOf(Math.min(dayNumber(periodStart) + random.pick([0, 6, 30, 45]), dayNumber('2026-11-21')));
            const negative = random.next() < 0.15 ? '-' : '';
            const fractionDigits = random.int(0, 6);
            const whole = random.int(1, 99_999);
            const decimals = fractionDigits === 0 ? '' : `.${String(random.int(0, 10 ** fractionDigits - 1)).padStart(fractionDigits, '0')}`;
            return { externalId: `L-${line++}`, amount: new Dec(`${negative}${whole}${decimals}`), periodStart, periodEnd };
          });
          await services.revenue.ingest(c.owner, c.record.id, { lines }, ADMIN);
        }

        clock.set('2026-12-01T08:00:00.000Z');
        const throughs = ['2026-09-15', '2026-10-10', '2026-10-31', '2026-11-20', '2026-11-30', '2026-11-30'];
        let amended = 0;
        for (const [step, through] of throughs.entries()) {
          // Between runs: a few amendments, asked for by one key and approved by another.
          for (let k = 0; k < random.int(1, 3); k++) {
            const target = random.pick(referrals);
            const kind = random.int(0, 3);
            const day = () => isoOf(dayNumber('2026-08-01') + random.int(0, 110));
            const input =
              kind === 0
                ? { percentage: new Dec(random.pick(['1', '5', '12.5', '15.125'])), effectiveFrom: undefined as string | undefined, reason: 'percentage' }
                : kind === 1
                  ? { billingStartDate: day(), reason: 'start' }
                  : kind === 2
                    ? { billingEndDate: random.next() < 0.3 ? null : day(), reason: 'end' }
                    : { percentage: new Dec(random.pick(['4', '9.5'])), effectiveFrom: day(), reason: 'from a day' };
            try {
              const cr = await services.referrals.amend(target.owner, target.id, input, MAKER);
              await services.approval.approve(target.owner, cr.id, 'checked', ADMIN);
              amended += 1;
            } catch (err) {
              // A correction the rules refuse (R3, R4, R5, an archived day, nothing to correct) is not made.
              if (!(err instanceof ApiError) || err.status >= 500) throw err;
            }
          }
          const run = await services.settlement.run({ through }, ADMIN);
          expect(run.status, `run ${step}`).to.equal('completed');
          await verify(through);
        }
        expect(amended, 'some amendments were approved').to.be.greaterThan(0);
      });
    }

    /** The guarantees, after a run through `through`. */
    async function verify(through: string): Promise<void> {
      expect(await ledgerOrphans(db), 'the ledger points at nothing missing').to.deep.equal({});
      const shown = new Map<number, Shown>();
      const referralRows: { id: number; owner: number }[] = await db('referrals as r').join('contracts as c', 'c.id', 'r.contract_id').select('r.id', { owner: 'c.bunit_id' });
      for (const r of referralRows) {
        shown.set(r.id, presentReferral(await services.referrals.get(r.owner, r.id), '2026-12-01') as Shown);
      }
      const lines: { id: number; amount: string; period_start: string; period_end: string; contract_id: number }[] = await db('revenue_lines').select(
        'id',
        db.raw('CAST(amount AS TEXT) AS amount'),
        'period_start',
        'period_end',
        'contract_id',
      );
      const contractOf = new Map((await db('referrals').select('id', 'contract_id')).map((r: { id: number; contract_id: number }) => [r.id, r.contract_id]));
      const pairs = new Set((await db('settled_pairs').select('revenue_line_id', 'referral_id')).map((p: { revenue_line_id: number; referral_id: number }) => `${p.revenue_line_id}/${p.referral_id}`));
      const sums = new Map<string, Fraction>();
      for (const l of await db('statement_lines').select('revenue_line_id', 'referral_id', 'period_days', db.raw('CAST(exact_num AS TEXT) AS exact_num'))) {
        const key = `${l.revenue_line_id}/${l.referral_id}`;
        sums.set(key, add(sums.get(key) ?? { n: 0n, d: 1n }, reduce({ n: BigInt(l.exact_num), d: 10n ** 12n * BigInt(l.period_days) })));
      }
      for (const l of lines) {
        for (const [referralId, contractId] of contractOf) {
          if (contractId !== l.contract_id) continue;
          const key = `${l.id}/${referralId}`;
          const referral = shown.get(referralId)!;
          if (referral.status !== 'approved') continue;
          if (l.period_end > through && !pairs.has(key)) continue;
          expect(pairs.has(key), `pair ${key} ends by ${through}: settled`).to.equal(true);
          const want = oracle({ amount: l.amount, periodStart: l.period_start, periodEnd: l.period_end }, referral);
          const got = sums.get(key) ?? { n: 0n, d: 1n };
          expect(same(got, want), `pair ${key}: lines add up to ${got.n}/${got.d}, the terms in force give ${want.n}/${want.d}`).to.equal(true);
        }
      }
      // Every statement: its lines add up to its total, and the total is its exact sum rounded once.
      for (const st of await db('statements').select('id', 'currency', db.raw('CAST(total_minor AS TEXT) AS total_minor')).where({ finalized: true })) {
        const statement = (await findStatement(db, st.id))!;
        const stLines = await findStatementLines(db, statement);
        const digits = st.currency === 'JPY' ? 0 : st.currency === 'KWD' ? 3 : 2;
        expect(stLines.reduce((n, x) => n + x.amountMinor, 0n), `statement ${st.id}: lines add up to the total`).to.equal(BigInt(st.total_minor));
        const exact = stLines.reduce<Fraction>((f, x) => add(f, reduce({ n: x.exactNum * 10n ** BigInt(digits), d: 10n ** 12n * BigInt(x.periodDays) })), { n: 0n, d: 1n });
        const floor = exact.n >= 0n ? exact.n / exact.d : -((-exact.n + exact.d - 1n) / exact.d);
        const twice = 2n * (exact.n - floor * exact.d);
        const rounded = twice > exact.d ? floor + 1n : twice < exact.d ? floor : floor % 2n === 0n ? floor : floor + 1n;
        expect(BigInt(st.total_minor), `statement ${st.id}: the exact sum rounded half to even`).to.equal(rounded);
      }
    }
  });
}
