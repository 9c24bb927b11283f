import { notFound } from '../domain/errors';
import {
  findStatement,
  findStatementLines,
  listStatements,
  type StatementLineRecord,
  type StatementRecord,
} from '../repositories/statement.repository';
import type { StatementListQuery } from '../schemas/settlement';
import type { ServiceContext } from './context';

/** Statements of completed runs, as the business units that pay or earn them read them. */
export class StatementService {
  constructor(private readonly ctx: ServiceContext) {}

  list(bunitId: number, query: StatementListQuery) {
    return listStatements(
      this.ctx.db,
      { bunitId, role: query.role, runId: query.runId, currency: query.currency, status: query.status, period: query.period },
      query.sort,
      query,
    );
  }

  /** A statement is visible to the business unit that pays it and to the one that earns it. */
  async get(bunitId: number, id: number): Promise<{ statement: StatementRecord; lines: StatementLineRecord[] }> {
    const statement = await findStatement(this.ctx.db, id);
    if (!statement || (statement.payer.id !== bunitId && statement.referrer.id !== bunitId)) {
      throw notFound(`Statement ${id} does not exist under business unit ${bunitId}.`);
    }
    return { statement, lines: await findStatementLines(this.ctx.db, statement) };
  }
}
