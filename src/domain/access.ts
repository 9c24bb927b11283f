/**
 * Who may do what (SPEC §7.1). A key's role grants capabilities; an operation needs one. Roles
 * are not a ladder: an approver decides change requests but cannot make changes of its own, a
 * writer makes changes but cannot decide them (four eyes, §11).
 */
export type Role = 'read' | 'write' | 'approver' | 'admin';
/**
 * read: GET; write: make changes; decide: approve or deny change requests (§11), accept
 * statements and resolve disputes (§15); dispute: raise or withdraw a dispute over statement lines
 * (§15, writers and approvers alike); admin: everything else.
 */
export type Capability = 'read' | 'write' | 'decide' | 'dispute' | 'admin';

const CAPABILITIES: Record<Role, ReadonlySet<Capability>> = {
  read: new Set(['read']),
  write: new Set(['read', 'write', 'dispute']),
  approver: new Set(['read', 'decide', 'dispute']),
  admin: new Set(['read', 'write', 'decide', 'dispute', 'admin']),
};

export const ROLES = Object.keys(CAPABILITIES) as Role[];

export function hasCapability(role: Role, capability: Capability): boolean {
  return CAPABILITIES[role].has(capability);
}
