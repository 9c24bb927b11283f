import { createDb, refreshStatistics } from '../src/db';
import { createBenchDatabase, seedDatabase } from './lib/database';
import { monthOf, type DatasetSize } from './lib/dataset';
import { compare } from './lib/load';
import { startHttpProcess, type HttpProcess } from './lib/processes';
import type { ScenarioResult } from './lib/report';

/**
 * Scenario 16, statements listed with filters (SPEC §15): `GET /v1/bunits/{b}/statements?
 * status=issued&period=yyyy-MM&limit=50&offset=…` on a settled portfolio, the 200 units in turn
 * over the last three periods and the first three pages. Ours: the service; baseline: a bare
 * Express 5 handler with the same page and total by two prepared statements (bench/baseline-server.ts).
 * The target is the other lists' (scenario 2): ratio ≥ 0.6.
 *
 * The portfolio: one completed run a month for the last PERIODS of the data set's 50 months, each with one statement per (payer, referrer, currency) of the data set's referrals (as a
 * run that settles every referral gives), written directly in bulk (no lines: the list reads none).
 * Statements of the last three periods are two thirds `issued`, a third `accepted`; older ones are
 * `accepted` (automatically), as STATEMENT_ACCEPT_DAYS would leave them.
 */
export interface StatementListBench {
  baseUrl: string | undefined;
  size: DatasetSize;
  adminKey: string;
  server: string;
  serverEnv: (databaseUrl: string) => Promise<Record<string, string>>;
  logFile: string;
  settings: { seconds: number; warmupSeconds: number; rounds: number; connections: number };
  log: (message: string) => void;
}

const PERIODS = 24;
/** The periods still open to acceptance, the ones listed. */
const RECENT = 3;
const PAGES = 3;
const TARGET = 0.6;

/** The last PERIODS months of the data set's 50 (the full one's), oldest first, with each run's `through`. */
function periods(): { period: string; through: string }[] {
  return Array.from({ length: PERIODS }, (_, i) => {
    const { start, end } = monthOf(50 - PERIODS + i);
    return { period: start.slice(0, 7), through: end };
  });
}

/** Writes the portfolio: runs and their statements, set-based (one INSERT … SELECT a run). */
async function seedStatements(url: string): Promise<number> {
  const knex = createDb(url);
  try {
    const all = periods();
    let statements = 0;
    for (const [i, { period, through }] of all.entries()) {
      const at = `${through}T23:00:00.000Z`;
      const [run] = await knex('settlement_runs')
        .insert({ through, created_by: 'bench', created_at: at, started_at: at, completed_at: at, status: 'completed' })
        .returning('id');
      const runId = typeof run === 'object' ? (run as { id: number }).id : (run as number);
      const recent = i >= all.length - RECENT;
      // Issued: two statements of three in the recent periods (by id); accepted otherwise.
      await knex.raw(
        `INSERT INTO statements (run_id, payer_id, referrer_id, currency, total_minor, line_count, created_at, finalized, period, status)
         SELECT ?, c.bunit_id, r.referrer_id, c.currency, 100 * count(*), 2 * count(*), ?, ?, ?, 'issued'
         FROM referrals r JOIN contracts c ON c.id = r.contract_id
         GROUP BY c.bunit_id, r.referrer_id, c.currency
         ORDER BY c.bunit_id, r.referrer_id, c.currency`,
        [runId, at, true, period],
      );
      const accepted = knex('statements').where({ run_id: runId });
      if (recent) accepted.whereRaw('id % 3 = 0');
      await accepted.update({ status: 'accepted', accepted_by: 'auto', accepted_date: through });
      const [{ n }] = (await knex('statements').where({ run_id: runId }).count({ n: '*' })) as [{ n: number | string }];
      await knex('settlement_runs').where({ id: runId }).update({ statement_count: Number(n) });
      statements += Number(n);
    }
    // What a run does after writing statements (PostgreSQL's statistics; SQLite plans without them).
    await refreshStatistics(knex, ['statements', 'settlement_runs']);
    return statements;
  } finally {
    await knex.destroy();
  }
}

function listStatements(size: DatasetSize) {
  const recent = periods().slice(-RECENT).map((p) => p.period);
  let i = 0;
  return () => {
    const n = i++;
    const bunit = 1 + (n % size.bunits);
    const period = recent[Math.floor(n / size.bunits) % RECENT]!;
    const offset = 50 * (Math.floor(n / (size.bunits * RECENT)) % PAGES);
    return { method: 'GET' as const, path: `/v1/bunits/${bunit}/statements?status=issued&period=${period}&limit=50&offset=${offset}` };
  };
}

export async function runStatementListScenario(bench: StatementListBench): Promise<ScenarioResult> {
  const { settings, log } = bench;
  const db = await createBenchDatabase(bench.baseUrl);
  const servers: HttpProcess[] = [];
  try {
    // The list reads no revenue: the smallest data set with every referral.
    await seedDatabase(db.url, { ...bench.size, revenueLines: Math.min(bench.size.revenueLines, 20_000) });
    const started = Date.now();
    const statements = await seedStatements(db.url);
    log(`scenario 16: ${statements.toLocaleString('en-US')} statements in ${PERIODS} periods written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    log(`scenario 16: GET statements, status=issued, one of the last ${RECENT} periods, pages of 50 (${settings.connections} connections)`);
    const ours = await startHttpProcess(bench.server, await bench.serverEnv(db.url), '/readyz', 'server-statements', { logFile: bench.logFile });
    servers.push(ours);
    const baseline = await startHttpProcess('bench/baseline-server.ts', { DATABASE_URL: db.url }, '/healthz', 'baseline-server-statements');
    servers.push(baseline);
    const headers = { authorization: `Bearer ${bench.adminKey}` };
    const target = (server: HttpProcess) => ({ url: server.url, pid: server.pid, headers, connections: settings.connections, next: listStatements(bench.size) });
    const { ours: a, baseline: b } = await compare(target(ours), target(baseline), settings);
    for (const [who, r] of [['ours', a], ['baseline', b]] as const) {
      if (r.failures > 0) throw new Error(`scenario 16: ${who} had ${r.failures} failed requests (${JSON.stringify(r.statusCodes)})`);
    }
    const ratio = a.requestsPerSecond / b.requestsPerSecond;
    return {
      id: 16,
      name: 'GET statements filtered by status and period, a page of 50 with total',
      unit: 'req/s',
      ours: a.requestsPerSecond,
      baseline: b.requestsPerSecond,
      ratio,
      target: `ratio ≥ ${TARGET}`,
      met: ratio >= TARGET,
      details: {
        statements,
        'p50 ms': a.p50Ms,
        'p99 ms': a.p99Ms,
        'baseline p99 ms': b.p99Ms,
        'CPU µs/request': a.cpuMicrosPerRequest,
        'baseline CPU µs/request': b.cpuMicrosPerRequest,
        requests: a.completed,
      },
    };
  } finally {
    for (const s of servers) await s.stop();
    await db.drop();
  }
}
