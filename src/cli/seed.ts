import { loadConfig } from '../config';
import { createDb } from '../db';
import { migrateLatest } from '../../migrations';
import { seed } from '../../seeds/demo';
import { commandLine, runCommand } from './run';

/** npm run seed: demo business units, contracts and referrals (skipped when data exists). */
commandLine('seed', 'Add demo business units, contracts, referrals and revenue to the database of DATABASE_URL (migrated first), if it holds no business unit yet.').parse();

runCommand(async () => {
  const db = createDb(loadConfig().databaseUrl);
  try {
    await migrateLatest(db);
    const existing = await db('business_units').count({ n: '*' }).first();
    if (Number(existing?.n ?? 0) > 0) {
      console.log('the database already holds business units; demo data not added');
      return;
    }
    await seed(db);
    console.log('demo data added: 4 business units, 3 contracts, 4 referrals, 3 revenue lines');
  } finally {
    await db.destroy();
  }
});
