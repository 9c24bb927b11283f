import type { Express } from 'express';
import type { Knex } from 'knex';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app';
import type { WebhookSettings } from '../../src/config';
import type { Services } from '../../src/services';
import type { KeyCache } from '../../src/services/api-key.service';
import { TestClock } from './clock';
import { conformance } from './conformance';
import { resetDatabase, testDatabases, type TestDatabase } from './databases';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef0123456789abcdef';

export interface ApiContext {
  database: TestDatabase['name'];
  db: Knex;
  url: string;
  app: Express;
  services: Services;
  keys: KeyCache;
  clock: TestClock;
  /** Requests with the admin key and JSON. */
  get(path: string): request.Test;
  post(path: string, body?: unknown): request.Test;
  put(path: string, body?: unknown): request.Test;
  del(path: string): request.Test;
  /** The same without any Authorization header. */
  anonymous: ReturnType<typeof request>;
  /** Requests with another API key (its secret). */
  as(secret: string): KeyedAgent;
  /** Creates an API key through the API; its id, name and secret. */
  key(name: string, role: 'read' | 'write' | 'approver' | 'admin', bunitIds?: number[]): Promise<{ id: number; name: string; secret: string }>;
}

export interface KeyedAgent {
  get(path: string): request.Test;
  post(path: string, body?: unknown): request.Test;
  put(path: string, body?: unknown): request.Test;
  del(path: string): request.Test;
}

const METHODS = new Set(['get', 'post', 'put', 'delete', 'del', 'patch', 'head', 'options']);

/**
 * The agent every API suite talks through: each response is checked against openapi.yaml (see
 * ./conformance.ts), so an undocumented status, header or field fails the test that caused it.
 */
function conformingAgent(agent: ReturnType<typeof request>): ReturnType<typeof request> {
  const checker = conformance();
  return new Proxy(agent, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !METHODS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        (value.apply(target, args) as request.Test).expect((res) => {
          const req = (res as unknown as { req: { method: string; path: string } }).req;
          checker.assert({ method: req.method, url: req.path, status: res.status, headers: res.headers, text: res.text ?? '' });
        });
    },
  });
}

/**
 * Declares `describe('<title> [sqlite]')` (and `[postgres]`) with a fresh migrated database, an
 * app on a test clock (2026-11-23T12:00Z unless a test moves it), emptied before every test. The
 * business time zone is UTC unless `options.businessTimeZone` says otherwise.
 */
export interface ApiOptions {
  businessTimeZone?: string;
  approvalMode?: 'none' | 'maker-checker';
  /** Events and webhooks (SPEC §13): delivery is never started by the app here (a test starts a dispatcher of its own). */
  webhooks?: Partial<WebhookSettings>;
}

export function describeApi(title: string, body: (ctx: ApiContext) => void, options: ApiOptions = {}): void {
  for (const database of testDatabases) {
    describe(`${title} [${database.name}]`, function () {
      const ctx = { database: database.name, clock: new TestClock() } as ApiContext;
      let drop: () => Promise<void>;

      before(async function () {
        const database_ = await database.create();
        drop = database_.drop;
        ctx.db = database_.db;
        ctx.url = database_.url;
        const created = createApp({
          db: database_.db,
          clock: ctx.clock,
          businessTimeZone: options.businessTimeZone ?? 'UTC',
          adminApiKey: ADMIN_KEY,
          logger: pino({ level: 'silent' }),
          keyPollMs: 0,
          approvalMode: options.approvalMode ?? 'none',
          webhooks: { ...options.webhooks, delivery: false },
        });
        ctx.app = created.app;
        ctx.services = created.services;
        ctx.keys = created.keys;
        const agent = conformingAgent(request(created.app));
        const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
        ctx.anonymous = agent;
        ctx.get = (p) => agent.get(p).set(auth);
        ctx.post = (p, b) => (b === undefined ? agent.post(p).set(auth) : agent.post(p).set(auth).send(b as object));
        ctx.put = (p, b) => (b === undefined ? agent.put(p).set(auth) : agent.put(p).set(auth).send(b as object));
        ctx.del = (p) => agent.delete(p).set(auth);
        ctx.as = (secret) => {
          const with_ = { Authorization: `Bearer ${secret}` };
          return {
            get: (p) => agent.get(p).set(with_),
            post: (p, b) => (b === undefined ? agent.post(p).set(with_) : agent.post(p).set(with_).send(b as object)),
            put: (p, b) => (b === undefined ? agent.put(p).set(with_) : agent.put(p).set(with_).send(b as object)),
            del: (p) => agent.delete(p).set(with_),
          };
        };
        ctx.key = async (name, role, bunitIds) => {
          const res = await ctx.post('/v1/api-keys', { name, role, ...(bunitIds ? { bunitIds } : {}) });
          if (res.status !== 201) throw new Error(`key ${name}: ${res.status} ${JSON.stringify(res.body)}`);
          return { id: res.body.id as number, name, secret: res.body.key as string };
        };
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
