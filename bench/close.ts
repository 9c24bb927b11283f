import { createDb, dialectOf } from '../src/db';
import { migrateLatest } from '../migrations';
import { seedPortfolio } from '../test/helpers/portfolio';
import { createBenchDatabase } from './lib/database';
import { runNodeScript } from './lib/processes';

/**
 * npm run bench:close — the month-end close (SPEC §16) of a period against a bare SQL aggregation
 * of the same statement lines, on the same database (DATABASE_URL: PostgreSQL; default SQLite).
 * The target is 1 M lines; BENCH_CLOSE_OWNERS × BENCH_CLOSE_REFERRERS × BENCH_CLOSE_LINES
 * revenue lines × referrals (default 40 × 20 × 250 ≈ 200,000 pairs) keeps a run within minutes on
 * a shared 2-core machine. The close runs as `npm run close` does (its own process, its heap
 * flags), so its time includes the process's start (about a second through tsx); the aggregation
 * is one query from this process.
 */
const owners = Number(process.env.BENCH_CLOSE_OWNERS ?? 40);
const referrers = Number(process.env.BENCH_CLOSE_REFERRERS ?? 20);
const linesPerContract = Number(process.env.BENCH_CLOSE_LINES ?? 250);

async function main(): Promise<void> {
  const database = await createBenchDatabase(process.env.DATABASE_URL);
  const db = createDb(database.url);
  try {
    await migrateLatest(db);
    await seedPortfolio(db, { owners, referrers, linesPerContract, currencies: ['EUR', 'USD', 'JPY'] });
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'silent' };
    const settle = await runNodeScript('src/cli/settle.ts', ['--through', '2026-10-31'], env, 3_600_000, 'close-settle');
    if (settle.code !== 0) throw new Error(`settle failed: ${settle.stderr}`);
    await db('statements').where({ status: 'issued' }).update({ status: 'accepted', accepted_by: 'bench' });
    const [counted] = await db('statement_lines').count({ n: '*' });
    const lines = Number(counted?.n ?? 0);

    const sum = dialectOf(db) === 'postgres' ? 'SUM(l.floor_minor)' : 'SUM(CAST(l.floor_minor AS INTEGER))';
    const aggregate = async () => {
      const started = process.hrtime.bigint();
      await db.raw(
        `SELECT LEAST_PAIR.a, LEAST_PAIR.b, LEAST_PAIR.currency, SUM(LEAST_PAIR.amount) FROM (
           SELECT CASE WHEN s.payer_id < s.referrer_id THEN s.payer_id ELSE s.referrer_id END AS a,
                  CASE WHEN s.payer_id < s.referrer_id THEN s.referrer_id ELSE s.payer_id END AS b,
                  s.currency, s.payer_id, ${sum} AS amount
           FROM statement_lines l JOIN statements s ON s.id = l.statement_id
           WHERE s.period = '2026-10' AND NOT EXISTS (SELECT 1 FROM held_lines h WHERE h.statement_line_id = l.id)
           GROUP BY s.payer_id, s.referrer_id, s.currency) LEAST_PAIR
         GROUP BY LEAST_PAIR.a, LEAST_PAIR.b, LEAST_PAIR.currency`,
      );
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    await aggregate();
    const baseline = Math.min(await aggregate(), await aggregate(), await aggregate());

    const close = await runNodeScript('src/cli/close.ts', ['--period', '2026-10'], env, 3_600_000, 'close');
    if (close.code !== 0) throw new Error(`close failed (${close.code}): ${close.stdout}${close.stderr}`);
    const [nettedCount] = await db('netted_lines').count({ netted: '*' });
    const result = {
      database: dialectOf(db),
      statementLines: lines,
      nettedLines: Number(nettedCount?.netted ?? 0),
      closeSeconds: Number(close.seconds.toFixed(2)),
      closePeakRssMb: Math.round(close.peakRssMb),
      aggregationSeconds: Number(baseline.toFixed(3)),
      ratio: Number((close.seconds / baseline).toFixed(1)),
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await db.destroy();
    await database.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
