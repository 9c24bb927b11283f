import { conflict, notFound } from '../domain/errors';
import type { Accounts } from '../domain/journal';
import { accountsOf, findJournal, insertPosting, listJournals, updateAccounts, type JournalRecord } from '../repositories/journal.repository';
import { findBunit } from '../repositories/bunit.repository';
import { presentJournal } from '../representations/period';
import type { JournalListQuery } from '../schemas/period';
import type { Knex } from 'knex';
import { lockRow } from '../db';
import type { Actor, ServiceContext } from './context';
import { bunitEvent } from './event.service';
import { changesBetween, withUnitOfWork } from './unit-of-work';

/**
 * Journals as a business unit (and its ERP) reads them, their posting acknowledgement, and the
 * unit's accounts (SPEC §16).
 */
export class JournalService {
  constructor(private readonly ctx: ServiceContext) {}

  list(bunitId: number, query: JournalListQuery) {
    return listJournals(this.ctx.db, { bunitId, period: query.period, kind: query.kind, posted: query.posted }, query);
  }

  async get(bunitId: number, id: number, db: Knex = this.ctx.db): Promise<JournalRecord> {
    const journal = await findJournal(db, id);
    if (!journal || journal.bunit.id !== bunitId) throw notFound(`Journal ${id} does not exist under business unit ${bunitId}.`);
    return journal;
  }

  /**
   * Marks a journal posted in the ERP. Again with the same externalId: the journal unchanged
   * (posted: false); with another one, 409 already-posted.
   */
  async post(bunitId: number, id: number, externalId: string, actor: Actor): Promise<{ journal: JournalRecord; posted: boolean }> {
    return withUnitOfWork(this.ctx, actor, async (uow) => {
      await this.get(bunitId, id, uow.trx);
      const inserted = await insertPosting(uow.trx, { journalId: id, externalId, postedBy: actor.name, postedByKeyId: actor.keyId, postedAt: uow.nowIso });
      if (!inserted) {
        const current = await this.get(bunitId, id, uow.trx);
        if (current.externalId === externalId) return { journal: current, posted: false };
        throw conflict('already-posted', `Journal ${id} was posted already, as ${current.externalId} (${current.postedAt}).`);
      }
      uow.record({
        entity: 'journal',
        id,
        action: 'post',
        changes: [{ field: 'externalId', from: null, to: externalId }],
        events: [{ type: 'journal.posted', bunitIds: [bunitId], data: async (u) => presentJournal((await findJournal(u.trx, id))!) }],
      });
      return { journal: await this.get(bunitId, id, uow.trx), posted: true };
    });
  }

  async accounts(bunitId: number): Promise<Accounts> {
    if (!(await findBunit(this.ctx.db, bunitId))) throw notFound(`Business unit ${bunitId} does not exist.`);
    return (await accountsOf(this.ctx.db, [bunitId])).get(bunitId)!;
  }

  /** Replaces a unit's accounts; journals written afterwards book on them (those written before keep theirs). */
  async setAccounts(bunitId: number, accounts: Accounts, actor: Actor): Promise<Accounts> {
    return withUnitOfWork(this.ctx, actor, async (uow) => {
      if (!(await lockRow(uow.trx, 'business_units', bunitId))) throw notFound(`Business unit ${bunitId} does not exist.`);
      const before = (await accountsOf(uow.trx, [bunitId])).get(bunitId)!;
      const changes = changesBetween(prefixed(before), prefixed(accounts));
      if (changes.length === 0) return before;
      await updateAccounts(uow.trx, bunitId, accounts);
      // The business unit's resource shows its accounts: feed readers see the change as an update.
      uow.record({ entity: 'bunit', id: bunitId, action: 'accounts', changes, events: [bunitEvent('business_unit.updated', bunitId)] });
      return (await accountsOf(uow.trx, [bunitId])).get(bunitId)!;
    });
  }
}

const prefixed = (a: Accounts) => Object.fromEntries(Object.entries(a).map(([k, v]) => [`accounts.${k}`, v]));
