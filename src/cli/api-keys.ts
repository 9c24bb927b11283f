import { InvalidArgumentError, Option } from 'commander';
import { BusinessCalendar, systemClock } from '../clock';
import { loadConfig } from '../config';
import { ROLES, type Role } from '../domain/access';
import { createDb, type Db } from '../db';
import { createServices, type Services } from '../services';
import { systemActor } from '../services/unit-of-work';
import { migrateLatest } from '../../migrations';
import { commandLine, runCommand, type OptionNames } from './run';

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
const program = commandLine('api-keys', 'Create, list and revoke API keys (on the database of DATABASE_URL).');

/** The API's names of the fields the options of `create` give. */
const CREATE_OPTIONS: OptionNames = { 'body.name': '--name', 'body.role': '--role', 'body.bunitIds': '--bunit' };

program
  .command('create')
  .description('Create a key and print its secret, once (it is stored only as a hash).')
  .requiredOption('--name <name>', 'a name that says who uses the key')
  .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
  .option('--bunit <id>', 'a business unit the key may act for (repeat for several; not for admin)', (v, acc: number[]) => [...acc, positiveInt(v)], [])
  .action(function (this: typeof program, opts: { name: string; role: Role; bunit: number[] }) {
    if (opts.role !== 'admin' && opts.bunit.length === 0) this.error(`error: a ${opts.role} key needs --bunit <id> (the business units it may act for)`);
    if (opts.role === 'admin' && opts.bunit.length > 0) this.error('error: an admin key acts for every business unit; leave out --bunit');
    runCommand(() =>
      withServices(async (services) => {
        const { key, secret } = await services.apiKeys.create(
          { name: opts.name, role: opts.role, bunitIds: opts.role === 'admin' ? undefined : opts.bunit },
          actor,
        );
        console.log(`created key ${key.id} (${key.name}, ${key.role}${key.bunitIds ? `, business units ${key.bunitIds.join(', ')}` : ''})`);
        console.log('the secret, shown this once:');
        console.log(secret);
      }),
    CREATE_OPTIONS);
  });

program
  .command('list')
  .description('List the keys (never their secrets): id, name, role, business units, when created and revoked.')
  .option('--all', 'include revoked keys')
  .action((opts: { all?: boolean }) =>
    runCommand(() =>
      withServices(async (services) => {
        const page = await services.apiKeys.list(
          { revoked: opts.all ? 'include' : 'exclude' },
          { field: 'id', descending: false },
          { limit: 10_000, offset: 0 },
        );
        if (page.rows.length === 0) {
          console.log('no keys');
          return;
        }
        console.log(['id', 'name', 'role', 'business units', 'created', 'revoked'].join('\t'));
        for (const k of page.rows) {
          const scope = k.bunitIds === null ? 'all' : k.bunitIds.join(',');
          console.log([k.id, k.name, k.role, scope, k.createdAt, k.revokedAt ?? ''].join('\t'));
        }
      }),
    ),
  );

program
  .command('revoke')
  .description('Revoke a key: it is refused from then on (by every running server within a second).')
  .argument('<id>', 'the key\'s id (see list)', positiveInt)
  .action((id: number) =>
    runCommand(() =>
      withServices(async (services) => {
        await services.apiKeys.revoke(id, actor);
        console.log(`revoked key ${id}`);
      }),
    ),
  );

program.parse();
