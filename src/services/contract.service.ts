import { isUniqueViolation, lockRow, lockRowsShared, transaction } from '../db';
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
import { findBunit } from '../repositories/bunit.repository';
import { archiveReferralsOfContract } from '../repositories/referral.repository';
import type { ContractCreate, ContractListQuery, ContractUpdate } from '../schemas/contract';
import { insertAuditEvents } from '../repositories/audit.repository';
import { auditEvent, changesBetween, type AuditActor } from './audit';
import { isArchivedAt, type ServiceContext } from './context';

const snapshot = (c: ContractRecord) => ({
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

  async create(bunitId: number, input: ContractCreate, actor: AuditActor): Promise<ContractRecord> {
    const id = await transaction(this.ctx.db, async (trx) => {
      const nowIso = this.ctx.calendar.nowIso();
      // An archived business unit takes no new contracts (its existing ones run on: README).
      await lockRowsShared(trx, 'business_units', [bunitId]);
      const owner = await findBunit(trx, bunitId);
      if (!owner) throw notFound(`Business unit ${bunitId} does not exist.`);
      if (isArchivedAt(owner.archivedAt, nowIso)) {
        throw conflict('archived', `Business unit ${bunitId} is archived and takes no new contracts.`);
      }
      let id: number;
      try {
        id = await insertContract(trx, {
          bunitId,
          number: input.number,
          name: input.name,
          customer: input.customer ?? null,
          currency: input.currency,
          startDate: input.startDate,
          endDate: input.endDate ?? null,
          createdAt: nowIso,
        });
      } catch (err) {
        throw translateDuplicateNumber(err, input.number);
      }
      const created = await this.get(bunitId, id, trx);
      await insertAuditEvents(trx, [auditEvent(actor, 'contract', id, 'create', changesBetween(null, snapshot(created)), nowIso)]);
      return id;
    });
    return this.get(bunitId, id);
  }

  async update(bunitId: number, id: number, input: ContractUpdate, actor: AuditActor, ifMatch?: string): Promise<ContractRecord> {
    await transaction(this.ctx.db, async (trx) => {
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
      const changes = changesBetween(snapshot(current), snapshot(await this.get(bunitId, id, trx)));
      await insertAuditEvents(trx, [auditEvent(actor, 'contract', id, 'update', changes, this.ctx.calendar.nowIso())]);
    });
    return this.get(bunitId, id);
  }

  /** Archives the contract and, in the same transaction, its unarchived referrals (R12). */
  async archive(bunitId: number, id: number, actor: AuditActor, ifMatch?: string): Promise<void> {
    await transaction(this.ctx.db, async (trx) => {
      await lockRow(trx, 'contracts', id);
      const current = await this.get(bunitId, id, trx);
      assertIfMatch(ifMatch, etagOf('contract', id, current.version));
      const nowIso = this.ctx.calendar.nowIso();
      if (isArchivedAt(current.archivedAt, nowIso)) return;
      await archiveContract(trx, id, nowIso);
      const referrals = await archiveReferralsOfContract(trx, id, nowIso);
      const because = { ...actor, reason: actor.reason ?? `contract ${id} archived` };
      await insertAuditEvents(trx, [
        auditEvent(actor, 'contract', id, 'archive', [{ field: 'archivedDate', from: current.archivedAt, to: nowIso }], nowIso),
        ...referrals.map((r) =>
          auditEvent(because, 'referral', r.id, 'archive', [{ field: 'archivedDate', from: r.archivedAt, to: nowIso }], nowIso),
        ),
      ]);
    });
  }
}

function translateDuplicateNumber(err: unknown, number: string): unknown {
  return isUniqueViolation(err)
    ? conflict('duplicate-contract-number', `This business unit already has a contract numbered ${number}.`)
    : err;
}
