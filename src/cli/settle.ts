import { Command, InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';
import { BusinessCalendar, systemClock } from '../clock';
import { loadConfig } from '../config';
import { createDb } from '../db';
import { isValidIsoDate } from '../domain/dates';
import { presentRun } from '../representations/settlement';
import { createServices } from '../services';
import { systemActor } from '../services/unit-of-work';
import type { RunProgress } from '../services/settlement.service';
import { migrateLatest } from '../../migrations';
import { runCommand } from './run';

/**
 * The nightly job: npm run settle -- [--through yyyy-MM-dd] [--dry-run]
 * The same service as POST /v1/settlement-runs; one transaction, so a failure (or a kill) leaves
 * nothing half-written and exits non-zero.
 */
const program = new Command()
  .name('settle')
  .description('Settle all revenue that has become billable, and print a summary.')
  .option('--through <date>', 'settle revenue lines ending on or before this day (default: yesterday in BUSINESS_TIMEZONE)', (v) => {
    if (!isValidIsoDate(v)) throw new InvalidArgumentError('must be a date in the form yyyy-MM-dd');
    return v;
  })
  .option('--dry-run', 'compute the run and print its summary (statements, lines, totals) without writing anything')
  .parse();
const options = program.opts<{ through?: string; dryRun?: boolean }>();

runCommand(async () => {
  const config = loadConfig();
  const db = createDb(config.databaseUrl);
  try {
    await migrateLatest(db);
    const services = createServices({ db, calendar: new BusinessCalendar(systemClock, config.businessTimeZone) });
    const through = services.settlement.resolveThrough(options.through);
    console.log(`settling revenue through ${through}${options.dryRun ? ' (dry run: nothing will be written)' : ''}`);
    const progress = progressReporter();
    const result = await services.settlement.run({ through, dryRun: options.dryRun }, systemActor('settle command'), progress.update);
    progress.stop();

    const run = presentRun(result.run, result.dryRun);
    console.log(result.dryRun ? 'dry run, nothing written:' : `run ${run.id}:`);
    console.log(`  statements: ${run.statementCount}`);
    console.log(`  lines:      ${run.lineCount}`);
    for (const t of run.totals) console.log(`  total ${t.currency}: ${t.amount}`);
    if (run.totals.length === 0) console.log('  nothing new to settle');
  } finally {
    await db.destroy();
  }
});

/** A bar on a terminal; otherwise (cron, logs) a line at every tenth of the way. */
function progressReporter(): { update: (p: RunProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ stream: process.stderr, format: 'settling [{bar}] {percentage}% | {value}/{total} revenue lines | {eta}s left' });
    let started = false;
    return {
      update(p) {
        if (!started) {
          bar.start(p.totalLines, 0);
          started = true;
        }
        bar.update(p.processedLines);
      },
      stop: () => started && bar.stop(),
    };
  }
  let lastTenth = -1;
  return {
    update(p) {
      const tenth = p.totalLines === 0 ? 10 : Math.floor((p.processedLines * 10) / p.totalLines);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        process.stderr.write(`progress: ${p.processedLines}/${p.totalLines} revenue lines\n`);
      }
    },
    stop: () => undefined,
  };
}
