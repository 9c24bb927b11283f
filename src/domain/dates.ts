import { TZDate } from '@date-fns/tz';

/**
 * Calendar dates are `yyyy-MM-dd` strings end to end. Arithmetic goes through whole "epoch days"
 * (days since 1970-01-01, computed in UTC), so no local-time Date is ever involved.
 */
export type IsoDate = string;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

export function isValidIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  const probe = utcMidnight(y, mo, d);
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d;
}

/** setUTCFullYear, unlike Date.UTC, keeps years 0-99 as they are instead of moving them to 19xx. */
function utcMidnight(year: number, month: number, day: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date;
}

/** Days seen lately, by text: a settlement run asks about the same few hundred days millions of times. */
const epochDays = new Map<string, number>();

export function toEpochDay(date: IsoDate): number {
  const known = epochDays.get(date);
  if (known !== undefined) return known;
  const m = ISO_DATE.exec(date);
  if (!m) throw new Error(`not a yyyy-MM-dd date: ${date}`);
  const day = utcMidnight(Number(m[1]), Number(m[2]), Number(m[3])).getTime() / MS_PER_DAY;
  if (epochDays.size >= 20_000) epochDays.clear();
  epochDays.set(date, day);
  return day;
}

export function fromEpochDay(day: number): IsoDate {
  const date = new Date(day * MS_PER_DAY);
  const y = date.getUTCFullYear();
  if (y < 1 || y > 9999) throw new Error(`date out of range: epoch day ${day}`);
  return `${String(y).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`;
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return fromEpochDay(toEpochDay(date) + days);
}

/** The last calendar date there is (four-digit years); clients use it as "for ever". */
export const LAST_DATE: IsoDate = '9999-12-31';
/** The last instant ISO 8601 timestamps with four-digit years can write. */
export const LAST_INSTANT = '9999-12-31T23:59:59.999Z';

/** The next day, or null after LAST_DATE (no day follows it). */
export function dayAfter(date: IsoDate): IsoDate | null {
  return date === LAST_DATE ? null : addDays(date, 1);
}

/** Number of days in from..to, both inclusive (0 when to < from). */
export function daysInclusive(from: IsoDate, to: IsoDate): number {
  return Math.max(0, toEpochDay(to) - toEpochDay(from) + 1);
}

export const minDate = (a: IsoDate, b: IsoDate): IsoDate => (a <= b ? a : b);
export const maxDate = (a: IsoDate, b: IsoDate): IsoDate => (a >= b ? a : b);

/** Per zone: its formatter (costly to build) and the day of the last second asked about. */
const zones = new Map<string, { format: Intl.DateTimeFormat; second: number; day: IsoDate }>();

/**
 * The calendar date of an instant in a time zone (e.g. "today" in BUSINESS_TIMEZONE). Offsets
 * change only on whole seconds, so every instant of one second has the same date: the answer
 * for the last second is kept, as "today" is asked on every request.
 */
export function calendarDateIn(instant: Date, timeZone: string): IsoDate {
  const second = Math.floor(instant.getTime() / 1000);
  let zone = zones.get(timeZone);
  if (zone?.second === second) return zone.day;
  if (!zone) {
    const format = new Intl.DateTimeFormat('en-US', { timeZone, calendar: 'gregory', numberingSystem: 'latn', year: 'numeric', month: '2-digit', day: '2-digit' });
    zones.set(timeZone, (zone = { format, second: NaN, day: '' }));
  }
  let year = '';
  let month = '';
  let day = '';
  for (const part of zone.format.formatToParts(instant)) {
    if (part.type === 'year') year = part.value;
    else if (part.type === 'month') month = part.value;
    else if (part.type === 'day') day = part.value;
  }
  zone.second = second;
  zone.day = `${year.padStart(4, '0')}-${month}-${day}`;
  return zone.day;
}

/** The instant a calendar day starts in a time zone. */
export function startOfDayIn(date: IsoDate, timeZone: string): Date {
  const m = ISO_DATE.exec(date);
  if (!m) throw new Error(`not a yyyy-MM-dd date: ${date}`);
  return new Date(new TZDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]), timeZone).getTime());
}
