import type Decimal from 'decimal.js';
import { daysInclusive, type IsoDate } from './dates';
import { billableSegments, type ReferralTimeline } from './referral-timeline';
import { amountScaled, percentScaled, shareOfScaled, type Share } from './settlement-math';

/** What a referral earns on a revenue line: exact(L, F) of SPEC §6.3. */
export interface PairShare {
  share: Share;
  periodDays: number;
  billableDays: number;
  /** The last billable day, which R9 protects. */
  lastDay: IsoDate;
}

/** exact(L, F) = Σ over the billable days d of L's period of L.amount / N × pct(d) / 100; null when no day is billable. */
export function pairShare(line: { amount: string; periodStart: IsoDate; periodEnd: IsoDate }, referral: ReferralTimeline): PairShare | null {
  const segments = billableSegments(referral, { from: line.periodStart, to: line.periodEnd });
  if (segments.length === 0) return null;
  let percentDays = 0n;
  let billableDays = 0;
  for (const s of segments) {
    const days = daysInclusive(s.from, s.to!);
    percentDays += scaledPercentage(s.percentage) * BigInt(days);
    billableDays += days;
  }
  const periodDays = daysInclusive(line.periodStart, line.periodEnd);
  return {
    share: shareOfScaled(amountScaled(line.amount), percentDays, periodDays),
    periodDays,
    billableDays,
    lastDay: segments[segments.length - 1]!.to!,
  };
}

/** A history segment's percentage as an integer, once per segment (the same segments serve thousands of lines). */
const scaledPercentages = new WeakMap<Decimal, bigint>();
function scaledPercentage(percentage: Decimal): bigint {
  let value = scaledPercentages.get(percentage);
  if (value === undefined) scaledPercentages.set(percentage, (value = percentScaled(percentage)));
  return value;
}
