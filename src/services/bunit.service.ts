import { isUniqueViolation, lockRow, transaction } from '../db';
import { conflict, notFound } from '../domain/errors';
import { assertIfMatch, etagOf } from '../domain/etag';
import {
  archiveBunit,
  findBunit,
  insertBunit,
  listBunits,
  updateBunit,
  type BunitRecord,
} from '../repositories/bunit.repository';
import type { BusinessUnitCreate, BusinessUnitListQuery, BusinessUnitUpdate } from '../schemas/bunit';
import { insertAuditEvents } from '../repositories/audit.repository';
import { auditEvent, changesBetween, type AuditActor } from './audit';
import { isArchivedAt, type Actor, type ServiceContext } from './context';

const snapshot = (b: BunitRecord) => ({ code: b.code, name: b.name, archivedDate: b.archivedAt });

export class BunitService {
  constructor(private readonly ctx: ServiceContext) {}

  async get(id: number): Promise<BunitRecord> {
    const bunit = await findBunit(this.ctx.db, id);
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

  async create(input: BusinessUnitCreate, actor: AuditActor): Promise<BunitRecord> {
    const id = await transaction(this.ctx.db, async (trx) => {
      const nowIso = this.ctx.calendar.nowIso();
      let id: number;
      try {
        id = await insertBunit(trx, { ...input, createdAt: nowIso });
      } catch (err) {
        throw translateDuplicateCode(err, input.code);
      }
      const created = (await findBunit(trx, id))!;
      await insertAuditEvents(trx, [auditEvent(actor, 'bunit', id, 'create', changesBetween(null, snapshot(created)), nowIso)]);
      return id;
    });
    return this.get(id);
  }

  async update(id: number, input: BusinessUnitUpdate, actor: AuditActor, ifMatch?: string): Promise<BunitRecord> {
    await transaction(this.ctx.db, async (trx) => {
      await lockRow(trx, 'business_units', id);
      const current = await findBunit(trx, id);
      if (!current) throw notFound(`Business unit ${id} does not exist.`);
      assertIfMatch(ifMatch, etagOf('bunit', id, current.version));
      if (isArchivedAt(current.archivedAt, this.ctx.calendar.nowIso())) {
        throw conflict('archived', `Business unit ${id} is archived and read-only.`);
      }
      try {
        await updateBunit(trx, id, { code: input.code, name: input.name });
      } catch (err) {
        throw translateDuplicateCode(err, input.code);
      }
      const changes = changesBetween(snapshot(current), snapshot((await findBunit(trx, id))!));
      await insertAuditEvents(trx, [auditEvent(actor, 'bunit', id, 'update', changes, this.ctx.calendar.nowIso())]);
    });
    return this.get(id);
  }

  async archive(id: number, actor: AuditActor, ifMatch?: string): Promise<void> {
    await transaction(this.ctx.db, async (trx) => {
      await lockRow(trx, 'business_units', id);
      const current = await findBunit(trx, id);
      if (!current) throw notFound(`Business unit ${id} does not exist.`);
      assertIfMatch(ifMatch, etagOf('bunit', id, current.version));
      if (current.archivedAt !== null) return;
      const nowIso = this.ctx.calendar.nowIso();
      await archiveBunit(trx, id, nowIso);
      await insertAuditEvents(trx, [
        auditEvent(actor, 'bunit', id, 'archive', [{ field: 'archivedDate', from: null, to: nowIso }], nowIso),
      ]);
    });
  }
}

function translateDuplicateCode(err: unknown, code: string): unknown {
  return isUniqueViolation(err) ? conflict('duplicate-code', `A business unit with code ${code} already exists.`) : err;
}
