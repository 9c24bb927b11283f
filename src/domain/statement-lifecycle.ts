import type { IsoDate } from './dates';

/**
 * Statements after the run (SPEC §15), the pure part: periods, statuses, the day a statement is
 * due for auto-acceptance.
 */

export const STATEMENT_STATUSES = ['issued', 'accepted', 'closed'] as const;
export type StatementStatus = (typeof STATEMENT_STATUSES)[number];

/** The period `yyyy-MM` of a run's `through` (its calendar month). */
export function periodOf(through: IsoDate): string {
  return through.slice(0, 7);
}
