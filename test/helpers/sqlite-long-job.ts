import { createDb, transaction, yieldToWaitingWriters } from '../../src/db';

/**
 * A long job on a SQLite file, as the settle command is: one short write transaction after
 * another, each holding the write lock for `holdMs`, for `runMs`; between two of them it yields to
 * waiting writers (the marker-file protocol, src/db/sqlite.ts) or, with `no-yield`, only to its
 * own event loop. Prints `ready` once it holds the lock for the first time.
 *
 *   tsx test/helpers/sqlite-long-job.ts FILE RUN_MS HOLD_MS yield|no-yield
 */
const [file, runMs, holdMs, mode] = process.argv.slice(2);
const db = createDb(`sqlite:${file}`);

async function main(): Promise<void> {
  const until = Date.now() + Number(runMs);
  let first = true;
  while (Date.now() < until) {
    await transaction(db, async (trx) => {
      await trx('job_rows').insert({ at: Date.now() });
      if (first) console.log('ready');
      first = false;
      // The work of a partition: the lock is held while it computes.
      const busyUntil = Date.now() + Number(holdMs);
      while (Date.now() < busyUntil);
    });
    if (mode === 'yield') await yieldToWaitingWriters(db.client);
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await db.destroy();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
