import { z } from 'zod';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from './domain/events';

/**
 * The only place that reads process.env. Everything else receives a frozen Config.
 */
const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://')
    .default('sqlite:./data/referrals.db'),
  BUSINESS_TIMEZONE: z
    .string()
    .default('UTC')
    .refine(isKnownTimeZone, 'must be an IANA time zone such as UTC or Europe/Oslo'),
  ADMIN_API_KEY: z
    .string()
    .min(32, 'must be at least 32 characters (use 32+ random bytes, e.g. openssl rand -hex 32)')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0),
  SQLITE_LOCK_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  SETTLEMENT_PARTITION_LINES: z.coerce.number().int().min(1).max(1_000_000).default(2000),
  APPROVAL_MODE: z.enum(['none', 'maker-checker'], 'must be none or maker-checker').default('none'),
  METRICS_PORT: z.coerce.number().int('must be a port number (0 = off)').min(0).max(65535).default(9464),
  WEBHOOK_DELIVERY: z.enum(['on', 'off'], 'must be on or off').default('on'),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d{1,7}(\.\d{1,3})?\s*(,\s*\d{1,7}(\.\d{1,3})?\s*)*$/, 'must be seconds, comma-separated, e.g. 5,300,1800')
    .transform((v) => v.split(',').map((s) => Number(s.trim())))
    .optional(),
  WEBHOOK_ALLOW_HTTP: z.enum(['true', 'false'], 'must be true or false').default('false'),
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false'], 'must be true or false').default('false'),
  WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  WEBHOOK_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
  STATEMENT_ACCEPT_DAYS: z.coerce.number().int('must be a whole number of days').min(1, 'must be at least 1').max(366, 'must be at most 366').default(5),
  STATEMENT_ACCEPT_INTERVAL_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly businessTimeZone: string;
  readonly adminApiKey: string | undefined;
  readonly logLevel: string;
  readonly rateLimitPerMinute: number;
  /** SQLite: how long a request waits, in total, for the write lock another process holds (then 503). */
  readonly sqliteLockWaitMs: number;
  /** About how many revenue lines a settlement partition holds (one short transaction each). */
  readonly settlementPartitionLines: number;
  /** none: referral changes apply at once; maker-checker: they wait for another key's approval (SPEC §11). */
  readonly approvalMode: ApprovalMode;
  /** The port of the Prometheus listener (/metrics); 0 = no listener. */
  readonly metricsPort: number;
  /** Events and webhooks (SPEC §13). */
  readonly webhooks: WebhookSettings;
  /** Statements after the run (SPEC §15). */
  readonly statements: StatementSettings;
}

export interface StatementSettings {
  /** STATEMENT_ACCEPT_DAYS: a statement still issued this many days after its creation is accepted automatically. */
  acceptDays: number;
  /** STATEMENT_ACCEPT_INTERVAL_MS: how often an instance looks for statements due for auto-acceptance (ms). */
  acceptIntervalMs: number;
}

export const DEFAULT_STATEMENT_SETTINGS: StatementSettings = Object.freeze({ acceptDays: 5, acceptIntervalMs: 60_000 });

export interface WebhookSettings {
  /** WEBHOOK_DELIVERY: this instance delivers webhooks (every instance does, by default). */
  delivery: boolean;
  /** Seconds before each retry; then the delivery has failed. */
  retrySchedule: readonly number[];
  allowHttp: boolean;
  allowPrivate: boolean;
  /** How often an idle instance looks for events to deliver (ms). */
  pollMs: number;
  /** A claim of a killed instance is taken over after this long (s). */
  leaseSeconds: number;
  /** Events are kept this many days. */
  retentionDays: number;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = Object.freeze({
  delivery: true,
  retrySchedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
  allowHttp: false,
  allowPrivate: false,
  pollMs: 250,
  leaseSeconds: 30,
  retentionDays: 30,
});

export type ApprovalMode = 'none' | 'maker-checker';

export class ConfigError extends Error {}

function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return Object.freeze({
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    businessTimeZone: c.BUSINESS_TIMEZONE,
    adminApiKey: c.ADMIN_API_KEY,
    logLevel: c.LOG_LEVEL,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    sqliteLockWaitMs: c.SQLITE_LOCK_WAIT_MS,
    settlementPartitionLines: c.SETTLEMENT_PARTITION_LINES,
    approvalMode: c.APPROVAL_MODE,
    metricsPort: c.METRICS_PORT,
    webhooks: Object.freeze({
      delivery: c.WEBHOOK_DELIVERY === 'on',
      retrySchedule: c.WEBHOOK_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE_SECONDS,
      allowHttp: c.WEBHOOK_ALLOW_HTTP === 'true',
      allowPrivate: c.WEBHOOK_ALLOW_PRIVATE === 'true',
      pollMs: c.WEBHOOK_POLL_INTERVAL_MS,
      leaseSeconds: c.WEBHOOK_LEASE_SECONDS,
      retentionDays: c.EVENT_RETENTION_DAYS,
    }),
    statements: Object.freeze({ acceptDays: c.STATEMENT_ACCEPT_DAYS, acceptIntervalMs: c.STATEMENT_ACCEPT_INTERVAL_MS }),
  });
}
