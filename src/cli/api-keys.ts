import { Command, InvalidArgumentError } from 'commander';
import { BusinessCalendar, systemClock } from '../clock';
import { loadConfig } from '../config';
import { ROLES, type Role } from '../domain/access';
import { createDb, type Db } from '../db';
import { createServices, type Services } from '../services';
import { systemActor } from '../services/unit-of-work';
import { migrateLatest } from '../../migrations';
import { runCommand } from './run';

/**
 * npm run api-keys -- create --name billing-nordics --role write --bunit 3
 * npm run api-keys -- list [--all]
 * npm run api-keys -- revoke 5
 */
const positiveInt = (v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('must be a positive integer');
  return Number(v);
};

async function withServices<T>(body: (services: Services) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db: Db = createDb(config.databaseUrl);
  try {
    await migrateLatest(db);
    return await body(createServices({ db, calendar: new BusinessCalendar(systemClock, config.businessTimeZone) }));
  } finally {
    await db.destroy();
  }
}

const actor = systemActor('api-keys command');
const program = new Command().name('api-keys').description('Create, list and revoke API keys.');

program
  .command('create')
  .requiredOption('--name <name>', 'a name that says who uses the key')
  .requiredOption('--role <role>', 'read, write, approver or admin')
  .option('--bunit <id>', 'a business unit the key may act for (repeat for several; not for admin)', (v, acc: number[]) => [...acc, positiveInt(v)], [])
  .action((opts: { name: string; role: string; bunit: number[] }) =>
    runCommand(() =>
      withServices(async (services) => {
        if (!(ROLES as string[]).includes(opts.role)) throw new InvalidArgumentError(`--role must be one of ${ROLES.join(', ')}`);
        if (opts.role !== 'admin' && opts.bunit.length === 0) throw new InvalidArgumentError(`a ${opts.role} key needs --bunit`);
        const { key, secret } = await services.apiKeys.create(
          { name: opts.name, role: opts.role as Role, bunitIds: opts.role === 'admin' ? undefined : opts.bunit },
          actor,
        );
        console.log(`created key ${key.id} (${key.name}, ${key.role}${key.bunitIds ? `, business units ${key.bunitIds.join(', ')}` : ''})`);
        console.log('the secret, shown this once:');
        console.log(secret);
      }),
    ),
  );

program
  .command('list')
  .option('--all', 'include revoked keys')
  .action((opts: { all?: boolean }) =>
    runCommand(() =>
      withServices(async (services) => {
        const page = await services.apiKeys.list(
          { revoked: opts.all ? 'include' : 'exclude' },
          { field: 'id', descending: false },
          { limit: 10_000, offset: 0 },
        );
        for (const k of page.rows) {
          const scope = k.bunitIds === null ? 'all business units' : `business units ${k.bunitIds.join(', ')}`;
          console.log(`${k.id}\t${k.name}\t${k.role}\t${scope}\tcreated ${k.createdAt}${k.revokedAt ? `\trevoked ${k.revokedAt}` : ''}`);
        }
        if (page.rows.length === 0) console.log('no keys');
      }),
    ),
  );

program
  .command('revoke <id>')
  .action((id: string) =>
    runCommand(() =>
      withServices(async (services) => {
        await services.apiKeys.revoke(positiveInt(id), actor);
        console.log(`revoked key ${id}`);
      }),
    ),
  );

program.parse();
