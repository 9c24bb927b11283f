import type { Knex } from 'knex';
import type { BusinessCalendar } from '../clock';
import type { Role } from '../domain/access';

/** What every service needs: the database and the business calendar ("now", "today"). */
export interface ServiceContext {
  db: Knex;
  calendar: BusinessCalendar;
}

/** Who is acting, for authorisation and the audit trail. */
export interface Actor {
  keyId: number | null;
  name: string;
  role: Role;
  /** The business units the key may act for; 'all' for admin keys. */
  bunitIds: number[] | 'all';
  reason?: string | undefined;
}
