import { isUniqueViolation, lockRow, lockRowsShared } from '../db';
import { conflict, notFound } from '../domain/errors';
import { assertIfMatch, etagOf } from '../domain/etag';
import { isArchivedAt } from '../domain/referral-rules';
import {
  archiveContract,
  findContract,
  insertContract,
  listContracts,
  updateContract,
  type ContractContent,
  type ContractRecord,
} from '../repositories/contract.repository';
import { findBunit } from '../repositories/bunit.repository';
import { archiveReferralsOfContract, findReferralsOfContract } from '../repositories/referral.repository';
import type { ContractCreate, ContractListQuery, ContractUpdate } from '../schemas/contract';
import type { ServiceContext } from './context';
import { contractEvent, referralEvent } from './event.service';
import { changesBetween, withUnitOfWork, type Acting, type UnitOfWork } from './unit-of-work';

const snapshot = (c: ContractContent & Pick<ContractRecord, 'currency' | 'archivedAt'>) => ({
  number: c.number,
  name: c.name,
  customer: c.customer,
  currency: c.currency,
  startDate: c.startDate,
  endDate: c.endDate,
  archivedDate: c.archivedAt,
});

export class ContractService {
  constructor(private readonly ctx: ServiceContext) {}

  /** A contract of the path business unit; one of another unit is "not found" here. */
  async get(bunitId: number, id: number, db = this.ctx.db): Promise<ContractRecord> {
    const contract = await findContract(db, id);
    if (!contract || contract.bunitId !== bunitId) {
      throw notFound(`Contract ${id} does not exist under business unit ${bunitId}.`);
    }
    return contract;
  }

  list(bunitId: number, query: ContractListQuery) {
    return listContracts(this.ctx.db, { bunitId, archived: query.archived, nowIso: this.ctx.calendar.nowIso() }, query.sort, query);
  }

  async create(bunitId: number, input: ContractCreate, by: Acting): Promise<ContractRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      // An archived business unit takes no new contracts (its existing ones run on: README).
      await lockRowsShared(uow.trx, 'business_units', [bunitId]);
      const owner = await findBunit(uow.trx, bunitId);
      if (!owner) throw notFound(`Business unit ${bunitId} does not exist.`);
      if (isArchivedAt(owner.archivedAt, uow.nowIso)) {
        throw conflict('archived', `Business unit ${bunitId} is archived and takes no new contracts.`);
      }
      let id: number;
      try {
        id = await insertContract(uow.trx, { bunitId, ...content(input), currency: input.currency, createdAt: uow.nowIso });
      } catch (err) {
        throw translateDuplicateNumber(err, input.number);
      }
      const created = await this.get(bunitId, id, uow.trx);
      uow.record({ entity: 'contract', id, action: 'create', changes: changesBetween(null, snapshot(created)), events: [contractEvent('contract.created', created)] });
      return created;
    });
  }

  /** Replaces the content; a PUT that changes nothing answers the contract as it is. */
  async update(bunitId: number, id: number, input: ContractUpdate, by: Acting, ifMatch?: string): Promise<ContractRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lockForChange(uow, bunitId, id, ifMatch);
      if (isArchivedAt(current.archivedAt, uow.nowIso)) {
        throw conflict('archived', `Contract ${id} is archived and read-only.`);
      }
      if (input.currency !== current.currency) {
        throw conflict('immutable-relation', `The currency of contract ${id} is ${current.currency} and cannot change.`);
      }
      if (input.bunitId !== undefined && input.bunitId !== current.bunitId) {
        throw conflict('immutable-relation', `Contract ${id} belongs to business unit ${current.bunitId} and cannot move.`);
      }
      const changes = changesBetween(snapshot(current), snapshot({ ...current, ...content(input) }));
      if (changes.length === 0) return current;
      try {
        await updateContract(uow.trx, id, content(input));
      } catch (err) {
        throw translateDuplicateNumber(err, input.number);
      }
      uow.record({ entity: 'contract', id, action: 'update', changes, events: [contractEvent('contract.updated', current)] });
      return this.get(bunitId, id, uow.trx);
    });
  }

  /** Archives the contract and, in the same transaction, its unarchived referrals (R12). */
  async archive(bunitId: number, id: number, by: Acting, ifMatch?: string): Promise<void> {
    await withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lockForChange(uow, bunitId, id, ifMatch);
      const { nowIso } = uow;
      if (isArchivedAt(current.archivedAt, nowIso)) return;
      await archiveContract(uow.trx, id, nowIso);
      uow.record({
        entity: 'contract',
        id,
        action: 'archive',
        changes: [{ field: 'archivedDate', from: current.archivedAt, to: nowIso }],
        events: [contractEvent('contract.archived', current)],
      });
      const reason = uow.actor.reason ?? `contract ${id} archived`;
      const referrerOf = new Map((await findReferralsOfContract(uow.trx, id)).map((r) => [r.id, r.referrerId]));
      for (const r of await archiveReferralsOfContract(uow.trx, id, nowIso, uow.today)) {
        uow.record({
          entity: 'referral',
          id: r.id,
          action: 'archive',
          reason,
          changes: [{ field: 'archivedDate', from: r.archivedAt, to: nowIso }],
          events: [referralEvent('referral.archived', { id: r.id, contractBunitId: current.bunitId, referrerId: referrerOf.get(r.id)! })],
        });
      }
    });
  }

  private async lockForChange(uow: UnitOfWork, bunitId: number, id: number, ifMatch: string | undefined): Promise<ContractRecord> {
    await lockRow(uow.trx, 'contracts', id);
    const current = await this.get(bunitId, id, uow.trx);
    assertIfMatch(ifMatch, etagOf('contract', id, current.version));
    return current;
  }
}

/** The fields of a contract a client writes (`bunitId` and `currency` are set once). */
const content = (input: ContractCreate | ContractUpdate): ContractContent => ({
  number: input.number,
  name: input.name,
  customer: input.customer ?? null,
  startDate: input.startDate,
  endDate: input.endDate ?? null,
});

function translateDuplicateNumber(err: unknown, number: string): unknown {
  return isUniqueViolation(err)
    ? conflict('duplicate-contract-number', `This business unit already has a contract numbered ${number}.`)
    : err;
}
