import type { Knex } from 'knex';
import type { BusinessCalendar } from '../clock';
import { transaction } from '../db';
import type { IsoDate } from '../domain/dates';
import { insertAuditEvents, type AuditEvent, type FieldChange } from '../repositories/audit.repository';
import type { Actor, ServiceContext } from './context';

/**
 * One unit of work is one transaction, one actor and one instant: every rule that asks "now" or
 * "today" inside it gets the same answer, and every change it makes is recorded once, from the
 * same data (the audit entry; with the events feed, the outbox row), in the same transaction.
 *
 * Services take `by: Acting`: an actor starts a unit of work of its own, an open unit of work is
 * joined. So one service can call another inside its transaction (approval applies the PUT's
 * rules and writer inside the approve transaction) and everything commits or rolls back together.
 */
export class UnitOfWork {
  readonly now: Date;
  readonly nowIso: string;
  /** Today in the business time zone, at `now`. */
  readonly today: IsoDate;
  private readonly recorded: Change[] = [];
  private readonly committed: (() => void)[] = [];

  constructor(
    readonly trx: Knex.Transaction,
    readonly actor: Actor,
    private readonly calendar: BusinessCalendar,
  ) {
    this.now = calendar.now();
    this.nowIso = this.now.toISOString();
    this.today = calendar.dayOf(this.now);
  }

  /** The calendar day (business time zone) an instant falls on. */
  dayOf(instant: string): IsoDate {
    return this.calendar.dayOf(instant);
  }

  /**
   * Records a change of this unit of work; a change that changes nothing records nothing (and
   * answers false). Written when the work is done, before the commit.
   */
  record(change: Change): boolean {
    if (change.changes.length === 0) return false;
    this.recorded.push(change);
    return true;
  }

  /** Runs `effect` once the transaction has committed (never, if it rolls back). */
  afterCommit(effect: () => void): void {
    this.committed.push(effect);
  }

  /** Writes what was recorded; the unit of work's owner calls it once, last. */
  async flush(): Promise<void> {
    const changes = this.recorded.splice(0);
    if (changes.length === 0) return;
    await insertAuditEvents(this.trx, changes.map((c) => this.auditEntry(c)));
  }

  /** @internal the effects waiting for the commit, once it happened */
  runCommitted(): void {
    for (const effect of this.committed.splice(0)) effect();
  }

  private auditEntry(change: Change): AuditEvent {
    return {
      entityType: change.entity,
      entityId: change.id,
      action: change.action,
      keyName: this.actor.name,
      keyId: this.actor.keyId ?? null,
      reason: change.reason !== undefined ? change.reason : (this.actor.reason ?? null),
      changes: change.changes,
      at: this.nowIso,
    };
  }
}

/** What happened to one object: the audit trail's entry, and later the event's, come from it. */
export interface Change {
  entity: AuditEvent['entityType'];
  id: number;
  action: string;
  /** The fields changed, from → to; none: nothing is recorded. */
  changes: FieldChange[];
  /** A reason of its own (a cascade's), instead of the actor's X-Change-Reason. */
  reason?: string | null;
}

/** Who acts: an actor (a new unit of work) or the unit of work to join. */
export type Acting = Actor | UnitOfWork;

/** Runs `work` in the given unit of work, or in a new one (its own transaction) for an actor. */
export async function withUnitOfWork<T>(ctx: ServiceContext, by: Acting, work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
  if (by instanceof UnitOfWork) return work(by);
  let uow: UnitOfWork | undefined;
  const result = await transaction(ctx.db, async (trx) => {
    uow = new UnitOfWork(trx, by, ctx.calendar);
    const result = await work(uow);
    await uow.flush();
    return result;
  });
  uow!.runCommitted();
  return result;
}

/** Fields that differ between two snapshots (null = the object did not exist), as from → to. */
export function changesBetween(before: Record<string, unknown> | null, after: Record<string, unknown> | null): FieldChange[] {
  const fields = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const out: FieldChange[] = [];
  for (const field of fields) {
    const from = before?.[field] ?? null;
    const to = after?.[field] ?? null;
    if (JSON.stringify(from) !== JSON.stringify(to)) out.push({ field, from, to });
  }
  return out;
}

/** Commands and seeds act as themselves. */
export const systemActor = (name: string): Actor => ({ keyId: null, name, role: 'admin', bunitIds: 'all' });
