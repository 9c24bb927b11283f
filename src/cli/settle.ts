import { Command, InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';
import { BusinessCalendar, systemClock } from '../clock';
import { loadConfig } from '../config';
import { createDb } from '../db';
import { isValidIsoDate } from '../domain/dates';
import { createLogger } from '../logger';
import type { RunRecord } from '../repositories/settlement-run.repository';
import { presentDryRun, presentRun } from '../representations/settlement';
import { createServices } from '../services';
import type { RunProgress } from '../services/settlement.service';
import { fillArchiveDays } from '../services/archive-days';
import { systemActor } from '../services/unit-of-work';
import { migrateLatest } from '../../migrations';
import { runCommand } from './run';

/**
 * The nightly job: npm run settle -- [--through yyyy-MM-dd] [--dry-run] [--workers N] [--join]
 * The same service as POST /v1/settlement-runs. A run works in partitions that commit one by one:
 * killed at any point, it is resumed by the next settle (this command or the API), which then
 * does its own. While another settle holds a live run this one answers run-in-progress, unless
 * it joins that run (--join) to share its partitions.
 */
const program = new Command()
  .name('settle')
  .description('Settle all revenue that has become billable, and print a summary.')
  .option('--through <date>', 'settle revenue lines ending on or before this day (default and latest: yesterday in BUSINESS_TIMEZONE)', (v) => {
    if (!isValidIsoDate(v)) throw new InvalidArgumentError('must be a date in the form yyyy-MM-dd');
    return v;
  })
  .option('--dry-run', 'compute the run and print its summary (statements, lines, totals) without writing anything')
  .option('--workers <n>', 'partitions worked on at once by this process (default 1)', (v) => {
    if (!/^[1-9]\d?$/.test(v)) throw new InvalidArgumentError('must be a whole number from 1 to 99');
    return Number(v);
  })
  .option('--join', 'work on the partitions of the run that is running (another process holds and finalizes it)')
  .parse();
const options = program.opts<{ through?: string; dryRun?: boolean; workers?: number; join?: boolean }>();

runCommand(async () => {
  const config = loadConfig();
  const db = createDb(config.databaseUrl, { lockWaitMs: config.sqliteLockWaitMs });
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  try {
    await migrateLatest(db);
    const calendar = new BusinessCalendar(systemClock, config.businessTimeZone);
    await fillArchiveDays(db, calendar);
    const services = createServices({
      db,
      calendar,
      logger,
      partitionLines: config.settlementPartitionLines,
      statementAcceptDays: config.statements.acceptDays,
    });
    const progress = progressReporter();
    const execution = { workers: options.workers, onProgress: progress.update, onFinalizing: progress.finalizing };

    if (options.join) {
      const joined = await services.settlement.join(execution);
      progress.stop();
      if (!joined) console.log('no settlement run is running; nothing to join');
      else console.log(`joined run ${joined.run.id} (through ${joined.run.through}): settled ${joined.partitions} of its partitions`);
      return 0;
    }
    if (options.dryRun) {
      const dry = await services.settlement.dryRun({ through: options.through });
      console.log(`settling revenue through ${dry.through} (dry run: nothing will be written)`);
      const summary = await dry.summary(progress.update);
      progress.stop();
      console.log('dry run, nothing written:');
      printSummary(presentDryRun(summary));
      return 0;
    }
    const through = services.settlement.resolveThrough(options.through);
    console.log(`settling revenue through ${through}`);
    const run = await services.settlement.run({ through }, systemActor('settle command'), {
      ...execution,
      onResumed: (r) => console.log(`resuming run ${r.id} (through ${r.through}), interrupted after ${r.partitionsDone} of ${r.partitionsTotal} partitions`),
    });
    progress.stop();
    console.log(`run ${run.id}:`);
    printSummary(presentRun(run));
    // Statements issued STATEMENT_ACCEPT_DAYS days ago are accepted here too, should no server be running (SPEC §15).
    const accepted = await services.statementAcceptance.acceptDue();
    if (accepted > 0) console.log(`  statements accepted automatically (issued ${config.statements.acceptDays} days ago): ${accepted}`);
    return reportFailures(run);
  } finally {
    await db.destroy();
  }
});

function printSummary(run: { statementCount: number; lineCount: number; totals: { currency: string; amount: string }[] }): void {
  console.log(`  statements: ${run.statementCount}`);
  console.log(`  lines:      ${run.lineCount}`);
  for (const t of run.totals) console.log(`  total ${t.currency}: ${t.amount}`);
  if (run.totals.length === 0) console.log('  nothing new to settle');
}

/** Partitions that failed left their pairs unsettled (the next run tries them again): the job must notice. */
function reportFailures(run: RunRecord): number {
  if (run.partitionsFailed === 0) return 0;
  console.error(`${run.partitionsFailed} partition(s) failed and were left out; their revenue stays unsettled for the next run (see the log)`);
  return 2;
}

/** A bar on a terminal; otherwise (cron, logs) a line at every tenth of the way. */
function progressReporter(): { update: (p: RunProgress) => void; finalizing: (done: number, total: number) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ stream: process.stderr, format: 'settling [{bar}] {percentage}% | {value}/{total} partitions | {eta}s left' });
    let started = false;
    return {
      update(p) {
        if (!started) {
          bar.start(p.partitionsTotal, 0);
          started = true;
        }
        bar.update(p.partitionsDone);
      },
      finalizing: (done, total) => {
        if (done === 0) process.stderr.write(`\nfinalizing ${total} statements\n`);
      },
      stop: () => started && bar.stop(),
    };
  }
  let lastTenth = -1;
  return {
    update(p) {
      const tenth = p.partitionsTotal === 0 ? 10 : Math.floor((p.partitionsDone * 10) / p.partitionsTotal);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        process.stderr.write(`progress: ${p.partitionsDone}/${p.partitionsTotal} partitions\n`);
      }
    },
    finalizing: (done, total) => process.stderr.write(`finalize: ${done}/${total} statements\n`),
    stop: () => undefined,
  };
}
