import Database from 'better-sqlite3';
import express, { type Request, type Response } from 'express';
import pg from 'pg';
import { dialectOfUrl, sqliteFilename } from '../src/db';

/**
 * The baselines of the HTTP scenarios: bare Express 5 handlers on the same paths as the service,
 * with no auth, validation, rules, audit or layering, over prepared statements (better-sqlite3, or
 * named prepared statements with pg). Same database, same durability (SQLite: WAL and
 * synchronous=FULL; PostgreSQL: synchronous_commit on). A referral is read as the service must
 * read it to answer (issue 13: "bare Express 5 with the same two reads"): its columns, its
 * contract's and referrer's, and its percentage history, sent as the rows came.
 */
interface Store {
  referral(id: number): Promise<unknown>;
  referralsOfReferrer(bunitId: number, nowIso: string, limit: number, offset: number): Promise<{ total: number; rows: unknown[] }>;
  insertReferral(values: unknown[]): Promise<unknown>;
  statementsOf(bunitId: number, status: string, period: string, limit: number, offset: number): Promise<{ total: number; rows: unknown[] }>;
  insertRevenue(contractId: number, lines: RevenueLine[], createdAt: string): Promise<number>;
}

interface RevenueLine {
  externalId: string;
  amount: string;
  periodStart: string;
  periodEnd: string;
}

const SELECT = `SELECT r.id, r.contract_id, c.number AS contract_number, c.currency AS contract_currency, r.referrer_id,
  b.code AS referrer_code, b.name AS referrer_name, r.percentage, r.billing_start_date, r.billing_end_date, r.created_at,
  r.archived_at, r.version
  FROM referrals r JOIN contracts c ON c.id = r.contract_id JOIN business_units b ON b.id = r.referrer_id`;
/** The columns the service's representation of one referral needs (SPEC §3.3), and its history. */
const SELECT_ONE = `SELECT r.id, r.contract_id, c.bunit_id AS contract_bunit_id, c.number AS contract_number,
  c.currency AS contract_currency, r.referrer_id, b.code AS referrer_code, b.name AS referrer_name, r.billing_start_date,
  r.billing_end_date, r.created_at, r.archived_at, r.archive_day, r.terms_revision, r.adjusted_revision, r.status, r.updated_at,
  r.pending_change_id, r.pending_change_kind, r.pending_change_at, r.version, c.version AS contract_version, b.version AS referrer_version
  FROM referrals r JOIN contracts c ON c.id = r.contract_id JOIN business_units b ON b.id = r.referrer_id WHERE r.id = ?`;
const HISTORY = 'SELECT from_date, to_date, percentage FROM referral_percentages WHERE referral_id = ? ORDER BY from_date';
const FILTER = 'WHERE r.referrer_id = ? AND (r.archived_at IS NULL OR r.archived_at > ?)';
const COUNT = `SELECT count(*) AS total FROM referrals r JOIN contracts c ON c.id = r.contract_id JOIN business_units b ON b.id = r.referrer_id ${FILTER}`;
const PAGE = `${SELECT} ${FILTER} ORDER BY r.id LIMIT ? OFFSET ?`;
/** Scenario 16: the statements a unit pays or earns in one status and period, with their parties and held amount. */
const STATEMENT_FILTER = "WHERE s.finalized = ? AND (s.payer_id = ? OR s.referrer_id = ?) AND s.period = ? AND s.status = ?";
const STATEMENT_FROM = 'FROM statements s JOIN business_units p ON p.id = s.payer_id JOIN business_units f ON f.id = s.referrer_id';
const STATEMENT_COUNT = `SELECT count(*) AS total ${STATEMENT_FROM} ${STATEMENT_FILTER}`;
const STATEMENT_PAGE = `SELECT s.id, s.run_id, s.payer_id, p.code AS payer_code, p.name AS payer_name, s.referrer_id,
  f.code AS referrer_code, f.name AS referrer_name, s.currency, CAST(s.total_minor AS TEXT) AS total_minor, s.line_count,
  s.created_at, s.period, s.status, s.accepted_by, s.accepted_date,
  (SELECT CAST(COALESCE(SUM(d.amount_minor), 0) AS TEXT) FROM disputes d WHERE d.statement_id = s.id AND d.status = 'open') AS held_minor
  ${STATEMENT_FROM} ${STATEMENT_FILTER} ORDER BY s.id LIMIT ? OFFSET ?`;
const INSERT_REFERRAL = `INSERT INTO referrals (contract_id, referrer_id, percentage, billing_start_date, billing_end_date, created_at, version)
  VALUES (?, ?, ?, ?, ?, ?, 1)`;

function sqliteStore(url: string): Store {
  const db = new Database(sqliteFilename(url));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  const one = db.prepare(SELECT_ONE);
  const history = db.prepare(HISTORY);
  const count = db.prepare(COUNT);
  const page = db.prepare(PAGE);
  const insertReferral = db.prepare(INSERT_REFERRAL);
  const statementCount = db.prepare(STATEMENT_COUNT);
  const statementPage = db.prepare(STATEMENT_PAGE);
  const currency = db.prepare('SELECT currency FROM contracts WHERE id = ?').pluck();
  const insertLine = db.prepare(
    'INSERT INTO revenue_lines (contract_id, external_id, amount, currency, period_start, period_end, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const addReferral = db.transaction((values: unknown[]) => insertReferral.run(values).lastInsertRowid);
  const addRevenue = db.transaction((contractId: number, lines: RevenueLine[], createdAt: string) => {
    const cur = currency.get(contractId) as string;
    for (const l of lines) insertLine.run(contractId, l.externalId, l.amount, cur, l.periodStart, l.periodEnd, createdAt);
    return lines.length;
  });
  return {
    referral: async (id) => {
      const row = one.get(id) as Record<string, unknown> | undefined;
      return row && { ...row, percentageHistory: history.all(id) };
    },
    async referralsOfReferrer(bunitId, nowIso, limit, offset) {
      const { total } = count.get(bunitId, nowIso) as { total: number };
      return { total, rows: page.all(bunitId, nowIso, limit, offset) };
    },
    insertReferral: async (values) => ({ id: Number(addReferral.immediate(values)) }),
    async statementsOf(bunitId, status, period, limit, offset) {
      const filter = [1, bunitId, bunitId, period, status];
      const { total } = statementCount.get(...filter) as { total: number };
      return { total, rows: statementPage.all(...filter, limit, offset) };
    },
    insertRevenue: async (contractId, lines, createdAt) => addRevenue.immediate(contractId, lines, createdAt),
  };
}

function postgresStore(url: string): Store {
  pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);
  pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  const one = { name: 'one', text: numbered(SELECT_ONE) };
  const history = { name: 'history', text: numbered(HISTORY) };
  const count = { name: 'count', text: numbered(COUNT) };
  const page = { name: 'page', text: numbered(PAGE) };
  const insertReferral = { name: 'insert-referral', text: `${numbered(INSERT_REFERRAL)} RETURNING id` };
  const statementCount = { name: 'statement-count', text: numbered(STATEMENT_COUNT) };
  const statementPage = { name: 'statement-page', text: numbered(STATEMENT_PAGE) };
  const insertLines = {
    name: 'insert-lines',
    text: `INSERT INTO revenue_lines (contract_id, external_id, amount, currency, period_start, period_end, created_at)
      SELECT $1, e, a, (SELECT currency FROM contracts WHERE id = $1), s, f, $6
      FROM unnest($2::text[], $3::numeric[], $4::date[], $5::date[]) AS t(e, a, s, f)`,
  };
  const inTransaction = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  };
  return {
    referral: async (id) => {
      const row = (await pool.query({ ...one, values: [id] })).rows[0] as Record<string, unknown> | undefined;
      return row && { ...row, percentageHistory: (await pool.query({ ...history, values: [id] })).rows };
    },
    async referralsOfReferrer(bunitId, nowIso, limit, offset) {
      const [c, p] = await Promise.all([
        pool.query({ ...count, values: [bunitId, nowIso] }),
        pool.query({ ...page, values: [bunitId, nowIso, limit, offset] }),
      ]);
      return { total: Number(c.rows[0].total), rows: p.rows };
    },
    insertReferral: (values) => inTransaction(async (c) => (await c.query({ ...insertReferral, values })).rows[0]),
    async statementsOf(bunitId, status, period, limit, offset) {
      const filter = [true, bunitId, bunitId, period, status];
      const [c, p] = await Promise.all([
        pool.query({ ...statementCount, values: filter }),
        pool.query({ ...statementPage, values: [...filter, limit, offset] }),
      ]);
      return { total: Number(c.rows[0].total), rows: p.rows };
    },
    insertRevenue: (contractId, lines, createdAt) =>
      inTransaction(async (c) => {
        const values = [
          contractId,
          lines.map((l) => l.externalId),
          lines.map((l) => l.amount),
          lines.map((l) => l.periodStart),
          lines.map((l) => l.periodEnd),
          createdAt,
        ];
        return (await c.query({ ...insertLines, values })).rowCount ?? 0;
      }),
  };
}

const url = process.env.DATABASE_URL!;
const store = dialectOfUrl(url) === 'sqlite' ? sqliteStore(url) : postgresStore(url);
const app = express();
app.use(express.json({ limit: '1mb' }));

const fail = (res: Response, err: unknown) => res.status(500).json({ error: String(err) });

app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});

app.get('/v1/bunits/:bunitId/referrals/:referralId', async (req: Request, res: Response) => {
  try {
    const row = await store.referral(Number(req.params.referralId));
    if (row) res.json(row);
    else res.status(404).json({ error: 'not found' });
  } catch (err) {
    fail(res, err);
  }
});

app.get('/v1/bunits/:bunitId/referrals', async (req: Request, res: Response) => {
  try {
    const limit = Number(req.query.limit ?? 50);
    const offset = Number(req.query.offset ?? 0);
    const { total, rows } = await store.referralsOfReferrer(Number(req.params.bunitId), new Date().toISOString(), limit, offset);
    res.json({ data: rows, meta: { total, limit, offset } });
  } catch (err) {
    fail(res, err);
  }
});

app.get('/v1/bunits/:bunitId/statements', async (req: Request, res: Response) => {
  try {
    const limit = Number(req.query.limit ?? 50);
    const offset = Number(req.query.offset ?? 0);
    const { total, rows } = await store.statementsOf(Number(req.params.bunitId), String(req.query.status), String(req.query.period), limit, offset);
    res.json({ data: rows, meta: { total, limit, offset } });
  } catch (err) {
    fail(res, err);
  }
});

app.post('/v1/bunits/:bunitId/referrals', async (req: Request, res: Response) => {
  try {
    const b = req.body as { contract: { id: number }; referrer: { id: number }; percentage: string; billingStartDate: string };
    const row = await store.insertReferral([b.contract.id, b.referrer.id, b.percentage, b.billingStartDate, null, new Date().toISOString()]);
    res.status(201).json(row);
  } catch (err) {
    fail(res, err);
  }
});

app.post('/v1/bunits/:bunitId/contracts/:contractId/revenue', async (req: Request, res: Response) => {
  try {
    const { lines } = req.body as { lines: RevenueLine[] };
    const created = await store.insertRevenue(Number(req.params.contractId), lines, new Date().toISOString());
    res.status(201).json({ created });
  } catch (err) {
    fail(res, err);
  }
});

const server = app.listen(Number(process.env.PORT ?? 3100), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
