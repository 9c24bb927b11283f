import type { Knex } from 'knex';
import { lockPeriods, transaction, yieldToWaitingWriters } from '../db';
import { ApiError, conflict, notFound } from '../domain/errors';
import { closeEntries, journalTotals, sideOf } from '../domain/journal';
import { computeNettings, periodBounds } from '../domain/netting';
import { accountsOf, closeJournalKeys, closeJournalsOfPeriod, insertCloseJournals, type NewJournal } from '../repositories/journal.repository';
import { insertNettings, nettingsOfPeriod } from '../repositories/netting.repository';
import {
  closeStatementsOf,
  earlierOpenPeriods,
  findPeriod,
  heldLinesOfPeriod,
  insertClosingPeriod,
  insertHeldAtClose,
  issuedStatements,
  listPeriods,
  markPeriodClosed,
  periodState,
  releasedLinesFor,
  runningRunsIn,
  statementsOfPeriod,
  type PeriodRecord,
} from '../repositories/period.repository';
import { presentJournal, presentNetting, presentPeriod } from '../representations/period';
import type { Page } from '../repositories/paging';
import type { Actor, ServiceContext } from './context';
import { withUnitOfWork, type EventDraft } from './unit-of-work';

/** How a close reports its way (the close command prints it). */
export type CloseStep =
  | { step: 'claimed'; nettings: number }
  | { step: 'resumed' }
  | { step: 'journal'; bunitId: number; currency: string }
  | { step: 'closed' };

export interface CloseOptions {
  onStep?: ((step: CloseStep) => void) | undefined;
}

/** Close journals written a transaction (two statements: the journals, their entries). */
const JOURNALS_PER_TRANSACTION = 200;

/** The audit trail's id of a period: yyyyMM as a number. */
const periodEntityId = (period: string) => Number(period.replace('-', ''));

/**
 * Refuses a change in a period a close has claimed or closed (409 period-closed), holding the
 * periods' lock shared until the caller's transaction ends: a run's creation, an acceptance, a
 * dispute. So a close sees each such change whole or not at all (SPEC §16).
 */
export async function assertPeriodOpen(trx: Knex.Transaction, period: string, what: string): Promise<void> {
  await lockPeriods(trx, 'shared');
  const state = await periodState(trx, period);
  if (state !== null) {
    throw conflict('period-closed', `Period ${period} is closed${state === 'closing' ? ' (its close is under way)' : ''}: ${what}.`);
  }
}

/**
 * The month-end close of SPEC §16, in short transactions: the claim (the period becomes
 * `closing`, what is held is recorded, and the nettings are computed from the statements' totals
 * less their held lines, plus the lines released into the period, and written with a row per
 * netted statement and per released line), one transaction per group of journals, and the last
 * one that marks the period and its statements `closed` and publishes the events. The close never
 * reads a statement's lines one by one: a statement is netted whole, less the lines held at the
 * close, once, by the primary key of `netting_statements`; a held line is netted later on its own,
 * once, by the primary key of `netted_lines` (see the migration). Nettings and journals are seen
 * only once the period is closed, so nobody sees half a close. Every step can run twice without
 * effect (unique keys), so a close that was killed is finished by the next one, and two closes at
 * once write everything once.
 */
export class PeriodCloseService {
  constructor(private readonly ctx: ServiceContext) {}

  list(page: Page) {
    return listPeriods(this.ctx.db, page);
  }

  async get(period: string, db: Knex = this.ctx.db): Promise<PeriodRecord> {
    const found = await findPeriod(db, period);
    if (!found) throw notFound(`Period ${period} has no statements and no lines released in it.`);
    return found;
  }

  /** Closes a period (or finishes the close that was under way); a closed period is answered as it is. */
  async close(period: string, actor: Actor, options: CloseOptions = {}): Promise<PeriodRecord> {
    const state = await periodState(this.ctx.db, period);
    if (state === 'closed') return this.get(period);
    if (state === null) await this.claim(period, actor, options);
    else options.onStep?.({ step: 'resumed' });
    await this.writeJournals(period, options);
    await this.finish(period, actor);
    options.onStep?.({ step: 'closed' });
    return this.get(period);
  }

  /** What stands in the way of closing the period today, in words; none: it may close. */
  async blockers(db: Knex, period: string, today: string): Promise<string[]> {
    const { first, last } = periodBounds(period);
    const reasons: string[] = [];
    if (last >= today) reasons.push(`its last day (${last}) is not before today (${today})`);
    for (const earlier of await earlierOpenPeriods(db, period)) reasons.push(`the earlier period ${earlier} is still open`);
    for (const run of await runningRunsIn(db, first, last)) reasons.push(`settlement run ${run.id} (through ${run.through}) is running`);
    const issued = await issuedStatements(db, period, 20);
    if (issued.count > 0) {
      const more = issued.count > issued.ids.length ? ` and ${issued.count - issued.ids.length} more` : '';
      reasons.push(`${issued.count} statement${issued.count === 1 ? ' is' : 's are'} still issued (not accepted): ${issued.ids.join(', ')}${more}`);
    }
    return reasons;
  }

  /** The claim: checks, records the lines held now, computes and writes the nettings. */
  private async claim(period: string, actor: Actor, options: CloseOptions): Promise<void> {
    const count = await withUnitOfWork(this.ctx, actor, async (uow) => {
      const { trx } = uow;
      await lockPeriods(trx, 'exclusive');
      if ((await periodState(trx, period)) !== null) return null;
      await this.get(period, trx);
      const reasons = await this.blockers(trx, period, uow.today);
      if (reasons.length > 0) {
        throw new ApiError(
          409,
          'period-not-ready',
          'Period not ready',
          `Period ${period} cannot be closed yet: ${reasons.join('; ')}.`,
          reasons.map((message) => ({ path: 'period', message })),
        );
      }
      await insertClosingPeriod(trx, period, { name: actor.name, keyId: actor.keyId }, uow.nowIso);
      const held = await heldLinesOfPeriod(trx, period);
      await insertHeldAtClose(trx, period, held);
      const heldByStatement = new Map<number, bigint>();
      for (const h of held) heldByStatement.set(h.statementId, (heldByStatement.get(h.statementId) ?? 0n) + h.amountMinor);
      const statements = (await statementsOfPeriod(trx, period)).map((s) => ({ ...s, heldMinor: heldByStatement.get(s.statementId) ?? 0n }));
      const { first, last } = periodBounds(period);
      const drafts = computeNettings(statements, await releasedLinesFor(trx, first, last));
      await insertNettings(trx, period, drafts, uow.nowIso);
      return drafts.length;
    });
    if (count !== null) options.onStep?.({ step: 'claimed', nettings: count });
  }

  /** One close journal per unit and currency, dated the period's last day, written a group at a time. */
  private async writeJournals(period: string, options: CloseOptions): Promise<void> {
    const { db } = this.ctx;
    const nettings = await nettingsOfPeriod(db, period, { includeClosing: true });
    const written = await closeJournalKeys(db, period);
    const units = new Map<string, { bunitId: number; currency: string }>();
    const byUnit = new Map<string, typeof nettings>();
    for (const n of nettings) {
      for (const bunitId of [n.a.id, n.b.id]) {
        const key = `${bunitId}/${n.currency}`;
        units.set(key, { bunitId, currency: n.currency });
        byUnit.set(key, [...(byUnit.get(key) ?? []), n]);
      }
    }
    const { last } = periodBounds(period);
    const createdAt = this.ctx.calendar.nowIso();
    const due = [...units]
      .filter(([key]) => !written.has(key))
      .map(([, unit]) => unit)
      .sort((x, y) => x.bunitId - y.bunitId || (x.currency < y.currency ? -1 : 1));
    // Up to JOURNALS_PER_TRANSACTION journals a transaction: each is whole, a commit costs a flush.
    for (let i = 0; i < due.length; i += JOURNALS_PER_TRANSACTION) {
      const group = due.slice(i, i + JOURNALS_PER_TRANSACTION);
      await transaction(db, async (trx) => {
        const accounts = await accountsOf(trx, group.map((g) => g.bunitId));
        const journals = group.map(({ bunitId, currency }): NewJournal => {
          const sides = (byUnit.get(`${bunitId}/${currency}`) ?? []).map((n) => sideOf({ id: n.id, aId: n.a.id, bId: n.b.id, owesA: n.owesA, owesB: n.owesB }, bunitId));
          const entries = closeEntries(accounts.get(bunitId)!, sides);
          return { bunitId, kind: 'close', period, currency, date: last, paymentId: null, entries, totalMinor: journalTotals(entries).debit, createdAt };
        });
        await insertCloseJournals(trx, journals);
      });
      for (const { bunitId, currency } of group) options.onStep?.({ step: 'journal', bunitId, currency });
      await yieldToWaitingWriters(db.client);
    }
  }

  /** The last step: the period and its statements become closed, and the events are published. */
  private async finish(period: string, actor: Actor): Promise<void> {
    await withUnitOfWork(this.ctx, actor, async (uow) => {
      if (!(await markPeriodClosed(uow.trx, period, uow.nowIso))) return;
      const statements = await closeStatementsOf(uow.trx, period);
      const nettings = await nettingsOfPeriod(uow.trx, period);
      // Read once for all events (the final transaction holds the write lock on SQLite: keep it short).
      const journals = await closeJournalsOfPeriod(uow.trx, period);
      const events: EventDraft[] = [
        { type: 'period.closed', bunitIds: [...new Set(nettings.flatMap((n) => [n.a.id, n.b.id]))], data: async (u) => presentPeriod(await this.get(period, u.trx)) },
        ...nettings.map((n): EventDraft => ({ type: 'netting.created', bunitIds: [n.a.id, n.b.id], data: presentNetting(n) })),
        ...journals.map((j): EventDraft => ({ type: 'journal.created', bunitIds: [j.bunit.id], data: presentJournal(j) })),
      ];
      uow.record({
        entity: 'period',
        id: periodEntityId(period),
        action: 'close',
        changes: [
          { field: 'status', from: 'open', to: 'closed' },
          { field: 'statements', from: null, to: statements },
          { field: 'nettings', from: null, to: nettings.map((n) => n.id) },
          { field: 'journals', from: null, to: journals.map((j) => j.id) },
        ],
        events,
      });
    });
  }
}
