import { loadConfig } from '../config';
import { createDb } from '../db';
import { migrateLatest } from '../../migrations';
import { commandLine, runCommand } from './run';

/** npm run migrate: applies pending migrations to DATABASE_URL. */
commandLine('migrate', 'Apply the pending migrations to the database of DATABASE_URL.').parse();

runCommand(async () => {
  const db = createDb(loadConfig().databaseUrl);
  try {
    const applied = await migrateLatest(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
  } finally {
    await db.destroy();
  }
});
