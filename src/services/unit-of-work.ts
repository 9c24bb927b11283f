import type { Knex } from 'knex';
import type { BusinessCalendar } from '../clock';
import { transaction } from '../db';
import type { IsoDate } from '../domain/dates';
import type { EventType } from '../domain/events';
import { insertAuditEvents, type AuditEvent, type FieldChange } from '../repositories/audit.repository';
import { insertEvents } from '../repositories/event.repository';
import { recordEventsPublished } from '../metrics';
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

  /**
   * Writes what was recorded, the audit entries and then the events (the outbox, SPEC §13); the
   * unit of work's owner calls it once, last. The events are numbered once the transaction has
   * committed (publishEvents). Each event's data is read now, when every change of the unit of
   * work is made: the resource as its GET returns it after the change.
   */
  async flush(): Promise<void> {
    const changes = this.recorded.splice(0);
    if (changes.length === 0) return;
    await insertAuditEvents(this.trx, changes.map((c) => this.auditEntry(c)));
    const drafts = changes.flatMap((c) => c.events ?? []);
    const staged = changes.find((c) => c.publishesStaged !== undefined)?.publishesStaged;
    if (drafts.length === 0 && staged === undefined) return;
    const events = [];
    for (const draft of drafts) {
      const data = typeof draft.data === 'function' ? await (draft.data as EventData)(this) : draft.data;
      events.push({ type: draft.type, createdAt: this.nowIso, bunitIds: [...new Set(draft.bunitIds)], data: JSON.stringify(data) });
    }
    const written = await insertEvents(this.trx, events, staged === undefined ? undefined : { batch: staged, createdAt: this.nowIso });
    this.afterCommit(() => {
      for (const [type, n] of written) recordEventsPublished(type, n);
    });
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
  /** The events this change publishes (SPEC §13), written with the audit entry, in the same transaction. */
  events?: readonly EventDraft[];
  /** A batch of events staged before (stageEvents) that this change publishes, ahead of its own: the change makes what they tell visible. */
  publishesStaged?: string;
}

/** The resource an event carries, or how to read it once the unit of work has made all its changes. */
export type EventData = (uow: UnitOfWork) => Promise<unknown>;

/** An event as a service records it; the outbox gives it its id, sequence and instant. */
export interface EventDraft {
  type: EventType;
  /** The business units it concerns (a BU-scoped key sees it when it names one of its units); none: admin keys only. */
  bunitIds: readonly number[];
  data: EventData | Record<string, unknown>;
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
