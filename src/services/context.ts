import type { Knex } from 'knex';
import type { BusinessCalendar } from '../clock';

/** What every service needs: the database and the business calendar ("now", "today"). */
export interface ServiceContext {
  db: Knex;
  calendar: BusinessCalendar;
}

/** Who is acting, for authorisation and the audit trail. */
export interface Actor {
  keyId: number | null;
  name: string;
  role: 'read' | 'write' | 'admin';
  /** The business units the key may act for; 'all' for admin keys. */
  bunitIds: number[] | 'all';
  reason?: string | undefined;
}
