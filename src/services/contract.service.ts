import { isUniqueViolation, lockRow } from '../db';
import { conflict, notFound } from '../domain/errors';
import { assertIfMatch, etagOf } from '../domain/etag';
import {
  archiveContract,
  findContract,
  insertContract,
  listContracts,
  updateContract,
  type ContractRecord,
} from '../repositories/contract.repository';
import { archiveReferralsOfContract } from '../repositories/referral.repository';
import type { ContractCreate, ContractListQuery, ContractUpdate } from '../schemas/contract';
import { isArchivedAt, type ServiceContext } from './context';

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

  async create(bunitId: number, input: ContractCreate): Promise<ContractRecord> {
    const id = await this.ctx.db.transaction(async (trx) => {
      try {
        return await insertContract(trx, {
          bunitId,
          number: input.number,
          name: input.name,
          customer: input.customer ?? null,
          currency: input.currency,
          startDate: input.startDate,
          endDate: input.endDate ?? null,
          createdAt: this.ctx.calendar.nowIso(),
        });
      } catch (err) {
        throw translateDuplicateNumber(err, input.number);
      }
    });
    return this.get(bunitId, id);
  }

  async update(bunitId: number, id: number, input: ContractUpdate, ifMatch?: string): Promise<ContractRecord> {
    await this.ctx.db.transaction(async (trx) => {
      await lockRow(trx, 'contracts', id);
      const current = await this.get(bunitId, id, trx);
      assertIfMatch(ifMatch, etagOf('contract', id, current.version));
      if (isArchivedAt(current.archivedAt, this.ctx.calendar.nowIso())) {
        throw conflict('archived', `Contract ${id} is archived and read-only.`);
      }
      if (input.currency !== current.currency) {
        throw conflict('immutable-relation', `The currency of contract ${id} is ${current.currency} and cannot change.`);
      }
      if (input.bunitId !== undefined && input.bunitId !== current.bunitId) {
        throw conflict('immutable-relation', `Contract ${id} belongs to business unit ${current.bunitId} and cannot move.`);
      }
      try {
        await updateContract(trx, id, {
          number: input.number,
          name: input.name,
          customer: input.customer ?? null,
          startDate: input.startDate,
          endDate: input.endDate ?? null,
        });
      } catch (err) {
        throw translateDuplicateNumber(err, input.number);
      }
    });
    return this.get(bunitId, id);
  }

  /** Archives the contract and, in the same transaction, its unarchived referrals (R12). */
  async archive(bunitId: number, id: number, ifMatch?: string): Promise<void> {
    await this.ctx.db.transaction(async (trx) => {
      await lockRow(trx, 'contracts', id);
      const current = await this.get(bunitId, id, trx);
      assertIfMatch(ifMatch, etagOf('contract', id, current.version));
      const nowIso = this.ctx.calendar.nowIso();
      if (isArchivedAt(current.archivedAt, nowIso)) return;
      await archiveContract(trx, id, nowIso);
      await archiveReferralsOfContract(trx, id, nowIso);
    });
  }
}

function translateDuplicateNumber(err: unknown, number: string): unknown {
  return isUniqueViolation(err)
    ? conflict('duplicate-contract-number', `This business unit already has a contract numbered ${number}.`)
    : err;
}
