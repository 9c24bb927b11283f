import { z } from 'zod';

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
}

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
  });
}
