/**
 * An independent, deliberately naive oracle for the money arithmetic of SPEC §6.3, used by
 * test/unit/settlement-math.test.ts. Everything is BigInt rationals built from the test's own
 * integer inputs (micro-units, 1/10000 percent, whole days); no JS `number` ever carries money and
 * nothing here calls into src/domain/settlement-math.ts.
 */

/** A rational num/den with den > 0 (not necessarily reduced). */
export interface Rat {
  num: bigint;
  den: bigint;
}

/** One generated share: amount = a / 10^6, percentage = p / 10^4, billable days b of a period of n days. */
export interface ShareSpec {
  /** Amount in micro-units (10^-6), non-zero. */
  a: bigint;
  /** Percentage in 1/10000 %, 1..10^6 (0.0001 % .. 100 %). */
  p: bigint;
  /** Days in the revenue line's period, 1..366. */
  n: bigint;
  /** Billable days, 1..n. */
  b: bigint;
}

export const pow10 = (k: number): bigint => 10n ** BigInt(k);

export function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

function gcd(x: bigint, y: bigint): bigint {
  x = abs(x);
  y = abs(y);
  while (y !== 0n) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

export function reduce(r: Rat): Rat {
  const g = gcd(r.num, r.den);
  return g === 0n ? { num: 0n, den: 1n } : { num: r.num / g, den: r.den / g };
}

export function add(x: Rat, y: Rat): Rat {
  return reduce({ num: x.num * y.den + y.num * x.den, den: x.den * y.den });
}

/** Sign of x − y: −1, 0 or 1. */
export function cmp(x: Rat, y: Rat): number {
  const l = x.num * y.den;
  const r = y.num * x.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/**
 * exact(L, F) in currency units, straight from the SPEC formula:
 * amount / N × Σ_d pct(d) / 100 with a constant percentage = (a/10^6) / n × b × (p/10^4) / 100.
 */
export function exactUnits(s: ShareSpec): Rat {
  return reduce({ num: s.a * s.b * s.p, den: pow10(6) * s.n * pow10(4) * 100n });
}

/** The same value in minor units (× 10^minorDigits). */
export function exactMinor(s: ShareSpec, minorDigits: number): Rat {
  const u = exactUnits(s);
  return reduce({ num: u.num * pow10(minorDigits), den: u.den });
}

/** floor(num/den) toward −∞, written without relying on any helper under test. */
export function floorOf(r: Rat): bigint {
  if (r.num >= 0n) return r.num / r.den;
  // -((-num + den - 1) / den) is the ceiling of -num/den, negated.
  return -((-r.num + r.den - 1n) / r.den);
}

/** r − floor(r), a rational in [0, 1). */
export function fracOf(r: Rat): Rat {
  return reduce({ num: r.num - floorOf(r) * r.den, den: r.den });
}

/** Round half to even, by comparing the fractional part with 1/2. */
export function roundHalfEvenOracle(r: Rat): bigint {
  const f = floorOf(r);
  const frac = fracOf(r);
  const c = cmp(frac, { num: 1n, den: 2n });
  if (c < 0) return f;
  if (c > 0) return f + 1n;
  return abs(f) % 2n === 0n ? f : f + 1n;
}

/** Exact sum of rationals by pairwise addition with reduction (no common-denominator trick). */
export function sumRats(rs: Rat[]): Rat {
  return rs.reduce<Rat>((acc, r) => add(acc, r), { num: 0n, den: 1n });
}

/** An integer scaled by 10^-scale as plain decimal text: (-123n, 6) -> "-0.000123". */
export function scaledText(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = abs(value).toString();
  if (scale === 0) return `${negative ? '-' : ''}${digits}`;
  const padded = digits.length <= scale ? '0'.repeat(scale - digits.length + 1) + digits : digits;
  const whole = padded.slice(0, padded.length - scale);
  const fraction = padded.slice(padded.length - scale);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** A rational rounded half-even to `places` decimals, written canonically (no trailing zeros, "0" for zero). */
export function canonicalRounded(r: Rat, places: number): string {
  const q = roundHalfEvenOracle({ num: r.num * pow10(places), den: r.den });
  if (q === 0n) return '0';
  let text = scaledText(q, places);
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return text;
}
