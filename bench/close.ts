import crypto from 'node:crypto';
import { createDb, dialectOf } from '../src/db';
import { migrateLatest } from '../migrations';
import { seedPortfolio } from '../test/helpers/portfolio';
import { holdLines } from '../test/helpers/period-close';
import { createBenchDatabase } from './lib/database';
import { driveUntil, type LoadResult, type Target } from './lib/load';
import { freePort, runNodeScript, startHttpProcess } from './lib/processes';
import type { ScenarioResult } from './lib/report';

/**
 * Scenario 17 (`npm run bench` runs it; `npm run bench:close` alone): the month-end close (SPEC
 * §16) of a period of about 1 M statement lines, on a fresh database of its own (DATABASE_URL:
 * PostgreSQL; default SQLite).
 *
 * A portfolio of BENCH_CLOSE_OWNERS × BENCH_CLOSE_REFERRERS × BENCH_CLOSE_LINES revenue lines ×
 * referrals (default 40 × 20 × 1600 ≈ 1.28 M pairs, ≈ 1 M statement lines) is seeded, settled
 * through 2026-10-31 by `npm run settle`, BENCH_CLOSE_HELD lines (default 200) are put in open
 * disputes, and every statement is accepted. Then:
 *
 * - the baseline: a bare SQL aggregation of the period's lines per pair and currency (held lines
 *   out), one GROUP BY query from this process, the best of three after a warm-up;
 * - the close: `npm run close -- --period 2026-10` as its own process with its heap flags. Its time
 *   is the one the command prints (the service call, from the start of the close to the period
 *   closed), not the process's start through tsx; the process's wall time is reported beside it.
 *   Its peak RSS is the process's (VmHWM);
 * - the API during the close: a server process on the same database answers GET one referral and
 *   a list page of referrals at a steady rate from before the close command starts until it exits;
 *   p99 and errors, against the same load for BENCH_CLOSE_QUIET seconds before (the baseline).
 *
 * Targets (issue 25): close ≤ 2 × the aggregation, peak RSS ≤ 300 MB, p99 ≤ 250 ms with no errors.
 */
const RATIO_LIMIT = 2;
const RSS_LIMIT_MB = 300;
const P99_LIMIT_MS = 250;
const GET_RATE = 100;
const LIST_RATE = 20;

export interface CloseBench {
  /** DATABASE_URL of the server to create the bench's database on (none: SQLite). */
  baseUrl: string | undefined;
  /** The server script: dist/server.js (built) from npm run bench, src/server.ts (tsx) alone. */
  server: string;
  log: (message: string) => void;
}

export async function runCloseScenario(bench: CloseBench): Promise<ScenarioResult> {
  const owners = Number(process.env.BENCH_CLOSE_OWNERS ?? 40);
  const referrers = Number(process.env.BENCH_CLOSE_REFERRERS ?? 20);
  const linesPerContract = Number(process.env.BENCH_CLOSE_LINES ?? 1600);
  const heldCount = Number(process.env.BENCH_CLOSE_HELD ?? 200);
  const quietSeconds = Number(process.env.BENCH_CLOSE_QUIET ?? 5);
  const { log } = bench;
  const database = await createBenchDatabase(bench.baseUrl);
  const db = createDb(database.url);
  try {
    await migrateLatest(db);
    await seedPortfolio(db, { owners, referrers, linesPerContract, currencies: ['EUR', 'USD', 'JPY'] });
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'silent' };
    log(`close: settling ${owners} × ${referrers} × ${linesPerContract} revenue lines × referrals`);
    const settle = await runNodeScript('src/cli/settle.ts', ['--through', '2026-10-31'], env, 3_600_000, 'close-settle');
    if (settle.code !== 0) throw new Error(`settle failed: ${settle.stderr}`);
    const [counted] = await db('statement_lines').count({ n: '*' });
    const lines = Number(counted?.n ?? 0);
    // Some lines in open disputes, one dispute per line, spread over the statements.
    const candidates: { id: number; statement_id: number; payer_id: number }[] = await db('statement_lines as l')
      .join('statements as s', 's.id', 'l.statement_id')
      .select('l.id', 'l.statement_id', 's.payer_id')
      .whereRaw('l.id % ? = 0', [Math.max(1, Math.floor(lines / Math.max(1, heldCount)))])
      .orderBy('l.id')
      .limit(heldCount);
    for (const c of candidates) await holdLines(db, c.statement_id, c.payer_id, [c.id]);
    await db('statements').where({ status: 'issued' }).update({ status: 'accepted', accepted_by: 'bench' });
    log(`close: ${lines.toLocaleString('en-US')} statement lines, ${candidates.length} held`);

    const sum = dialectOf(db) === 'postgres' ? 'SUM(l.floor_minor)' : 'SUM(CAST(l.floor_minor AS INTEGER))';
    const aggregate = async () => {
      const started = process.hrtime.bigint();
      await db.raw(
        `SELECT pairs.a, pairs.b, pairs.currency, SUM(pairs.amount) FROM (
           SELECT CASE WHEN s.payer_id < s.referrer_id THEN s.payer_id ELSE s.referrer_id END AS a,
                  CASE WHEN s.payer_id < s.referrer_id THEN s.referrer_id ELSE s.payer_id END AS b,
                  s.currency, s.payer_id, ${sum} AS amount
           FROM statement_lines l JOIN statements s ON s.id = l.statement_id
           WHERE s.period = '2026-10' AND NOT EXISTS (SELECT 1 FROM held_lines h WHERE h.statement_line_id = l.id)
           GROUP BY s.payer_id, s.referrer_id, s.currency) pairs
         GROUP BY pairs.a, pairs.b, pairs.currency`,
      );
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    await aggregate();
    const aggregation = Math.min(await aggregate(), await aggregate(), await aggregate());

    const adminKey = `bench-admin-${crypto.randomBytes(24).toString('hex')}`;
    const server = await startHttpProcess(
      bench.server,
      { DATABASE_URL: database.url, ADMIN_API_KEY: adminKey, BUSINESS_TIMEZONE: 'UTC', LOG_LEVEL: 'silent', METRICS_PORT: String(await freePort()) },
      '/readyz',
      'server-close',
    );
    let close;
    let quiet: LoadResult[];
    let during: LoadResult[];
    try {
      const referrals: { id: number; bunit_id: number }[] = await db('referrals as r').join('contracts as c', 'c.id', 'r.contract_id').select('r.id', 'c.bunit_id').orderBy('r.id');
      const unitIds = [...new Set(referrals.map((r) => r.bunit_id))];
      let i = 0;
      let j = 0;
      const headers = { authorization: `Bearer ${adminKey}` };
      const gets: Target = {
        url: server.url,
        pid: server.pid,
        headers,
        connections: 4,
        next: () => {
          const r = referrals[(i++ * 7919) % referrals.length]!;
          return { method: 'GET', path: `/v1/bunits/${r.bunit_id}/referrals/${r.id}` };
        },
      };
      const lists: Target = {
        url: server.url,
        pid: server.pid,
        headers,
        connections: 2,
        next: () => ({ method: 'GET', path: `/v1/bunits/${unitIds[j++ % unitIds.length]}/referrals?limit=50` }),
      };
      const load = (until: Promise<unknown>) => Promise.all([driveUntil(gets, GET_RATE, until), driveUntil(lists, LIST_RATE, until)]);
      quiet = await load(new Promise((r) => setTimeout(r, quietSeconds * 1000)));
      const closing = runNodeScript('src/cli/close.ts', ['--period', '2026-10'], env, 3_600_000, 'close');
      during = await load(closing);
      close = await closing;
    } finally {
      await server.stop();
    }
    if (close.code !== 0) throw new Error(`close failed (${close.code}): ${close.stdout}${close.stderr}`);
    const reported = /closed in ([\d.]+) s/.exec(close.stdout);
    if (!reported) throw new Error(`the close did not report its time:\n${close.stdout}`);
    const closeSeconds = Number(reported[1]);

    // What the close netted: every line of the netted statements but those held at the close.
    const [netted] = await db('statement_lines as l')
      .join('netting_statements as ns', 'ns.statement_id', 'l.statement_id')
      .whereNotExists(db('held_at_close as c').select(db.raw('1')).whereRaw('c.statement_line_id = l.id'))
      .count({ n: '*' });
    const [nettings] = await db('nettings').count({ n: '*' });
    const ratio = closeSeconds / aggregation;
    const p99 = Math.max(...during.map((r) => r.p99Ms));
    const quietP99 = Math.max(...quiet.map((r) => r.p99Ms));
    const errors = [...during, ...quiet].reduce((n, r) => n + r.failures, 0);
    const statusCodes = during.map((r) => JSON.stringify(r.statusCodes)).join(' ');
    log(
      `close: ${closeSeconds.toFixed(3)} s (process ${close.seconds.toFixed(2)} s), aggregation ${aggregation.toFixed(3)} s, ratio ${ratio.toFixed(2)}, ` +
        `peak RSS ${close.peakRssMb.toFixed(0)} MB, API p99 ${p99} ms (before ${quietP99} ms), errors ${errors}`,
    );
    return {
      id: 17,
      name: `month-end close of ${(lines / 1e6).toFixed(2)} M statement lines (baseline: a bare SQL aggregation of them); API p99 during it`,
      unit: 's',
      ours: closeSeconds,
      baseline: aggregation,
      ratio,
      target: `ratio ≤ ${RATIO_LIMIT}, peak RSS ≤ ${RSS_LIMIT_MB} MB, API p99 ≤ ${P99_LIMIT_MS} ms, no errors`,
      met: ratio <= RATIO_LIMIT && close.peakRssMb <= RSS_LIMIT_MB && p99 <= P99_LIMIT_MS && errors === 0,
      binding: true,
      details: {
        'statement lines': lines,
        'held lines': candidates.length,
        'lines netted': Number(netted?.n ?? 0),
        nettings: Number(nettings?.n ?? 0),
        'close s': Number(closeSeconds.toFixed(3)),
        'close process s': Number(close.seconds.toFixed(2)),
        'aggregation s': Number(aggregation.toFixed(3)),
        'close peak RSS MB': Math.round(close.peakRssMb),
        'API p99 ms': p99,
        'API p50 ms': Math.max(...during.map((r) => r.p50Ms)),
        'API requests': during.reduce((n, r) => n + r.completed, 0),
        'API errors': errors,
        'API status codes': statusCodes,
        'before: API p99 ms': quietP99,
      },
    };
  } finally {
    await db.destroy();
    await database.drop();
  }
}

/** npm run bench:close: scenario 17 alone, its figures printed. */
if (process.argv[1]?.endsWith('close.ts') && process.argv[1].includes('bench')) {
  const started = Date.now();
  const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
  runCloseScenario({ baseUrl: process.env.DATABASE_URL, server: process.env.BENCH_CLOSE_SERVER ?? 'src/server.ts', log })
    .then((result) => {
      console.log(JSON.stringify({ database: process.env.DATABASE_URL ? 'postgres' : 'sqlite', ...result }, null, 2));
      console.log(`${result.met ? 'met' : 'NOT met'}: ${result.target}`);
      if (!result.met) process.exitCode = 1;
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
