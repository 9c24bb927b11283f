import { Command, InvalidArgumentError } from 'commander';
import { BusinessCalendar, systemClock } from '../clock';
import { loadConfig } from '../config';
import { createDb } from '../db';
import { ApiError } from '../domain/errors';
import { isPeriod } from '../domain/netting';
import { createLogger } from '../logger';
import { presentNetting } from '../representations/period';
import { createServices } from '../services';
import { systemActor } from '../services/unit-of-work';
import { migrateLatest } from '../../migrations';
import { runCommand } from './run';

/**
 * The month-end job: npm run close -- --period yyyy-MM
 * The same service as POST /v1/periods/{period}/close. Exit 0 when the period is closed (now or
 * before), 2 when it is not ready (the reasons are printed), 1 on any other failure. A close that
 * was killed is finished by the next one.
 */
const program = new Command()
  .name('close')
  .description('Close a period (a month): net what each pair of business units owes, write the journals, mark the period closed.')
  .requiredOption('--period <yyyy-MM>', 'the month to close', (v) => {
    if (!isPeriod(v)) throw new InvalidArgumentError('must be a month in the form yyyy-MM');
    return v;
  })
  .option('--verbose', 'print every step (each journal)')
  .exitOverride((err) => {
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2);
  })
  .parse();
const options = program.opts<{ period: string; verbose?: boolean }>();

runCommand(async () => {
  const config = loadConfig();
  const db = createDb(config.databaseUrl, { lockWaitMs: config.sqliteLockWaitMs });
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  try {
    await migrateLatest(db);
    const calendar = new BusinessCalendar(systemClock, config.businessTimeZone);
    const services = createServices({ db, calendar, logger });
    console.log(`closing period ${options.period}`);
    let period;
    // The close's own time (the service call), printed for the bench: not the process's start.
    const started = process.hrtime.bigint();
    try {
      period = await services.periods.close(options.period, systemActor('close command'), {
        onStep: (s) => {
          if (s.step === 'claimed') console.log(`claimed: ${s.nettings} netting(s)`);
          else if (s.step === 'resumed') console.log('resuming the close that was under way');
          else if (options.verbose && s.step === 'journal') console.log(`journal of business unit ${s.bunitId} in ${s.currency}`);
        },
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'period-not-ready') {
        console.error(`period ${options.period} is not ready to close:`);
        for (const e of err.errors ?? []) console.error(`  - ${e.message}`);
        return 2;
      }
      throw err;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`period ${period.period}: ${period.status} (${period.statementCount} statements, ${period.openDisputeCount} open disputes)`);
    for (const n of (await services.nettings.nettingsOf(options.period)).map(presentNetting)) {
      const who = n.payer ? `${n.payer.code} pays ${n.payee!.code}` : 'even';
      console.log(`  netting ${n.id} ${n.currency} ${n.parties[0]!.bunit.code} owes ${n.parties[0]!.owes}, ${n.parties[1]!.bunit.code} owes ${n.parties[1]!.owes}: ${who} ${n.amount}`);
    }
    // Last, so that a reader of the tail of a long output finds it.
    console.log(`closed in ${seconds.toFixed(3)} s`);
    return 0;
  } finally {
    await db.destroy();
  }
});
