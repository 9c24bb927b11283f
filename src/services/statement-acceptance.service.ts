import type { IsoDate } from '../domain/dates';
import { conflict, forbidden, notFound } from '../domain/errors';
import { firstDayNotDue } from '../domain/statement-lifecycle';
import {
  acceptStatements,
  claimDueStatements,
  findStatement,
  findStatements,
  lockStatement,
  type StatementRecord,
} from '../repositories/statement.repository';
import { presentIssuedStatement } from '../representations/settlement';
import type { Actor, ServiceContext } from './context';
import { systemActor, withUnitOfWork, type Acting, type EventDraft, type UnitOfWork } from './unit-of-work';

/**
 * The payer confirms a statement (SPEC §15): `issued` → `accepted`, by an approver key of the
 * payer or an admin, or automatically once it has been issued STATEMENT_ACCEPT_DAYS days. Both are
 * a conditional UPDATE (`WHERE status = 'issued'`): of any number of acceptances of one statement,
 * made at once by keys, instances or the settle command, exactly one changes it, and only that one
 * writes the audit entry and the `statement.accepted` event.
 */

export const DEFAULT_ACCEPT_DAYS = 5;
/** Statements auto-accepted in one short transaction. */
const AUTO_ACCEPT_BATCH = 200;
/** The name automatic acceptance acts under: `acceptedBy` and the audit trail say `auto`. */
export const AUTO_ACCEPTOR = 'auto';

export const periodClosed = (statement: Pick<StatementRecord, 'id' | 'period'>) =>
  conflict('period-closed', `Statement ${statement.id} belongs to period ${statement.period}, which is closed: it can no longer be accepted or disputed.`);

/** The statement as a list shows it (without its lines), for its payer and its referrer. */
const statementAcceptedEvent = (statement: StatementRecord): EventDraft => ({
  type: 'statement.accepted',
  bunitIds: [statement.payer.id, statement.referrer.id],
  data: presentIssuedStatement(statement),
});

function recordAcceptance(uow: UnitOfWork, statement: StatementRecord, reason: string | null | undefined): void {
  uow.record({
    entity: 'statement',
    id: statement.id,
    action: 'accept',
    ...(reason !== undefined ? { reason } : {}),
    changes: [
      { field: 'status', from: 'issued', to: 'accepted' },
      { field: 'acceptedBy', from: null, to: statement.acceptedBy },
      { field: 'acceptedDate', from: null, to: statement.acceptedDate },
    ],
    events: [statementAcceptedEvent(statement)],
  });
}

export class StatementAcceptanceService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * The payer accepts a statement. Accepting an accepted statement changes nothing (no audit
   * entry, no event); a closed one is 409 period-closed.
   */
  accept(bunitId: number, statementId: number, reason: string | undefined, by: Acting): Promise<StatementRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const seen = await findStatement(uow.trx, statementId);
      if (!seen || (seen.payer.id !== bunitId && seen.referrer.id !== bunitId)) {
        throw notFound(`Statement ${statementId} does not exist under business unit ${bunitId}.`);
      }
      if (seen.payer.id !== bunitId) {
        throw forbidden(`Statement ${statementId} is accepted by its payer, business unit ${seen.payer.id}; business unit ${bunitId} earns it.`);
      }
      const status = await lockStatement(uow.trx, statementId);
      if (status === 'closed') throw periodClosed(seen);
      if (status === 'accepted') return seen;
      const [accepted] = await acceptStatements(uow.trx, [statementId], uow.actor.name, uow.today);
      const statement = (await findStatement(uow.trx, statementId))!;
      if (accepted === undefined) {
        // Accepted or closed by another transaction that committed after the lock was taken (SQLite: never).
        if (statement.status === 'closed') throw periodClosed(statement);
        return statement;
      }
      recordAcceptance(uow, statement, reason);
      return statement;
    });
  }

  /** Accepts the statements due today (see acceptDueStatements); how many it accepted. */
  acceptDue(today: IsoDate = this.ctx.calendar.today()): Promise<number> {
    return acceptDueStatements(this.ctx, today);
  }
}

/**
 * Auto-acceptance (SPEC §15): every statement still `issued` STATEMENT_ACCEPT_DAYS days after the
 * day of its creation (BUSINESS_TIMEZONE) is accepted with `acceptedBy: "auto"` and `acceptedDate`
 * `today`. In short transactions of up to 200 statements, each claimed and accepted by a
 * conditional UPDATE, with one audit entry and one `statement.accepted` event each: whichever
 * server instance or settle command gets to a statement first accepts it, exactly once; the
 * others find it accepted and leave it. The number of statements this call accepted.
 *
 * A job function only: who calls it, and how often, is the caller's (the server's periodic worker,
 * the settle command).
 */
export async function acceptDueStatements(ctx: ServiceContext, today: IsoDate, actor: Actor = systemActor(AUTO_ACCEPTOR)): Promise<number> {
  const acceptDays = ctx.statementAcceptDays ?? DEFAULT_ACCEPT_DAYS;
  const before = ctx.calendar.startOf(firstDayNotDue(today, acceptDays));
  let total = 0;
  for (;;) {
    const { claimed, accepted } = await withUnitOfWork(ctx, actor, async (uow) => {
      const ids = await claimDueStatements(uow.trx, before, AUTO_ACCEPT_BATCH);
      const acceptedIds = await acceptStatements(uow.trx, ids, AUTO_ACCEPTOR, today);
      for (const statement of await findStatements(uow.trx, acceptedIds)) recordAcceptance(uow, statement, null);
      return { claimed: ids.length, accepted: acceptedIds.length };
    });
    total += accepted;
    if (claimed < AUTO_ACCEPT_BATCH) return total;
  }
}
