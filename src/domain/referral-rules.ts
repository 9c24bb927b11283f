import type Decimal from 'decimal.js';
import { addDays, type IsoDate } from './dates';
import { formatDecimal } from './decimal';
import { conflict, validationFailed } from './errors';
import {
  billableSegments,
  changePercentage,
  effectiveWindow,
  findOverAllocation,
  initialHistory,
  rangesOverlap,
  type PercentageSegment,
  type ReferralTimeline,
} from './referral-timeline';

/**
 * The referral rules of SPEC §5 as pure functions: each turns a referral as stored and a request
 * into the terms the referral will have (a planned change), or throws the rule's error. The
 * service gathers what they need under the contract lock (the other referrals, the last settled
 * day, the instant of the change) and one writer stores the plan; the PUT and the approval of a
 * change request (§11) run the very same rules.
 */

/** What a referral commits to: its window, its percentages over time, its archive instant. */
export interface ReferralTerms {
  billingStartDate: IsoDate;
  billingEndDate: IsoDate | null;
  archivedAt: string | null;
  /**
   * The calendar day of archivedAt in the business time zone, fixed when the referral is
   * archived: from it on nothing is billable (R10). Null when not archived (or, for a referral
   * archived before days were stored, until the service fills it in at start).
   */
  archiveDay: IsoDate | null;
  history: PercentageSegment[];
}

/** A referral as the rules see it among its contract's others. */
export interface ReferralPosition extends ReferralTerms {
  /** null: a referral not created yet. */
  id: number | null;
  referrerId: number;
}

/** The instant a change takes effect, the business day it falls on, and the day of any other instant. */
export interface Moment {
  nowIso: string;
  today: IsoDate;
  dayOf(instant: string): IsoDate;
}

export const isArchivedAt = (archivedAt: string | null, nowIso: string) => archivedAt !== null && archivedAt <= nowIso;

/** R3: a new referral's terms; the start defaults to today, the end (null = open) not before the start. */
export function plannedCreation(input: { percentage: Decimal; billingStartDate?: IsoDate | undefined; billingEndDate?: IsoDate | null | undefined }, at: Moment): ReferralTerms {
  const billingStartDate = input.billingStartDate ?? at.today;
  const billingEndDate = input.billingEndDate ?? null;
  assertEndNotBeforeStart(billingStartDate, billingEndDate);
  return { billingStartDate, billingEndDate, archivedAt: null, archiveDay: null, history: initialHistory(billingStartDate, input.percentage) };
}

export interface ReferralReplacement {
  contractId: number;
  referrerId: number;
  percentage: Decimal;
  /** absent: unchanged (R6) */
  billingStartDate?: IsoDate | undefined;
  /** absent or null: open-ended (R6) */
  billingEndDate?: IsoDate | null | undefined;
}

/**
 * R6–R10 for a PUT (the content replaced): the terms after it, at the moment `at`. `current` is
 * the referral as stored; `settledThrough` the last day already settled for it (R9).
 */
export function plannedReplacement(
  current: ReferralTerms & { id: number; contractId: number; referrerId: number },
  input: ReferralReplacement,
  at: Moment,
  settledThrough: IsoDate | null,
): ReferralTerms {
  const { id } = current;
  if (isArchivedAt(current.archivedAt, at.nowIso)) {
    throw conflict('archived', `Referral ${id} was archived on ${current.archivedAt} and is read-only.`);
  }
  // R6.
  if (input.contractId !== current.contractId || input.referrerId !== current.referrerId) {
    throw conflict(
      'immutable-relation',
      `Referral ${id} is for contract ${current.contractId} and referrer ${current.referrerId}; relations cannot change.`,
    );
  }
  // R7.
  const billingStartDate = input.billingStartDate ?? current.billingStartDate;
  if (billingStartDate !== current.billingStartDate && !(current.billingStartDate > at.today && billingStartDate > at.today)) {
    throw conflict(
      'start-date-locked',
      `billingStartDate can change only while both the stored (${current.billingStartDate}) and the new value (${billingStartDate}) are after today (${at.today}).`,
    );
  }
  const billingEndDate = input.billingEndDate ?? null;
  assertEndNotBeforeStart(billingStartDate, billingEndDate);
  // R9.
  if (billingEndDate !== null && settledThrough !== null && billingEndDate < settledThrough) {
    throw conflict('settled-period-locked', `Referral ${id} is settled through ${settledThrough}; billingEndDate cannot move before that day.`);
  }
  // R8.
  const history =
    billingStartDate !== current.billingStartDate
      ? initialHistory(billingStartDate, input.percentage)
      : changePercentage(current.history, billingStartDate, input.percentage, at.today);
  return { billingStartDate, billingEndDate, archivedAt: current.archivedAt, archiveDay: current.archiveDay, history };
}

/**
 * R10: archive at `when` (now, or a future instant; again before it reschedules). null: the
 * referral is archived already and nothing changes.
 */
export function plannedArchive(current: ReferralTerms, when: string, at: Moment): ReferralTerms | null {
  if (isArchivedAt(current.archivedAt, at.nowIso)) return null;
  if (when < at.nowIso) throw validationFailed([{ path: 'query.at', message: 'must not lie in the past' }]);
  return { ...current, archivedAt: when, archiveDay: at.dayOf(when) };
}

/** Whether two sets of terms are the same (a change to them would change nothing). */
export function sameTerms(a: ReferralTerms, b: ReferralTerms): boolean {
  return (
    a.billingStartDate === b.billingStartDate &&
    a.billingEndDate === b.billingEndDate &&
    a.archivedAt === b.archivedAt &&
    a.history.length === b.history.length &&
    a.history.every((s, i) => {
      const t = b.history[i]!;
      return s.from === t.from && s.to === t.to && s.percentage.equals(t.percentage);
    })
  );
}

/**
 * R4 and R5 against the other referrals of the contract, with the candidate in place. Archived
 * referrals count with the days they were billable (up to the day before their archive day):
 * a referrer must not earn twice on one day through an archived and a new referral.
 */
export function assertFits(
  contractId: number,
  candidate: ReferralPosition,
  referrals: readonly ReferralPosition[],
  archiveDayOf: (archivedAt: string) => IsoDate,
): void {
  const others = referrals.filter((r) => candidate.id === null || r.id !== candidate.id);
  const timeline = (r: ReferralPosition): ReferralTimeline => ({
    billingStartDate: r.billingStartDate,
    billingEndDate: r.billingEndDate,
    archiveDay: r.archivedAt === null ? null : (r.archiveDay ?? archiveDayOf(r.archivedAt)),
    history: r.history,
  });
  const window = effectiveWindow(timeline(candidate));
  const clash = others.find((o) => {
    if (o.referrerId !== candidate.referrerId || !window) return false;
    const other = effectiveWindow(timeline(o));
    return other !== null && rangesOverlap(window, other);
  });
  if (clash) {
    throw conflict(
      'overlapping-referral',
      `Referral ${clash.id} already refers contract ${contractId} for business unit ${candidate.referrerId} in an overlapping billing window (${clash.billingStartDate} to ${clash.billingEndDate ?? 'open end'}).`,
    );
  }
  const over = findOverAllocation([candidate, ...others].map((r) => billableSegments(timeline(r))));
  if (over) {
    throw conflict('over-allocated', `On ${over.day} the referrals of contract ${contractId} would sum to ${formatDecimal(over.sum)} %, more than 100 %.`);
  }
}

export function assertEndNotBeforeStart(start: IsoDate, end: IsoDate | null): void {
  if (end !== null && end < start) {
    throw validationFailed([{ path: 'body.billingEndDate', message: `must not be before billingStartDate (${start})` }]);
  }
}

/** What an amendment asks for (SPEC §12): at least one term; absent terms stay. */
export interface AmendmentInput {
  /** From this day on (default: the billing start) the percentage applies, replacing the history there. */
  effectiveFrom?: IsoDate | undefined;
  percentage?: Decimal | undefined;
  /** The window, moved either way, into the past too. */
  billingStartDate?: IsoDate | undefined;
  /** null: open-ended; absent: unchanged. */
  billingEndDate?: IsoDate | null | undefined;
}

/**
 * §12: the terms an amendment gives, days already settled included (R7 and R9 do not apply: an
 * amendment is the one way to change settled days, and the next run settles the difference).
 * R3 holds; an archived referral can be amended for the days before its archive day only. The
 * caller checks R4 and R5 on the corrected terms.
 */
export function plannedAmendment(current: ReferralTerms & { id: number }, input: AmendmentInput): ReferralTerms {
  const billingStartDate = input.billingStartDate ?? current.billingStartDate;
  const billingEndDate = input.billingEndDate !== undefined ? input.billingEndDate : current.billingEndDate;
  assertEndNotBeforeStart(billingStartDate, billingEndDate);
  const archiveDay = current.archivedAt === null ? null : current.archiveDay;
  const from = input.effectiveFrom ?? billingStartDate;
  if (input.percentage !== undefined && from < billingStartDate) {
    throw validationFailed([{ path: 'body.effectiveFrom', message: `must not be before billingStartDate (${billingStartDate})` }]);
  }
  if (archiveDay !== null) {
    const late = billingStartDate >= archiveDay ? 'billingStartDate' : input.percentage !== undefined && from >= archiveDay ? 'effectiveFrom' : null;
    if (late) {
      throw conflict('archived', `Referral ${current.id} is archived from ${archiveDay} on: an amendment can correct only the days before it (${late} is not).`);
    }
  }
  let history = startingAt(current.history, billingStartDate);
  if (input.percentage !== undefined) {
    const kept = history.filter((s) => s.from < from).map((s) => ({ ...s, to: s.to === null || s.to >= from ? addDays(from, -1) : s.to }));
    history = merged([...kept, { from, to: null, percentage: input.percentage }]);
  }
  return { billingStartDate, billingEndDate, archivedAt: current.archivedAt, archiveDay: current.archiveDay, history };
}

/** A history moved to a new start: segments before it dropped, the first one reaching back (or forward) to it. */
function startingAt(history: PercentageSegment[], start: IsoDate): PercentageSegment[] {
  const out = history.filter((s) => s.to === null || s.to >= start).map((s) => ({ ...s }));
  out[0] = { ...out[0]!, from: start };
  return out;
}

/** Adjacent segments with one percentage as one. */
function merged(history: PercentageSegment[]): PercentageSegment[] {
  const out: PercentageSegment[] = [];
  for (const s of history) {
    const last = out[out.length - 1];
    if (last && last.percentage.equals(s.percentage)) last.to = s.to;
    else out.push({ ...s });
  }
  return out;
}
