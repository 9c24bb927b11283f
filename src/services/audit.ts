import type { AuditEvent, FieldChange } from '../repositories/audit.repository';
import type { Actor } from './context';

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

export function auditEvent(
  actor: AuditActor,
  entityType: AuditEvent['entityType'],
  entityId: number,
  action: string,
  changes: FieldChange[],
  at: string,
): AuditEvent {
  return {
    entityType,
    entityId,
    action,
    keyName: actor.name,
    keyId: actor.keyId ?? null,
    reason: actor.reason ?? null,
    changes,
    at,
  };
}

/** The part of an actor the audit trail records. */
export type AuditActor = Pick<Actor, 'name'> & Partial<Pick<Actor, 'keyId' | 'reason'>>;

/** Commands and seeds act as themselves. */
export const systemActor = (name: string): Actor => ({ keyId: null, name, role: 'admin', bunitIds: 'all' });
