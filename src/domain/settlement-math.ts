import type Decimal from 'decimal.js';
import { Dec } from './decimal';

/**
 * The money arithmetic of SPEC §6.3, exact to the last digit.
 *
 * A share is L.amount / N × Σ pct(d) / 100 over the billable days. With the amount scaled to an
 * integer A (6 decimals) and Σ pct(d) to an integer S (4 decimals), the share is the rational
 * number A·S / (10^12·N): no division happens until the final rounding, so nothing is rounded
 * in between — not even 3000/31. Integers are BigInt, so there is no overflow either.
 */
const AMOUNT_SCALE = 6;
const PERCENT_SCALE = 4;
/** 10^6 (amount) × 10^4 (percentage) × 100 (percent). */
const SHARE_SCALE = 10n ** BigInt(AMOUNT_SCALE + PERCENT_SCALE + 2);

/** Digits kept of a remainder to rank it; see remainderKey for why 40 are always enough. */
export const REMAINDER_DIGITS = 40;

export interface Share {
  /** Numerator of the share in currency units: A·S. */
  num: bigint;
  /** Days in the revenue line's period: the share is num / (10^12 · periodDays). */
  periodDays: number;
}

/** value × 10^scale as an integer; more decimals than `scale` is a programming error, never rounded. */
export function scaled(value: Decimal, scale: number): bigint {
  return scaledText(value.toFixed(), scale);
}

/**
 * A plain decimal text ("-12.5", "3000.000000") × 10^scale as an integer, by moving the point:
 * exact, and no Decimal on the way. More non-zero decimals than `scale` is a programming error.
 */
export function scaledText(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const whole = dot < 0 ? body : body.slice(0, dot);
  let fraction = dot < 0 ? '' : body.slice(dot + 1);
  if (fraction.length > scale) {
    if (/[^0]/.test(fraction.slice(scale))) throw new Error(`${text} has more than ${scale} decimals`);
    fraction = fraction.slice(0, scale);
  }
  const digits = BigInt(whole + fraction.padEnd(scale, '0'));
  return negative ? -digits : digits;
}

/** A revenue amount (at most 6 decimals) as the integer A of a share's numerator. */
export const amountScaled = (amount: string) => scaledText(amount, AMOUNT_SCALE);
/** A percentage (at most 4 decimals) as an integer, the unit of Σ pct × days in a share's numerator. */
export const percentScaled = (percentage: Decimal) => scaled(percentage, PERCENT_SCALE);

/** The exact share of one revenue line for one referral (percentDays = Σ pct over billable days). */
export function shareOf(amount: Decimal, percentDays: Decimal, periodDays: number): Share {
  return { num: scaled(amount, AMOUNT_SCALE) * scaled(percentDays, PERCENT_SCALE), periodDays };
}

/** The same from integers already scaled: A = amount × 10^6, S = Σ pct × days × 10^4. */
export const shareOfScaled = (amountA: bigint, percentDaysS: bigint, periodDays: number): Share => ({ num: amountA * percentDaysS, periodDays });

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** The share in minor units as a rational num/den (den > 0). */
function inMinor(share: Share, minorDigits: number): { num: bigint; den: bigint } {
  return { num: share.num * 10n ** BigInt(minorDigits), den: SHARE_SCALE * BigInt(share.periodDays) };
}

export interface MinorSplit {
  /** floor(exact) in minor units (toward −∞). */
  floor: bigint;
  /**
   * exact − floor, in [0, 1) minor units, as a fixed-width string of REMAINDER_DIGITS digits that
   * sorts like the number. Two remainders are rationals with denominators ≤ 10^12·366, so two
   * different ones differ by more than 10^-30: truncating to 40 digits keeps every order and
   * every tie exact.
   */
  remainderKey: string;
}

export function splitMinor(share: Share, minorDigits: number): MinorSplit {
  const { num, den } = inMinor(share, minorDigits);
  const floor = floorDiv(num, den);
  const rest = num - floor * den;
  const key = (rest * 10n ** BigInt(REMAINDER_DIGITS)) / den;
  return { floor, remainderKey: key.toString().padStart(REMAINDER_DIGITS, '0') };
}

/** The share as a decimal string for people: 20 decimals at most, half-even. */
export function exactAmountText(share: Share): string {
  const value = new Dec(share.num.toString()).div(new Dec((SHARE_SCALE * BigInt(share.periodDays)).toString()));
  const rounded = value.toDecimalPlaces(20, Dec.ROUND_HALF_EVEN);
  return rounded.isZero() ? '0' : rounded.toFixed();
}

/**
 * The running exact sum of a statement's shares. Shares are summed per period length N (all with
 * the same denominator), so adding is one BigInt addition; the denominators meet only once, in
 * total().
 */
export class ShareSum {
  private readonly byDays = new Map<number, { num: bigint; floor: bigint; count: number }>();
  floorSum = 0n;
  count = 0;

  add(share: Share, floor: bigint): void {
    this.addPart(share.periodDays, share.num, floor, 1);
  }

  /** Adds a part summed elsewhere (a partition's part of a statement): shares of `days` days. */
  addPart(days: number, num: bigint, floor: bigint, count: number): void {
    const part = this.byDays.get(days) ?? { num: 0n, floor: 0n, count: 0 };
    part.num += num;
    part.floor += floor;
    part.count += count;
    this.byDays.set(days, part);
    this.floorSum += floor;
    this.count += count;
  }

  /** The sum in parts of one period length each, as stored per partition. */
  parts(): { periodDays: number; num: bigint; floor: bigint; count: number }[] {
    return [...this.byDays].map(([periodDays, p]) => ({ periodDays, ...p }));
  }

  /** round_half_even(Σ exact) in minor units. */
  totalMinor(minorDigits: number): bigint {
    let lcm = 1n;
    for (const days of this.byDays.keys()) {
      const n = BigInt(days);
      lcm = (lcm / gcd(lcm, n)) * n;
    }
    let num = 0n;
    for (const [days, part] of this.byDays) num += part.num * (lcm / BigInt(days));
    return roundHalfEven(num * 10n ** BigInt(minorDigits), SHARE_SCALE * lcm);
  }

  /** How many lines get one more minor unit: k = total − Σ floors, always in 0..count. */
  extraUnits(minorDigits: number): bigint {
    return this.totalMinor(minorDigits) - this.floorSum;
  }
}

export function roundHalfEven(num: bigint, den: bigint): bigint {
  const q = floorDiv(num, den);
  const twice = 2n * (num - q * den);
  if (twice > den) return q + 1n;
  if (twice < den) return q;
  return q % 2n === 0n ? q : q + 1n;
}

/** Minor units → decimal string with the currency's digits ("1234.50", "-12", "0.125"). */
export function formatMinor(minor: bigint, minorDigits: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(minorDigits + 1, '0');
  const whole = minorDigits === 0 ? digits : digits.slice(0, -minorDigits);
  const fraction = minorDigits === 0 ? '' : `.${digits.slice(-minorDigits)}`;
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

export interface AllocationInput {
  share: Share;
  revenueLineId: number;
  referralId: number;
}

/**
 * The whole rounding of one statement in memory (SPEC §6.3): total = round_half_even(Σ exact);
 * every line gets floor(exact); the k lines with the largest remainders (ties: lower revenue line
 * id, then lower referral id) get one more minor unit. The settlement run does the same with the
 * lines in the database (ORDER BY remainder key); this is the reference it is tested against.
 */
export function allocate(lines: AllocationInput[], minorDigits: number): { total: bigint; amounts: bigint[] } {
  const sum = new ShareSum();
  const splits = lines.map((l) => {
    const split = splitMinor(l.share, minorDigits);
    sum.add(l.share, split.floor);
    return split;
  });
  const total = sum.totalMinor(minorDigits);
  const k = Number(total - sum.floorSum);
  const order = lines
    .map((l, i) => ({ i, key: splits[i]!.remainderKey, line: l.revenueLineId, referral: l.referralId }))
    .sort((a, b) =>
      a.key !== b.key ? (a.key < b.key ? 1 : -1) : a.line !== b.line ? a.line - b.line : a.referral - b.referral,
    );
  const amounts = splits.map((s) => s.floor);
  for (let j = 0; j < k; j++) amounts[order[j]!.i]! += 1n;
  return { total, amounts };
}

/**
 * A line's place in its statement's ranking of remainders (SPEC §6.3): the largest remainder
 * first, ties by lower revenue line id, then lower referral id.
 */
export interface RankKey {
  remainderKey: string;
  revenueLineId: number;
  referralId: number;
}

/** Whether `a` ranks before `b` or is `b`. */
export function ranksUpTo(a: RankKey, b: RankKey): boolean {
  if (a.remainderKey !== b.remainderKey) return a.remainderKey > b.remainderKey;
  if (a.revenueLineId !== b.revenueLineId) return a.revenueLineId < b.revenueLineId;
  return a.referralId <= b.referralId;
}

/** A line's amount: its floor, plus one minor unit if it ranks up to the statement's last line that gets one. */
export const roundedAmount = (floorMinor: bigint, line: RankKey, roundUpThrough: RankKey | null): bigint =>
  roundUpThrough !== null && ranksUpTo(line, roundUpThrough) ? floorMinor + 1n : floorMinor;
