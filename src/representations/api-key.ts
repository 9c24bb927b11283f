import type { ApiKeyRecord } from '../repositories/api-key.repository';

/** An API key as the API shows it (SPEC §7.1); never its secret. */
export const presentApiKey = (k: ApiKeyRecord) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  bunitIds: k.bunitIds,
  createdDate: k.createdAt,
  revokedDate: k.revokedAt,
});
