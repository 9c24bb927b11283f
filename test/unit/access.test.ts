import { expect } from 'chai';
import { ROLES, hasCapability, type Capability } from '../../src/domain/access';

/** Roles grant capabilities (SPEC §7.1); they are not a ladder. */
describe('roles and capabilities', () => {
  const table: Record<string, Capability[]> = {
    read: ['read'],
    write: ['read', 'write'],
    approver: ['read', 'decide'],
    admin: ['read', 'write', 'decide', 'admin'],
  };
  for (const role of ROLES) {
    it(`a ${role} key may ${table[role]!.join(', ')} and nothing else`, () => {
      for (const capability of ['read', 'write', 'decide', 'admin'] as Capability[]) {
        expect(hasCapability(role, capability), capability).to.equal(table[role]!.includes(capability));
      }
    });
  }
});
