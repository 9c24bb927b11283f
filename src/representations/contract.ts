import type { ContractRecord } from '../repositories/contract.repository';
import type { Contract } from '../schemas/contract';

/** A contract as the API shows it (SPEC §3.2), to HTTP clients and in events. */
export const presentContract = (c: ContractRecord): Contract => ({
  id: c.id,
  bunitId: c.bunitId,
  number: c.number,
  name: c.name,
  customer: c.customer,
  currency: c.currency,
  startDate: c.startDate,
  endDate: c.endDate,
  createdDate: c.createdAt,
  archivedDate: c.archivedAt,
});
