import { isUniqueViolation, lockRow } from '../db';
import { conflict, notFound } from '../domain/errors';
import { assertIfMatch, etagOf } from '../domain/etag';
import { isArchivedAt } from '../domain/referral-rules';
import {
  archiveBunit,
  findBunit,
  insertBunit,
  listBunits,
  updateBunit,
  type BunitRecord,
} from '../repositories/bunit.repository';
import type { BusinessUnitCreate, BusinessUnitListQuery, BusinessUnitUpdate } from '../schemas/bunit';
import type { Actor, ServiceContext } from './context';
import { bunitEvent } from './event.service';
import { changesBetween, withUnitOfWork, type Acting, type UnitOfWork } from './unit-of-work';

const snapshot = (b: Pick<BunitRecord, 'code' | 'name' | 'archivedAt'>) => ({ code: b.code, name: b.name, archivedDate: b.archivedAt });

export class BunitService {
  constructor(private readonly ctx: ServiceContext) {}

  async get(id: number, db = this.ctx.db): Promise<BunitRecord> {
    const bunit = await findBunit(db, id);
    if (!bunit) throw notFound(`Business unit ${id} does not exist.`);
    return bunit;
  }

  list(actor: Actor, query: BusinessUnitListQuery) {
    return listBunits(
      this.ctx.db,
      { scope: actor.bunitIds, archived: query.archived, nowIso: this.ctx.calendar.nowIso() },
      query.sort,
      query,
    );
  }

  async create(input: BusinessUnitCreate, by: Acting): Promise<BunitRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      let id: number;
      try {
        id = await insertBunit(uow.trx, { ...input, createdAt: uow.nowIso });
      } catch (err) {
        throw translateDuplicateCode(err, input.code);
      }
      const created = await this.get(id, uow.trx);
      uow.record({ entity: 'bunit', id, action: 'create', changes: changesBetween(null, snapshot(created)), events: [bunitEvent('business_unit.created', id)] });
      return created;
    });
  }

  /** Replaces code and name; a PUT that changes nothing answers the unit as it is. */
  async update(id: number, input: BusinessUnitUpdate, by: Acting, ifMatch?: string): Promise<BunitRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lockForChange(uow, id, ifMatch);
      if (isArchivedAt(current.archivedAt, uow.nowIso)) {
        throw conflict('archived', `Business unit ${id} is archived and read-only.`);
      }
      const changes = changesBetween(snapshot(current), snapshot({ ...current, code: input.code, name: input.name }));
      if (changes.length === 0) return current;
      try {
        await updateBunit(uow.trx, id, { code: input.code, name: input.name });
      } catch (err) {
        throw translateDuplicateCode(err, input.code);
      }
      uow.record({ entity: 'bunit', id, action: 'update', changes, events: [bunitEvent('business_unit.updated', id)] });
      return this.get(id, uow.trx);
    });
  }

  async archive(id: number, by: Acting, ifMatch?: string): Promise<void> {
    await withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lockForChange(uow, id, ifMatch);
      if (current.archivedAt !== null) return;
      await archiveBunit(uow.trx, id, uow.nowIso);
      uow.record({
        entity: 'bunit',
        id,
        action: 'archive',
        changes: [{ field: 'archivedDate', from: null, to: uow.nowIso }],
        events: [bunitEvent('business_unit.archived', id)],
      });
    });
  }

  private async lockForChange(uow: UnitOfWork, id: number, ifMatch: string | undefined): Promise<BunitRecord> {
    await lockRow(uow.trx, 'business_units', id);
    const current = await this.get(id, uow.trx);
    assertIfMatch(ifMatch, etagOf('bunit', id, current.version));
    return current;
  }
}

function translateDuplicateCode(err: unknown, code: string): unknown {
  return isUniqueViolation(err) ? conflict('duplicate-code', `A business unit with code ${code} already exists.`) : err;
}
