import { expect } from 'chai';
import fc from 'fast-check';
import { Dec } from '../../src/domain/decimal';
import {
  REMAINDER_DIGITS,
  ShareSum,
  allocate,
  exactAmountText,
  floorDiv,
  formatMinor,
  roundHalfEven,
  shareOf,
  splitMinor,
  type AllocationInput,
  type Share,
} from '../../src/domain/settlement-math';
import {
  abs,
  canonicalRounded,
  cmp,
  exactMinor,
  exactUnits,
  floorOf,
  fracOf,
  pow10,
  roundHalfEvenOracle,
  scaledText,
  sumRats,
  type Rat,
  type ShareSpec,
} from './helpers/exact-money';

/*
 * SPEC §6.3 / §10: the money arithmetic of a settlement statement. The properties compare the
 * code under test with an independent BigInt-rational oracle (test/unit/helpers/exact-money.ts)
 * built from the same integer inputs: amounts in micro-units, percentages in 1/10000 %, days.
 * Set FC_SEED (and FC_RUNS) to replay or widen a run.
 */

const NUM_RUNS = process.env.FC_RUNS ? Number.parseInt(process.env.FC_RUNS, 10) : 1000;
const params: fc.Parameters<unknown> = {
  numRuns: NUM_RUNS,
  ...(process.env.FC_SEED ? { seed: Number.parseInt(process.env.FC_SEED, 10) } : {}),
};

const MAX_MICRO = 10n ** 12n; // ±1 000 000.000000 currency units

// ---------------------------------------------------------------------------------------------
// Bridging generated integers to the code under test (Decimal only, built from exact text).

function amountDec(spec: ShareSpec): Dec {
  return new Dec(scaledText(spec.a, 6));
}

function percentDaysDec(spec: ShareSpec): Dec {
  // Σ pct(d) over the billable days with one constant percentage: pct × billable days (exact).
  return new Dec(scaledText(spec.p, 4)).times(new Dec(spec.b.toString()));
}

function toShare(spec: ShareSpec): Share {
  return shareOf(amountDec(spec), percentDaysDec(spec), Number(spec.n));
}

// ---------------------------------------------------------------------------------------------
// Generators.

const minorDigitsArb: fc.Arbitrary<number> = fc.constantFrom(0, 2, 3);

const amountArb = fc.bigInt({ min: -MAX_MICRO, max: MAX_MICRO }).filter((a) => a !== 0n);

const specArb: fc.Arbitrary<ShareSpec> = fc.integer({ min: 1, max: 366 }).chain((n) =>
  fc.record({
    a: amountArb,
    p: fc.bigInt({ min: 1n, max: 1_000_000n }), // 0.0001 .. 100.0000 %
    n: fc.constant(BigInt(n)),
    b: fc.integer({ min: 1, max: n }).map((b) => BigInt(b)),
  }),
);

interface GenLine {
  revenueLineId: number;
  referralId: number;
  spec: ShareSpec;
}

interface GenStatement {
  minorDigits: number;
  lines: GenLine[];
}

const pairKey = (l: { revenueLineId: number; referralId: number }): string => `${l.revenueLineId}:${l.referralId}`;

/** Random statements: 1..40 lines with independent random shares and distinct id pairs. */
const randomStatementArb: fc.Arbitrary<GenStatement> = fc.record({
  minorDigits: minorDigitsArb,
  lines: fc.uniqueArray(
    fc.record({
      revenueLineId: fc.integer({ min: 1, max: 60 }),
      referralId: fc.integer({ min: 1, max: 60 }),
      spec: specArb,
    }),
    { minLength: 1, maxLength: 40, selector: pairKey },
  ),
});

/**
 * Variants of a share with the *same remainder* (in minor units `m`): itself; a twin with the same
 * exact value over a period twice as long (different N, so a different denominator); and copies
 * shifted by a whole number of minor units (a ± N·10^(12−m) micro-units moves the exact value by
 * ±p·b minor units), which may flip the sign of the amount.
 */
function sameRemainderVariants(s: ShareSpec, m: number): ShareSpec[] {
  const out: ShareSpec[] = [s];
  if (s.n * 2n <= 366n) out.push({ ...s, n: s.n * 2n, b: s.b * 2n });
  const step = s.n * pow10(12 - m);
  for (const shifted of [s.a + step, s.a - step]) {
    if (shifted !== 0n && abs(shifted) <= MAX_MICRO) out.push({ ...s, a: shifted });
  }
  return out;
}

/** Statements built from a pool of 1..3 shares and their same-remainder variants: many ties. */
const tieStatementArb: fc.Arbitrary<GenStatement> = fc
  .tuple(minorDigitsArb, fc.array(specArb, { minLength: 1, maxLength: 3 }))
  .chain(([minorDigits, pool]) => {
    const variants = pool.flatMap((s) => sameRemainderVariants(s, minorDigits));
    return fc.record({
      minorDigits: fc.constant(minorDigits),
      lines: fc.uniqueArray(
        fc.record({
          revenueLineId: fc.integer({ min: 1, max: 6 }),
          referralId: fc.integer({ min: 1, max: 6 }),
          spec: fc.constantFrom(...variants),
        }),
        { minLength: 2, maxLength: 30, selector: pairKey },
      ),
    });
  });

const anyStatementArb = fc.oneof(randomStatementArb, tieStatementArb);

/** x, y with x·a + y·b = gcd(a, b) (extended Euclid on BigInt). */
function extendedGcd(a: bigint, b: bigint): { g: bigint; x: bigint; y: bigint } {
  if (b === 0n) return { g: a, x: 1n, y: 0n };
  const r = extendedGcd(b, a % b);
  return { g: r.g, x: r.y, y: r.x - (a / b) * r.y };
}

/**
 * Two shares whose remainders differ by the least possible amount for their periods. With
 * 0.0001 % on one day, the share is a / (10^12·n) units, i.e. a / (10^(12−m)·n) minor units; for
 * coprime n1, n2 and a1·n2 − a2·n1 = ±1 the two exact values differ by 1 / (10^(12−m)·n1·n2)
 * minor units (≈ 10^-17 for JPY), so a key that keeps too few digits collides or misorders.
 */
interface SharePair {
  m: number;
  x: ShareSpec;
  y: ShareSpec;
}

const nearRemainderPairArb: fc.Arbitrary<SharePair> = fc
  .record({
    m: minorDigitsArb,
    n1: fc.oneof(fc.integer({ min: 2, max: 366 }), fc.integer({ min: 330, max: 366 })),
    n2: fc.oneof(fc.integer({ min: 2, max: 366 }), fc.integer({ min: 330, max: 366 })),
    t: fc.bigInt({ min: 1n, max: MAX_MICRO / 400n }),
    s: fc.constantFrom(1n, -1n),
    negative: fc.boolean(),
  })
  .map(({ m, n1, n2, t, s, negative }): SharePair | null => {
    const N1 = BigInt(n1);
    const N2 = BigInt(n2);
    const { g, x, y } = extendedGcd(N2, N1); // x·n2 + y·n1 = g
    if (g !== 1n) return null;
    // a1·n2 − a2·n1 = s, shifted along the solution line by t
    const a1 = s * x + t * N1;
    const a2 = -s * y + t * N2;
    if (a1 <= 0n || a2 <= 0n || a1 > MAX_MICRO || a2 > MAX_MICRO) return null;
    const sign = negative ? -1n : 1n;
    return {
      m,
      x: { a: sign * a1, p: 1n, n: N1, b: 1n },
      y: { a: sign * a2, p: 1n, n: N2, b: 1n },
    };
  })
  .filter((v): v is SharePair => v !== null);

function toInputs(st: GenStatement): AllocationInput[] {
  return st.lines.map((l) => ({ share: toShare(l.spec), revenueLineId: l.revenueLineId, referralId: l.referralId }));
}

// ---------------------------------------------------------------------------------------------
// The oracle's allocation: SPEC §6.3 read literally, on exact rationals.

interface Expected {
  exactSum: Rat;
  total: bigint;
  floors: bigint[];
  k: bigint;
  /** Indexes (into st.lines) of the lines that get one more minor unit. */
  extra: Set<number>;
  amounts: bigint[];
}

function expectedAllocation(st: GenStatement): Expected {
  const m = st.minorDigits;
  const exacts = st.lines.map((l) => exactMinor(l.spec, m));
  const exactSum = sumRats(exacts);
  const total = roundHalfEvenOracle(exactSum);
  const floors = exacts.map(floorOf);
  const fracs = exacts.map(fracOf);
  const k = total - floors.reduce((s, f) => s + f, 0n);
  const order = st.lines
    .map((_, i) => i)
    .sort((i, j) => {
      const c = cmp(fracs[j]!, fracs[i]!); // larger remainder first
      if (c !== 0) return c;
      const li = st.lines[i]!;
      const lj = st.lines[j]!;
      if (li.revenueLineId !== lj.revenueLineId) return li.revenueLineId < lj.revenueLineId ? -1 : 1;
      return li.referralId < lj.referralId ? -1 : li.referralId > lj.referralId ? 1 : 0;
    });
  const extra = new Set(order.slice(0, Number(k)));
  const amounts = floors.map((f, i) => (extra.has(i) ? f + 1n : f));
  return { exactSum, total, floors, k, extra, amounts };
}

function describeStatement(st: GenStatement): string {
  return JSON.stringify(
    {
      minorDigits: st.minorDigits,
      lines: st.lines.map((l) => ({
        revenueLineId: l.revenueLineId,
        referralId: l.referralId,
        amount: scaledText(l.spec.a, 6),
        pct: scaledText(l.spec.p, 4),
        periodDays: l.spec.n.toString(),
        billableDays: l.spec.b.toString(),
      })),
    },
    null,
    1,
  );
}

// ---------------------------------------------------------------------------------------------

describe('settlement math (domain/settlement-math, SPEC §6.3)', () => {
  describe('SPEC §10 worked example (EUR)', () => {
    const eur = 2;
    // L1 = 3000.00 over 2026-10-01..31 (31 days), L2 = −100.00 on 2026-10-15 (1 day).
    // F1: 12.5 % on 20 of L1's days and on L2's day; F2: 10 % on all days.
    const f1l1 = shareOf(new Dec('3000.00'), new Dec('12.5').times(20), 31);
    const f1l2 = shareOf(new Dec('-100.00'), new Dec('12.5'), 1);
    const f2l1 = shareOf(new Dec('3000.00'), new Dec('10').times(31), 31);
    const f2l2 = shareOf(new Dec('-100.00'), new Dec('10'), 1);

    it('computes the exact shares without intermediate rounding', () => {
      expect(exactAmountText(f1l1)).to.equal('241.93548387096774193548');
      expect(exactAmountText(f1l1).startsWith('241.935483870967741935')).to.equal(true);
      expect(exactAmountText(f1l2)).to.equal('-12.5');
      expect(exactAmountText(f2l1)).to.equal('300');
      expect(exactAmountText(f2l2)).to.equal('-10');
    });

    it('statement BU 1 → BU 2: total 229.44, lines 241.94 and −12.50 (k = 1 goes to L1)', () => {
      const s1 = splitMinor(f1l1, eur);
      const s2 = splitMinor(f1l2, eur);
      expect(s1.floor).to.equal(24193n);
      expect(s2.floor).to.equal(-1250n);
      expect(s2.remainderKey).to.equal('0'.repeat(REMAINDER_DIGITS));
      const sum = new ShareSum();
      sum.add(f1l1, s1.floor);
      sum.add(f1l2, s2.floor);
      expect(sum.totalMinor(eur)).to.equal(22944n);
      expect(sum.floorSum).to.equal(22943n);
      expect(sum.extraUnits(eur)).to.equal(1n);

      const { total, amounts } = allocate(
        [
          { share: f1l1, revenueLineId: 1, referralId: 1 },
          { share: f1l2, revenueLineId: 2, referralId: 1 },
        ],
        eur,
      );
      expect(formatMinor(total, eur)).to.equal('229.44');
      expect(amounts.map((a) => formatMinor(a, eur))).to.deep.equal(['241.94', '-12.50']);

      // the exact sum 229.435483870967741935… per the oracle
      const exactSum = sumRats([
        exactUnits({ a: 3_000_000_000n, p: 125_000n, n: 31n, b: 20n }),
        exactUnits({ a: -100_000_000n, p: 125_000n, n: 1n, b: 1n }),
      ]);
      expect(canonicalRounded(exactSum, 21).startsWith('229.435483870967741935')).to.equal(true);
    });

    it('statement BU 1 → BU 3: total 290.00, lines 300.00 and −10.00', () => {
      const { total, amounts } = allocate(
        [
          { share: f2l1, revenueLineId: 1, referralId: 2 },
          { share: f2l2, revenueLineId: 2, referralId: 2 },
        ],
        eur,
      );
      expect(formatMinor(total, eur)).to.equal('290.00');
      expect(amounts.map((a) => formatMinor(a, eur))).to.deep.equal(['300.00', '-10.00']);
    });
  });

  describe('roundHalfEven', () => {
    it('rounds ties to the even neighbour, also below zero', () => {
      expect(roundHalfEven(1n, 2n)).to.equal(0n); // 0.5
      expect(roundHalfEven(3n, 2n)).to.equal(2n); // 1.5
      expect(roundHalfEven(5n, 2n)).to.equal(2n); // 2.5
      expect(roundHalfEven(7n, 2n)).to.equal(4n); // 3.5
      expect(roundHalfEven(-1n, 2n)).to.equal(0n); // −0.5
      expect(roundHalfEven(-3n, 2n)).to.equal(-2n); // −1.5
      expect(roundHalfEven(-5n, 2n)).to.equal(-2n); // −2.5
      expect(roundHalfEven(-7n, 2n)).to.equal(-4n); // −3.5
      expect(roundHalfEven(125n, 10n)).to.equal(12n); // 12.5
      expect(roundHalfEven(135n, 10n)).to.equal(14n); // 13.5
    });

    it('rounds non-ties to the nearest integer', () => {
      expect(roundHalfEven(0n, 7n)).to.equal(0n);
      expect(roundHalfEven(14n, 10n)).to.equal(1n); // 1.4
      expect(roundHalfEven(16n, 10n)).to.equal(2n); // 1.6
      expect(roundHalfEven(-14n, 10n)).to.equal(-1n); // −1.4
      expect(roundHalfEven(-16n, 10n)).to.equal(-2n); // −1.6
      expect(roundHalfEven(251n, 100n)).to.equal(3n); // 2.51
      expect(roundHalfEven(-251n, 100n)).to.equal(-3n); // −2.51
      expect(roundHalfEven(249n, 100n)).to.equal(2n); // 2.49
      expect(roundHalfEven(1n, 3n)).to.equal(0n);
      expect(roundHalfEven(2n, 3n)).to.equal(1n);
      expect(roundHalfEven(-2n, 3n)).to.equal(-1n);
      expect(roundHalfEven(12n, 4n)).to.equal(3n); // exact
      expect(roundHalfEven(-12n, 4n)).to.equal(-3n);
    });

    it('agrees with the oracle on random rationals (property)', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 15n }), (num, den) => {
          expect(roundHalfEven(num, den)).to.equal(roundHalfEvenOracle({ num, den }));
        }),
        params,
      );
      // and on exact ties: (2q+1)/2
      fc.assert(
        fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: 1n, max: 10n ** 6n }), (q, d) => {
          const r = roundHalfEven((2n * q + 1n) * d, 2n * d);
          expect(r % 2n).to.equal(0n);
          expect(r === q || r === q + 1n).to.equal(true);
        }),
        params,
      );
    });
  });

  describe('floorDiv', () => {
    it('rounds toward −∞ for every sign combination', () => {
      expect(floorDiv(7n, 2n)).to.equal(3n);
      expect(floorDiv(-7n, 2n)).to.equal(-4n);
      expect(floorDiv(7n, -2n)).to.equal(-4n);
      expect(floorDiv(-7n, -2n)).to.equal(3n);
      expect(floorDiv(-6n, 2n)).to.equal(-3n);
      expect(floorDiv(-1n, 3n)).to.equal(-1n);
      expect(floorDiv(-1n, 1_000_000_000_000n)).to.equal(-1n);
      expect(floorDiv(0n, 5n)).to.equal(0n);
      expect(floorDiv(0n, -5n)).to.equal(0n);
    });

    it('satisfies q·d ≤ n < (q+1)·d for positive d (property)', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 15n }), (n, d) => {
          const q = floorDiv(n, d);
          expect(q * d <= n && n < (q + 1n) * d).to.equal(true);
          expect(q).to.equal(floorOf({ num: n, den: d }));
        }),
        params,
      );
    });
  });

  describe('formatMinor', () => {
    it('JPY (0 digits)', () => {
      expect(formatMinor(1234n, 0)).to.equal('1234');
      expect(formatMinor(-12n, 0)).to.equal('-12');
      expect(formatMinor(0n, 0)).to.equal('0');
      expect(formatMinor(5n, 0)).to.equal('5');
    });

    it('EUR (2 digits)', () => {
      expect(formatMinor(123450n, 2)).to.equal('1234.50');
      expect(formatMinor(-1250n, 2)).to.equal('-12.50');
      expect(formatMinor(-5n, 2)).to.equal('-0.05');
      expect(formatMinor(5n, 2)).to.equal('0.05');
      expect(formatMinor(-99n, 2)).to.equal('-0.99');
      expect(formatMinor(100n, 2)).to.equal('1.00');
      expect(formatMinor(0n, 2)).to.equal('0.00');
    });

    it('KWD (3 digits)', () => {
      expect(formatMinor(1n, 3)).to.equal('0.001');
      expect(formatMinor(-1n, 3)).to.equal('-0.001');
      expect(formatMinor(125n, 3)).to.equal('0.125');
      expect(formatMinor(1000n, 3)).to.equal('1.000');
      expect(formatMinor(-123456n, 3)).to.equal('-123.456');
      expect(formatMinor(0n, 3)).to.equal('0.000');
    });

    it('writes exactly minor / 10^digits with the currency digits (property)', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }), minorDigitsArb, (minor, digits) => {
          const text = formatMinor(minor, digits);
          expect(text).to.equal(scaledText(minor, digits));
          expect(text).to.match(digits === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${digits}}$`));
          expect(text.startsWith('-')).to.equal(minor < 0n);
          expect(new Dec(text).times(new Dec(10).pow(digits)).toFixed(0)).to.equal(minor.toString());
        }),
        params,
      );
    });
  });

  describe('shares (shareOf, splitMinor, exactAmountText)', () => {
    it('inputs reach the code as exact Decimals built from BigInt (no JS number on money)', () => {
      fc.assert(
        fc.property(specArb, (spec) => {
          expect(typeof spec.a).to.equal('bigint');
          expect(typeof spec.p).to.equal('bigint');
          expect(amountDec(spec).times(new Dec(10).pow(6)).toFixed()).to.equal(spec.a.toString());
          expect(percentDaysDec(spec).times(new Dec(10).pow(4)).toFixed()).to.equal((spec.p * spec.b).toString());
        }),
        params,
      );
      // values a double cannot hold exactly still come through to the last digit
      const spec: ShareSpec = { a: 999_999_999_999n, p: 333_333n, n: 366n, b: 365n };
      expect(exactAmountText(toShare(spec))).to.equal(canonicalRounded(exactUnits(spec), 20));
    });

    it('splitMinor: floor is ⌊exact⌋ and the key is a fixed-width truncation of the remainder (property)', () => {
      fc.assert(
        fc.property(specArb, minorDigitsArb, (spec, m) => {
          const { floor, remainderKey } = splitMinor(toShare(spec), m);
          const exact = exactMinor(spec, m);
          expect(floor).to.equal(floorOf(exact));
          expect(remainderKey).to.match(new RegExp(`^\\d{${REMAINDER_DIGITS}}$`));
          // key = ⌊frac · 10^40⌋
          const frac = fracOf(exact);
          expect(BigInt(remainderKey)).to.equal((frac.num * pow10(REMAINDER_DIGITS)) / frac.den);
        }),
        params,
      );
    });

    it('exactAmountText is the exact share rounded half-even to 20 decimals (property)', () => {
      fc.assert(
        fc.property(specArb, (spec) => {
          expect(exactAmountText(toShare(spec))).to.equal(canonicalRounded(exactUnits(spec), 20));
        }),
        params,
      );
    });

    it('remainderKey orders exactly like the true remainders, ties included (property 6)', () => {
      const pairArb = fc.tuple(minorDigitsArb, specArb).chain(([m, s]) => {
        const near: ShareSpec[] = [
          ...(s.a + 1n !== 0n && s.a + 1n <= MAX_MICRO ? [{ ...s, a: s.a + 1n }] : []),
          ...(s.p < 1_000_000n ? [{ ...s, p: s.p + 1n }] : []),
          ...(s.n < 366n ? [{ ...s, n: s.n + 1n }] : []),
          ...(s.b > 1n ? [{ ...s, b: s.b - 1n }] : []),
        ];
        const partners = [...sameRemainderVariants(s, m), ...near];
        return fc.record({
          m: fc.constant(m),
          x: fc.constant(s),
          y: fc.oneof(specArb, fc.constantFrom(...partners)),
        });
      });
      fc.assert(
        fc.property(fc.oneof(pairArb, nearRemainderPairArb), ({ m, x, y }) => {
          const kx = splitMinor(toShare(x), m).remainderKey;
          const ky = splitMinor(toShare(y), m).remainderKey;
          const keyOrder = kx < ky ? -1 : kx > ky ? 1 : 0;
          expect(keyOrder).to.equal(cmp(fracOf(exactMinor(x, m)), fracOf(exactMinor(y, m))));
        }),
        params,
      );
    });
  });

  describe('allocate (properties over random statements of 1..40 lines)', () => {
    it('1. the line amounts always sum to the total', () => {
      fc.assert(
        fc.property(anyStatementArb, (st) => {
          const { total, amounts } = allocate(toInputs(st), st.minorDigits);
          expect(amounts).to.have.length(st.lines.length);
          expect(amounts.reduce((s, a) => s + a, 0n)).to.equal(total);
        }),
        params,
      );
    });

    it('2. each line is within one minor unit of its exact share (and not below its floor)', () => {
      fc.assert(
        fc.property(anyStatementArb, (st) => {
          const { amounts } = allocate(toInputs(st), st.minorDigits);
          st.lines.forEach((l, i) => {
            const { num, den } = exactMinor(l.spec, st.minorDigits);
            const diff = amounts[i]! * den - num; // (amount − exact)·den, exactly
            expect(abs(diff) < den, `line ${i} of ${describeStatement(st)}`).to.equal(true);
            expect(amounts[i]! === floorOf({ num, den }) || amounts[i]! === floorOf({ num, den }) + 1n).to.equal(true);
          });
        }),
        params,
      );
    });

    it('3. the total is the exact sum rounded half-to-even (oracle sum, not ShareSum)', () => {
      fc.assert(
        fc.property(anyStatementArb, (st) => {
          const { total } = allocate(toInputs(st), st.minorDigits);
          const exp = expectedAllocation(st);
          expect(total, describeStatement(st)).to.equal(exp.total);
          // |total − Σ exact| ≤ 1/2 unit, exactly
          const { num, den } = exp.exactSum;
          expect(abs(2n * (total * den - num)) <= den).to.equal(true);
        }),
        params,
      );
    });

    it('3b. total is half-even on exact ties of the sum', () => {
      // statements whose exact sum is exactly x.5 minor units (100 % of a one-day line = the amount)
      const half = (a: bigint): ShareSpec => ({ a, p: 1_000_000n, n: 1n, b: 1n }); // 100 % of one day
      const cases: Array<[bigint[], number, bigint]> = [
        [[125_000n], 2, 12n], // 0.125 → 0.12
        [[135_000n], 2, 14n], // 0.135 → 0.14
        [[-125_000n], 2, -12n], // −0.125 → −0.12
        [[-135_000n], 2, -14n],
        [[62_500n, 62_500n], 2, 12n], // 0.0625 + 0.0625
        [[500_000n], 0, 0n], // JPY 0.5 → 0
        [[1_500_000n, 1_000_000n], 0, 2n], // 2.5 → 2
        [[2_500n], 3, 2n], // KWD 0.0025 → 0.002
      ];
      for (const [as, m, want] of cases) {
        const st: GenStatement = { minorDigits: m, lines: as.map((a, i) => ({ revenueLineId: i + 1, referralId: 1, spec: half(a) })) };
        const { total, amounts } = allocate(toInputs(st), m);
        expect(total).to.equal(want);
        expect(amounts.reduce((s, x) => s + x, 0n)).to.equal(want);
        expect(amounts).to.deep.equal(expectedAllocation(st).amounts);
      }
    });

    it('4. the result does not depend on the order of the lines', () => {
      fc.assert(
        fc.property(anyStatementArb, fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), (st, keys) => {
          const perm = st.lines.map((_, i) => i).sort((i, j) => keys[i]! - keys[j]! || i - j);
          const shuffled: GenStatement = { minorDigits: st.minorDigits, lines: perm.map((i) => st.lines[i]!) };
          const a = allocate(toInputs(st), st.minorDigits);
          const b = allocate(toInputs(shuffled), st.minorDigits);
          expect(b.total).to.equal(a.total);
          const byId = new Map(st.lines.map((l, i) => [pairKey(l), a.amounts[i]!]));
          shuffled.lines.forEach((l, i) => expect(b.amounts[i], pairKey(l)).to.equal(byId.get(pairKey(l))));
        }),
        params,
      );
    });

    it('5. the k extra units go to the largest remainders, ties by revenue line id then referral id', () => {
      fc.assert(
        fc.property(anyStatementArb, (st) => {
          const { amounts } = allocate(toInputs(st), st.minorDigits);
          const exp = expectedAllocation(st);
          expect(exp.k >= 0n && exp.k <= BigInt(st.lines.length)).to.equal(true);
          const extra = new Set(amounts.map((a, i) => (a === exp.floors[i]! + 1n ? i : -1)).filter((i) => i >= 0));
          expect([...extra].sort((x, y) => x - y), describeStatement(st)).to.deep.equal(
            [...exp.extra].sort((x, y) => x - y),
          );
          expect(amounts).to.deep.equal(exp.amounts);
          // ShareSum agrees on k
          const sum = new ShareSum();
          for (const l of toInputs(st)) sum.add(l.share, splitMinor(l.share, st.minorDigits).floor);
          expect(sum.extraUnits(st.minorDigits)).to.equal(exp.k);
        }),
        params,
      );
    });

    it('5b. ties are resolved by ids: identical shares, k of them get the unit, lowest ids first', () => {
      // 7 identical shares of 1/3 cent-ish: 0.01 EUR × 100 % over 3 days, 1 billable day → 0.00333… each.
      const spec: ShareSpec = { a: 10_000n, p: 1_000_000n, n: 3n, b: 1n };
      const ids: Array<[number, number]> = [
        [5, 1],
        [2, 9],
        [2, 3],
        [7, 2],
        [1, 4],
        [2, 1],
        [9, 9],
      ];
      const st: GenStatement = { minorDigits: 3, lines: ids.map(([r, f]) => ({ revenueLineId: r, referralId: f, spec })) };
      // exact 3.333… milli each, Σ = 23.333… → total 23, floors 3 each = 21 → k = 2
      const { total, amounts } = allocate(toInputs(st), 3);
      expect(total).to.equal(23n);
      const got = ids.filter((_, i) => amounts[i] === 4n);
      expect(got).to.deep.equal([
        [1, 4],
        [2, 1],
      ]);
    });
  });
});
