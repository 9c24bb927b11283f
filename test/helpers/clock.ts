import type { Clock } from '../../src/clock';

/** A clock the test moves by hand. */
export class TestClock implements Clock {
  private current: Date;
  constructor(iso = '2026-11-23T12:00:00.000Z') {
    this.current = new Date(iso);
  }
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
  /** Noon UTC of a calendar day: "today" is that day in UTC and most zones. */
  setToday(day: string): void {
    this.current = new Date(`${day}T12:00:00.000Z`);
  }
  advanceMs(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
