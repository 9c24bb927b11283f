import { expect } from 'chai';
import {
  addDays,
  calendarDateIn,
  daysInclusive,
  fromEpochDay,
  isValidIsoDate,
  startOfDayIn,
  toEpochDay,
} from '../../src/domain/dates';

describe('calendar dates (domain/dates)', () => {
  describe('isValidIsoDate', () => {
    it('accepts ordinary calendar dates, including the first and last day of a year', () => {
      for (const day of ['2026-11-23', '2026-01-01', '2026-12-31', '2026-04-30', '2026-01-31', '1900-02-28', '9999-12-31']) {
        expect(isValidIsoDate(day), day).to.equal(true);
      }
    });

    it('accepts 29 February in leap years (2024, and 2000 as a multiple of 400)', () => {
      expect(isValidIsoDate('2024-02-29')).to.equal(true);
      expect(isValidIsoDate('2000-02-29')).to.equal(true);
    });

    it('rejects 29 February in common years (2026, and 1900 as a century not divisible by 400)', () => {
      expect(isValidIsoDate('2026-02-29')).to.equal(false);
      expect(isValidIsoDate('1900-02-29')).to.equal(false);
    });

    it('rejects days that do not exist in their month instead of rolling them over', () => {
      for (const day of ['2026-02-30', '2026-04-31', '2026-06-31', '2026-01-32', '2026-01-00']) {
        expect(isValidIsoDate(day), day).to.equal(false);
      }
    });

    it('rejects month 13 and month 00', () => {
      expect(isValidIsoDate('2026-13-01')).to.equal(false);
      expect(isValidIsoDate('2026-00-10')).to.equal(false);
    });

    it('rejects year 0000', () => {
      expect(isValidIsoDate('0000-01-01')).to.equal(false);
    });

    it('accepts four-digit years below 100 (0001-01-01 to 0099-12-31) like any other year', () => {
      // Date.UTC maps years 0..99 to 1900..1999, so a check through it would reject these.
      for (const day of ['0001-01-01', '0050-06-15', '0099-12-31']) {
        expect(isValidIsoDate(day), day).to.equal(true);
      }
    });

    it('rejects single-digit months and days and short or long years', () => {
      for (const day of ['2026-1-05', '2026-01-5', '2026-1-5', '26-01-05', '02026-01-05']) {
        expect(isValidIsoDate(day), day).to.equal(false);
      }
    });

    it('rejects surrounding whitespace, a trailing newline and any time or zone part', () => {
      for (const day of [
        '2026-11-23 ',
        ' 2026-11-23',
        '2026-11-23\n',
        '2026-11-23T00:00:00Z',
        '2026-11-23T00:00',
        '2026-11-23 00:00:00',
        '2026-11-23Z',
        '2026-11-23+01:00',
      ]) {
        expect(isValidIsoDate(day), JSON.stringify(day)).to.equal(false);
      }
    });

    it('rejects other separators, other orders and non-date text', () => {
      for (const day of ['2026/11/23', '20261123', '23-11-2026', '2026-11-23-', '', 'today', '２０２６-11-23']) {
        expect(isValidIsoDate(day), JSON.stringify(day)).to.equal(false);
      }
    });
  });

  describe('toEpochDay and fromEpochDay', () => {
    it('counts whole days from 1970-01-01', () => {
      expect(toEpochDay('1970-01-01')).to.equal(0);
      expect(toEpochDay('1970-01-02')).to.equal(1);
      expect(toEpochDay('1969-12-31')).to.equal(-1);
      expect(toEpochDay('2000-03-01')).to.equal(11_017);
      expect(fromEpochDay(0)).to.equal('1970-01-01');
      expect(fromEpochDay(11_017)).to.equal('2000-03-01');
    });

    it('gives consecutive integers across DST changes (EU and US, spring and autumn) and year ends', () => {
      const days = [
        '2026-03-07', '2026-03-08', '2026-03-09', // US spring forward on the 8th
        '2026-03-28', '2026-03-29', '2026-03-30', // EU spring forward on the 29th
        '2026-10-24', '2026-10-25', '2026-10-26', // EU fall back on the 25th
        '2026-10-31', '2026-11-01', '2026-11-02', // US fall back on the 1st
        '2025-12-31', '2026-01-01', '2024-02-28', '2024-02-29', '2024-03-01',
      ];
      for (const day of days) {
        const n = toEpochDay(day);
        expect(Number.isInteger(n), `${day} → ${n}`).to.equal(true);
        expect(fromEpochDay(n)).to.equal(day);
        expect(toEpochDay(addDays(day, 1))).to.equal(n + 1);
      }
    });

    it('round-trips every day of 1999 through 2001, so leap days and year ends are never skipped or doubled', () => {
      const first = toEpochDay('1999-01-01');
      const last = toEpochDay('2001-12-31');
      expect(last - first + 1).to.equal(365 + 366 + 365);
      let previous = fromEpochDay(first - 1);
      for (let n = first; n <= last; n++) {
        const day = fromEpochDay(n);
        expect(isValidIsoDate(day), day).to.equal(true);
        expect(day > previous, `${day} after ${previous}`).to.equal(true);
        expect(toEpochDay(day)).to.equal(n);
        previous = day;
      }
    });

    it('round-trips years below 100 instead of moving them into the 1900s', () => {
      expect(fromEpochDay(toEpochDay('0050-06-15'))).to.equal('0050-06-15');
      expect(toEpochDay('0050-06-15')).to.be.lessThan(toEpochDay('1000-01-01'));
    });

    it('refuses to write a day outside years 0001 to 9999 rather than return a malformed date', () => {
      expect(fromEpochDay(toEpochDay('9999-12-31'))).to.equal('9999-12-31');
      expect(fromEpochDay(toEpochDay('0001-01-01'))).to.equal('0001-01-01');
      expect(() => addDays('9999-12-31', 1)).to.throw(/out of range/);
      expect(() => addDays('0001-01-01', -1)).to.throw(/out of range/);
    });

    it('throws on text that is not a yyyy-MM-dd date', () => {
      expect(() => toEpochDay('2026-1-1')).to.throw(/not a yyyy-MM-dd date/);
      expect(() => toEpochDay('2026-01-01T00:00:00Z')).to.throw(/not a yyyy-MM-dd date/);
    });
  });

  describe('addDays', () => {
    it('moves across month, year and leap-day boundaries in both directions', () => {
      expect(addDays('2026-11-23', 0)).to.equal('2026-11-23');
      expect(addDays('2026-01-31', 1)).to.equal('2026-02-01');
      expect(addDays('2026-12-31', 1)).to.equal('2027-01-01');
      expect(addDays('2027-01-01', -1)).to.equal('2026-12-31');
      expect(addDays('2024-02-28', 1)).to.equal('2024-02-29');
      expect(addDays('2026-02-28', 1)).to.equal('2026-03-01');
      expect(addDays('2024-03-01', -1)).to.equal('2024-02-29');
      expect(addDays('2026-03-01', 365)).to.equal('2027-03-01');
      expect(addDays('2024-01-01', 366)).to.equal('2025-01-01');
    });

    it('lands on the next calendar day across DST changes, never on the same day twice', () => {
      expect(addDays('2026-03-29', 1)).to.equal('2026-03-30');
      expect(addDays('2026-10-25', 1)).to.equal('2026-10-26');
      expect(addDays('2026-03-08', 1)).to.equal('2026-03-09');
      expect(addDays('2026-11-01', 1)).to.equal('2026-11-02');
      expect(addDays('2026-03-30', -1)).to.equal('2026-03-29');
      expect(addDays('2026-10-26', -1)).to.equal('2026-10-25');
    });
  });

  describe('daysInclusive', () => {
    it('counts both ends', () => {
      expect(daysInclusive('2026-11-01', '2026-11-01')).to.equal(1);
      expect(daysInclusive('2026-11-01', '2026-11-30')).to.equal(30);
      expect(daysInclusive('2026-01-01', '2026-12-31')).to.equal(365);
      expect(daysInclusive('2024-01-01', '2024-12-31')).to.equal(366);
      expect(daysInclusive('2024-02-01', '2024-02-29')).to.equal(29);
    });

    it('counts a month containing a DST change as whole days', () => {
      expect(daysInclusive('2026-03-01', '2026-03-31')).to.equal(31);
      expect(daysInclusive('2026-10-01', '2026-10-31')).to.equal(31);
    });

    it('is 0 when the end lies before the start', () => {
      expect(daysInclusive('2026-11-02', '2026-11-01')).to.equal(0);
      expect(daysInclusive('2027-01-01', '2026-01-01')).to.equal(0);
    });
  });

  describe('calendarDateIn', () => {
    it('puts an instant shortly before midnight UTC on three different dates in Auckland, UTC and Los Angeles', () => {
      // 23:30 UTC on 23 Nov is 12:30 on the 24th in Auckland (NZDT, +13) and 15:30 on the 23rd in LA (PST, -8).
      const instant = new Date('2026-11-23T23:30:00.000Z');
      expect(calendarDateIn(instant, 'Pacific/Auckland')).to.equal('2026-11-24');
      expect(calendarDateIn(instant, 'UTC')).to.equal('2026-11-23');
      expect(calendarDateIn(instant, 'America/Los_Angeles')).to.equal('2026-11-23');
    });

    it('puts an instant shortly after midnight UTC on the previous date in Los Angeles', () => {
      // 00:30 UTC on 24 Nov is 16:30 on the 23rd in LA and 13:30 on the 24th in Auckland.
      const instant = new Date('2026-11-24T00:30:00.000Z');
      expect(calendarDateIn(instant, 'America/Los_Angeles')).to.equal('2026-11-23');
      expect(calendarDateIn(instant, 'UTC')).to.equal('2026-11-24');
      expect(calendarDateIn(instant, 'Pacific/Auckland')).to.equal('2026-11-24');
    });

    it('can put one instant on three different dates at once, in zones 25 hours apart', () => {
      // 10:30 UTC on 23 Nov is 00:30 on the 24th in Kiritimati (+14) and 23:30 on the 22nd in Pago Pago (-11).
      const instant = new Date('2026-11-23T10:30:00.000Z');
      expect(calendarDateIn(instant, 'Pacific/Kiritimati')).to.equal('2026-11-24');
      expect(calendarDateIn(instant, 'UTC')).to.equal('2026-11-23');
      expect(calendarDateIn(instant, 'Pacific/Pago_Pago')).to.equal('2026-11-22');
    });

    it('switches date exactly at local midnight', () => {
      // Auckland is on NZDT (+13) in November: local midnight of the 24th is 11:00 UTC on the 23rd.
      expect(calendarDateIn(new Date('2026-11-23T10:59:59.999Z'), 'Pacific/Auckland')).to.equal('2026-11-23');
      expect(calendarDateIn(new Date('2026-11-23T11:00:00.000Z'), 'Pacific/Auckland')).to.equal('2026-11-24');
      expect(calendarDateIn(new Date('2026-11-23T23:59:59.999Z'), 'UTC')).to.equal('2026-11-23');
      expect(calendarDateIn(new Date('2026-11-24T00:00:00.000Z'), 'UTC')).to.equal('2026-11-24');
    });

    it('follows a zone across a year end', () => {
      expect(calendarDateIn(new Date('2026-12-31T11:00:00.000Z'), 'Pacific/Auckland')).to.equal('2027-01-01');
      expect(calendarDateIn(new Date('2027-01-01T07:59:59.999Z'), 'America/Los_Angeles')).to.equal('2026-12-31');
    });
  });

  describe('startOfDayIn', () => {
    it('starts a summer day in Oslo at 22:00 UTC the day before (CEST, +2)', () => {
      expect(startOfDayIn('2026-07-01', 'Europe/Oslo').toISOString()).to.equal('2026-06-30T22:00:00.000Z');
    });

    it('starts a winter day in Oslo at 23:00 UTC the day before (CET, +1)', () => {
      expect(startOfDayIn('2026-01-15', 'Europe/Oslo').toISOString()).to.equal('2026-01-14T23:00:00.000Z');
    });

    it('starts the days around the DST changes in Oslo at the right instants (a 23-hour and a 25-hour day)', () => {
      const springDay = startOfDayIn('2026-03-29', 'Europe/Oslo');
      const afterSpringDay = startOfDayIn('2026-03-30', 'Europe/Oslo');
      expect(springDay.toISOString()).to.equal('2026-03-28T23:00:00.000Z');
      expect(afterSpringDay.toISOString()).to.equal('2026-03-29T22:00:00.000Z');
      expect(afterSpringDay.getTime() - springDay.getTime()).to.equal(23 * 3_600_000);

      const autumnDay = startOfDayIn('2026-10-25', 'Europe/Oslo');
      const afterAutumnDay = startOfDayIn('2026-10-26', 'Europe/Oslo');
      expect(autumnDay.toISOString()).to.equal('2026-10-24T22:00:00.000Z');
      expect(afterAutumnDay.toISOString()).to.equal('2026-10-25T23:00:00.000Z');
      expect(afterAutumnDay.getTime() - autumnDay.getTime()).to.equal(25 * 3_600_000);
    });

    it('starts a UTC day at midnight UTC', () => {
      expect(startOfDayIn('2026-11-23', 'UTC').toISOString()).to.equal('2026-11-23T00:00:00.000Z');
    });

    it('is the first instant that calendarDateIn puts on that day', () => {
      for (const [day, zone] of [
        ['2026-07-01', 'Europe/Oslo'],
        ['2026-03-29', 'Europe/Oslo'],
        ['2026-11-24', 'Pacific/Auckland'],
        ['2026-03-08', 'America/Los_Angeles'],
      ] as const) {
        const start = startOfDayIn(day, zone);
        expect(calendarDateIn(start, zone), `${day} ${zone}`).to.equal(day);
        expect(calendarDateIn(new Date(start.getTime() - 1), zone), `${day} ${zone}`).to.equal(addDays(day, -1));
      }
    });

    it('throws on text that is not a yyyy-MM-dd date', () => {
      expect(() => startOfDayIn('2026-7-1', 'Europe/Oslo')).to.throw(/not a yyyy-MM-dd date/);
    });
  });

  describe('independence from the process time zone', () => {
    // Zones far from UTC on both sides and with DST: a local-time Date anywhere in this code would
    // shift a day or an hour in at least one of them.
    const processZones = ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'America/Los_Angeles', 'Europe/Oslo', 'Australia/Lord_Howe'];
    const originalTz = process.env.TZ;

    afterEach(() => {
      if (originalTz === undefined) delete process.env.TZ;
      else process.env.TZ = originalTz;
    });

    for (const zone of processZones) {
      it(`gives the same dates and instants when the process runs in ${zone}`, () => {
        process.env.TZ = zone;
        // The switch must really have taken effect, or this test would prove nothing.
        const expectedOffsetAtEpoch: Record<string, number> = {
          'Pacific/Kiritimati': 640, // -10:40 in 1970
          'Pacific/Pago_Pago': 660,
          'America/Los_Angeles': 480,
          'Europe/Oslo': -60,
          'Australia/Lord_Howe': -600,
        };
        expect(new Date(0).getTimezoneOffset()).to.equal(expectedOffsetAtEpoch[zone]);

        expect(toEpochDay('2026-03-29')).to.equal(20_541);
        expect(fromEpochDay(20_541)).to.equal('2026-03-29');
        expect(addDays('2026-10-25', 1)).to.equal('2026-10-26');
        expect(addDays('2026-12-31', 1)).to.equal('2027-01-01');
        expect(daysInclusive('2026-03-01', '2026-03-31')).to.equal(31);
        expect(isValidIsoDate('2024-02-29')).to.equal(true);
        expect(isValidIsoDate('2026-02-29')).to.equal(false);

        expect(calendarDateIn(new Date('2026-11-23T23:30:00.000Z'), 'UTC')).to.equal('2026-11-23');
        expect(calendarDateIn(new Date('2026-11-23T23:30:00.000Z'), 'Pacific/Auckland')).to.equal('2026-11-24');
        expect(calendarDateIn(new Date('2026-11-24T00:30:00.000Z'), 'America/Los_Angeles')).to.equal('2026-11-23');
        expect(calendarDateIn(new Date('2026-11-24T00:30:00.000Z'), 'UTC')).to.equal('2026-11-24');

        expect(startOfDayIn('2026-07-01', 'Europe/Oslo').toISOString()).to.equal('2026-06-30T22:00:00.000Z');
        expect(startOfDayIn('2026-01-15', 'Europe/Oslo').toISOString()).to.equal('2026-01-14T23:00:00.000Z');
        expect(startOfDayIn('2026-03-30', 'Europe/Oslo').toISOString()).to.equal('2026-03-29T22:00:00.000Z');
        expect(startOfDayIn('2026-11-23', 'UTC').toISOString()).to.equal('2026-11-23T00:00:00.000Z');
      });
    }
  });
});
