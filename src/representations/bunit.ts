import type { BunitRecord } from '../repositories/bunit.repository';
import type { BusinessUnit } from '../schemas/bunit';

/** A business unit as the API shows it (SPEC §3.1), to HTTP clients and in events. */
export const presentBunit = (b: BunitRecord): BusinessUnit => ({
  id: b.id,
  code: b.code,
  name: b.name,
  createdDate: b.createdAt,
  archivedDate: b.archivedAt,
  accounts: b.accounts,
});
