import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { BusinessCalendar } from '../clock';
import type { ApprovalMode } from '../config';
import type { UrlPolicy } from './webhook/url-safety';
import type { Role } from '../domain/access';

/** What every service needs: the database and the business calendar ("now", "today"); a logger for background work. */
export interface ServiceContext {
  db: Knex;
  calendar: BusinessCalendar;
  logger?: Logger | undefined;
  /** Revenue lines a settlement partition holds, about (SETTLEMENT_PARTITION_LINES, default 2000). */
  partitionLines?: number | undefined;
  /** APPROVAL_MODE (SPEC §11); default none. */
  approvalMode?: ApprovalMode | undefined;
  /** STATEMENT_ACCEPT_DAYS (SPEC §15): a statement still issued this many days after its creation is accepted; default 5. */
  statementAcceptDays?: number | undefined;
  /** Where webhooks may be sent (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE); default: public https only. */
  webhookUrlPolicy?: UrlPolicy | undefined;
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
