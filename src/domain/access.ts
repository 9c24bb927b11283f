/**
 * Who may do what (SPEC §7.1). A key's role grants capabilities; an operation needs one. Roles
 * are not a ladder: an approver decides change requests but cannot make changes of its own, a
 * writer makes changes but cannot decide them (four eyes, §11).
 */
export type Role = 'read' | 'write' | 'admin';
export type Capability = 'read' | 'write' | 'admin';

const CAPABILITIES: Record<Role, ReadonlySet<Capability>> = {
  read: new Set(['read']),
  write: new Set(['read', 'write']),
  admin: new Set(['read', 'write', 'admin']),
};

export const ROLES = Object.keys(CAPABILITIES) as Role[];

export function hasCapability(role: Role, capability: Capability): boolean {
  return CAPABILITIES[role].has(capability);
}
