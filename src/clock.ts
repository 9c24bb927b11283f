import { LAST_INSTANT, calendarDateIn, dayAfter, startOfDayIn, type IsoDate } from './domain/dates';

/** The one source of "now" and "today", so tests can pin them. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class BusinessCalendar {
  constructor(
    readonly clock: Clock,
    readonly timeZone: string,
  ) {}

  now(): Date {
    return this.clock.now();
  }

  nowIso(): string {
    return this.clock.now().toISOString();
  }

  /** Today's calendar date in BUSINESS_TIMEZONE. */
  today(): IsoDate {
    return calendarDateIn(this.clock.now(), this.timeZone);
  }

  /** The calendar day (business time zone) an instant falls on. */
  dayOf(instant: string | Date): IsoDate {
    return calendarDateIn(typeof instant === 'string' ? new Date(instant) : instant, this.timeZone);
  }

  /** The instant (ISO) a calendar day starts in the business time zone. */
  startOf(day: IsoDate): string {
    return startOfDayIn(day, this.timeZone).toISOString();
  }

  /** The instant (ISO) the day after `day` starts; for the last date there is, the last instant. */
  startOfDayAfter(day: IsoDate): string {
    const next = dayAfter(day);
    return next === null ? LAST_INSTANT : this.startOf(next);
  }
}
