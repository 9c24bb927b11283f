import type { Express } from 'express';
import type { Knex } from 'knex';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app';
import { adminKeyResolver } from '../../src/http/auth';
import type { Services } from '../../src/services';
import { TestClock } from './clock';
import { resetDatabase, testDatabases, type TestDatabase } from './databases';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef0123456789abcdef';

export interface ApiContext {
  database: TestDatabase['name'];
  db: Knex;
  url: string;
  app: Express;
  services: Services;
  clock: TestClock;
  /** Requests with the admin key and JSON. */
  get(path: string): request.Test;
  post(path: string, body?: unknown): request.Test;
  put(path: string, body?: unknown): request.Test;
  del(path: string): request.Test;
  /** The same without any Authorization header. */
  anonymous: ReturnType<typeof request>;
}

/**
 * Declares `describe('<title> [sqlite]')` (and `[postgres]`) with a fresh migrated database, an
 * app on a test clock (today = 2026-11-23 unless a test moves it), emptied before every test.
 */
export function describeApi(title: string, body: (ctx: ApiContext) => void): void {
  for (const database of testDatabases) {
    describe(`${title} [${database.name}]`, function () {
      const ctx = { database: database.name, clock: new TestClock() } as ApiContext;
      let drop: () => Promise<void>;

      before(async function () {
        const created = await database.create();
        drop = created.drop;
        ctx.db = created.db;
        ctx.url = created.url;
        const { app, services } = createApp({
          db: created.db,
          clock: ctx.clock,
          businessTimeZone: 'UTC',
          resolveKey: adminKeyResolver(ADMIN_KEY),
          logger: pino({ level: 'silent' }),
        });
        ctx.app = app;
        ctx.services = services;
        const agent = request(app);
        const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
        ctx.anonymous = agent;
        ctx.get = (p) => agent.get(p).set(auth);
        ctx.post = (p, b) => (b === undefined ? agent.post(p).set(auth) : agent.post(p).set(auth).send(b as object));
        ctx.put = (p, b) => (b === undefined ? agent.put(p).set(auth) : agent.put(p).set(auth).send(b as object));
        ctx.del = (p) => agent.delete(p).set(auth);
      });

      beforeEach(async function () {
        ctx.clock.set('2026-11-23T12:00:00.000Z');
        await resetDatabase(ctx.db);
      });

      after(async function () {
        await drop?.();
      });

      body(ctx);
    });
  }
}
