import type Decimal from 'decimal.js';
import { addDays, dayAfter, maxDate, minDate, type IsoDate } from './dates';
import { Dec } from './decimal';

/**
 * Pure rules about when a referral is billable and at which percentage (SPEC §3.3, §5, §6.2).
 */

/** One segment of percentageHistory: `to` inclusive, null for the open-ended last segment. */
export interface PercentageSegment {
  from: IsoDate;
  to: IsoDate | null;
  percentage: Decimal;
}

export interface ReferralTimeline {
  billingStartDate: IsoDate;
  billingEndDate: IsoDate | null;
  /** Calendar day (business time zone) of archivedDate: from this day on nothing is billable. */
  archiveDay: IsoDate | null;
  history: PercentageSegment[];
}

/** A closed or open run of days; `to` null means "for ever". */
export interface DayRange {
  from: IsoDate;
  to: IsoDate | null;
}

/** The days the referral can be billable at all: billing window cut by the archive day. */
export function effectiveWindow(t: Pick<ReferralTimeline, 'billingStartDate' | 'billingEndDate' | 'archiveDay'>): DayRange | null {
  let to = t.billingEndDate;
  if (t.archiveDay !== null) {
    const lastBeforeArchive = addDays(t.archiveDay, -1);
    to = to === null ? lastBeforeArchive : minDate(to, lastBeforeArchive);
  }
  if (to !== null && to < t.billingStartDate) return null;
  return { from: t.billingStartDate, to };
}

export function rangesOverlap(a: DayRange, b: DayRange): boolean {
  const aEndsBeforeB = a.to !== null && a.to < b.from;
  const bEndsBeforeA = b.to !== null && b.to < a.from;
  return !aEndsBeforeB && !bEndsBeforeA;
}

/** Maximal runs of billable days with one percentage (SPEC §6.2), optionally clipped to a range. */
export function billableSegments(t: ReferralTimeline, clip?: DayRange): PercentageSegment[] {
  let window = effectiveWindow(t);
  if (window && clip) window = intersect(window, clip);
  if (!window) return [];
  const out: PercentageSegment[] = [];
  for (const seg of t.history) {
    const part = intersect(window, seg);
    if (!part) continue;
    const last = out[out.length - 1];
    if (last && last.percentage.equals(seg.percentage) && last.to !== null && dayAfter(last.to) === part.from) {
      last.to = part.to;
    } else {
      out.push({ from: part.from, to: part.to, percentage: seg.percentage });
    }
  }
  return out;
}

function intersect(a: DayRange, b: DayRange): DayRange | null {
  const from = maxDate(a.from, b.from);
  const to = a.to === null ? b.to : b.to === null ? a.to : minDate(a.to, b.to);
  return to !== null && to < from ? null : { from, to };
}

/** The percentage on a day, or the first one if the day is before the history starts. */
export function percentageOn(history: PercentageSegment[], day: IsoDate): Decimal {
  const first = history[0];
  if (!first) throw new Error('a referral always has a percentage history');
  if (day < first.from) return first.percentage;
  for (const seg of history) {
    if (seg.from <= day && (seg.to === null || day <= seg.to)) return seg.percentage;
  }
  return history[history.length - 1]!.percentage;
}

/** A new referral's history: one open segment from its start. */
export function initialHistory(billingStartDate: IsoDate, percentage: Decimal): PercentageSegment[] {
  return [{ from: billingStartDate, to: null, percentage }];
}

/**
 * R8: before the start a percentage change simply replaces the percentage (and the history
 * follows a moved start, R7). On a started referral it takes effect today: the open segment is
 * closed yesterday and a new one opens today; a second change on the same day replaces the first.
 */
export function changePercentage(
  history: PercentageSegment[],
  billingStartDate: IsoDate,
  percentage: Decimal,
  today: IsoDate,
): PercentageSegment[] {
  if (today < billingStartDate) return initialHistory(billingStartDate, percentage);
  const current = percentageOn(history, today);
  if (current.equals(percentage)) return history.map((s) => ({ ...s }));

  const kept: PercentageSegment[] = history
    .filter((s) => s.from < today)
    .map((s) => ({ ...s, to: s.to === null || s.to >= today ? addDays(today, -1) : s.to }));
  const last = kept[kept.length - 1];
  if (last && last.percentage.equals(percentage)) {
    // Changed and changed back on the same day: the earlier segment simply goes on.
    last.to = null;
    return kept;
  }
  return [...kept, { from: today, to: null, percentage }];
}

export interface OverAllocation {
  day: IsoDate;
  sum: Decimal;
}

/**
 * R5: the first day on which the billable percentages of one contract's referrals add up to more
 * than 100, or null. A sweep over the days where some segment starts or ends after one.
 */
export function findOverAllocation(segmentsPerReferral: PercentageSegment[][], limit = new Dec(100)): OverAllocation | null {
  const deltas = new Map<IsoDate, Decimal>();
  const bump = (day: IsoDate, by: Decimal) => deltas.set(day, (deltas.get(day) ?? new Dec(0)).plus(by));
  for (const segments of segmentsPerReferral) {
    for (const s of segments) {
      bump(s.from, s.percentage);
      const end = s.to === null ? null : dayAfter(s.to);
      if (end !== null) bump(end, s.percentage.negated());
    }
  }
  let sum = new Dec(0);
  for (const day of [...deltas.keys()].sort()) {
    sum = sum.plus(deltas.get(day)!);
    if (sum.greaterThan(limit)) return { day, sum };
  }
  return null;
}
