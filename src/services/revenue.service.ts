import { isForeignKeyViolation, lockRow } from '../db';
import { formatDecimal, toDec } from '../domain/decimal';
import { conflict, notFound, validationFailed, type FieldError } from '../domain/errors';
import {
  deleteRevenueLine,
  findRevenueByExternalIds,
  findRevenueLine,
  insertRevenueLines,
  listRevenueLines,
  type NewRevenueLine,
  type RevenueLineRecord,
} from '../repositories/revenue.repository';
import type { RevenueIngest, RevenueListQuery } from '../schemas/revenue';
import type { ServiceContext } from './context';
import type { ContractService } from './contract.service';
import { revenueIngestedEvent } from './event.service';
import { withUnitOfWork, type Acting } from './unit-of-work';

export interface IngestResult {
  created: number;
  existing: number;
  lines: RevenueLineRecord[];
}

export class RevenueService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly contracts: ContractService,
  ) {}

  /**
   * SPEC §6.1: all or nothing, idempotent by externalId. The contract row lock serialises ingests
   * of one contract, so two requests with the same externalId cannot both insert it.
   */
  async ingest(bunitId: number, contractId: number, body: RevenueIngest, by: Acting): Promise<IngestResult> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { trx } = uow;
      await lockRow(trx, 'contracts', contractId);
      const contract = await this.contracts.get(bunitId, contractId, trx);

      const errors: FieldError[] = [];
      const lines: NewRevenueLine[] = body.lines.map((line, i) => {
        if (line.currency !== undefined && line.currency !== contract.currency) {
          errors.push({ path: `body.lines.${i}.currency`, message: `must equal the contract currency ${contract.currency}` });
        }
        return {
          externalId: line.externalId,
          amount: formatDecimal(line.amount),
          currency: contract.currency,
          periodStart: line.date ?? line.periodStart!,
          periodEnd: line.date ?? line.periodEnd!,
        };
      });
      if (errors.length > 0) throw validationFailed(errors);

      const stored = new Map(
        (await findRevenueByExternalIds(trx, contractId, lines.map((l) => l.externalId))).map((l) => [l.externalId, l]),
      );
      const differing = lines.filter((l) => {
        const s = stored.get(l.externalId);
        return s !== undefined && !sameContent(s, l);
      });
      if (differing.length > 0) {
        throw conflict(
          'duplicate-external-id',
          `These externalIds already exist on contract ${contractId} with different content: ${differing.map((l) => l.externalId).join(', ')}. Nothing was written.`,
        );
      }
      const fresh = lines.filter((l) => !stored.has(l.externalId));
      await insertRevenueLines(trx, contractId, fresh, uow.nowIso);
      const all = new Map(
        (await findRevenueByExternalIds(trx, contractId, lines.map((l) => l.externalId))).map((l) => [l.externalId, l]),
      );
      const createdIds = fresh.map((l) => all.get(l.externalId)!.id);
      fresh.forEach((l, i) => {
        // One event for the ingest (the lines it created), published with the first line's record.
        const events = i === 0 ? [revenueIngestedEvent(contract, createdIds)] : undefined;
        uow.record({ entity: 'revenue-line', id: createdIds[i]!, action: 'create', changes: lineChanges(l, 'to'), ...(events ? { events } : {}) });
      });
      return { created: fresh.length, existing: lines.length - fresh.length, lines: lines.map((l) => all.get(l.externalId)!) };
    });
  }

  async list(bunitId: number, contractId: number, query: RevenueListQuery) {
    await this.contracts.get(bunitId, contractId);
    return listRevenueLines(this.ctx.db, { contractId, settled: query.settled }, query.sort, query);
  }

  /** Only a line no run has settled may go; afterwards a correction is a new, negative line. */
  async remove(bunitId: number, contractId: number, lineId: number, by: Acting): Promise<void> {
    await withUnitOfWork(this.ctx, by, async (uow) => {
      const { trx } = uow;
      await lockRow(trx, 'contracts', contractId);
      await this.contracts.get(bunitId, contractId, trx);
      const line = await findRevenueLine(trx, lineId);
      if (!line || line.contractId !== contractId) {
        throw notFound(`Revenue line ${lineId} does not exist on contract ${contractId}.`);
      }
      if (line.settled) throw alreadySettled(lineId);
      try {
        await deleteRevenueLine(trx, lineId);
      } catch (err) {
        // A run that settled the line in the meantime holds it through a foreign key.
        throw isForeignKeyViolation(err) ? alreadySettled(lineId) : err;
      }
      uow.record({ entity: 'revenue-line', id: lineId, action: 'delete', changes: lineChanges(line, 'from') });
    });
  }
}

const alreadySettled = (lineId: number) =>
  conflict('already-settled', `Revenue line ${lineId} is settled and cannot be deleted; book a correcting (negative) line instead.`);

function lineChanges(line: NewRevenueLine | RevenueLineRecord, side: 'from' | 'to') {
  return (['contractId', 'externalId', 'amount', 'currency', 'periodStart', 'periodEnd'] as const)
    .filter((f) => f in line)
    .map((field) => {
      const value = (line as unknown as Record<string, unknown>)[field];
      return side === 'to' ? { field, from: null, to: value } : { field, from: value, to: null };
    });
}

function sameContent(stored: RevenueLineRecord, line: NewRevenueLine): boolean {
  return (
    toDec(stored.amount).equals(toDec(line.amount)) &&
    stored.currency === line.currency &&
    stored.periodStart === line.periodStart &&
    stored.periodEnd === line.periodEnd
  );
}
