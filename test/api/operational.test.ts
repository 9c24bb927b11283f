import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import request from 'supertest';
import { createApp, type App } from '../../src/app';
import { createDb } from '../../src/db';
import { ADMIN_KEY, describeApi, type ApiContext } from '../helpers/api';
import { createReferral, expectProblem, referralBody, world } from '../helpers/fixtures';
import { startServer } from '../helpers/server-process';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Log lines written by pino, parsed; the raw text as well, to search for what must never be there. */
function memoryLog() {
  let text = '';
  const logger = pino({ level: 'info' }, { write: (chunk: string) => void (text += chunk) });
  return {
    logger,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A second app on the suite's database and clock, with its own options (an instance beside the first). */
function anotherApp(ctx: ApiContext, options: { rateLimitPerMinute?: number; logger?: pino.Logger } = {}): App {
  return createApp({
    db: ctx.db,
    clock: ctx.clock,
    businessTimeZone: 'UTC',
    adminApiKey: ADMIN_KEY,
    logger: options.logger ?? pino({ level: 'silent' }),
    keyPollMs: 0,
    rateLimitPerMinute: options.rateLimitPerMinute,
  });
}

const asKey = (req: request.Test, secret: string) => req.set('Authorization', `Bearer ${secret}`);

describeApi('operational behaviour (SPEC §7.3, §8)', (ctx) => {
  describe('optimistic concurrency (§7.3)', () => {
    /** Each versioned resource: where it lives and PUT bodies that change it (`edit(n)` differs for every n). */
    async function resources() {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice, { percentage: '10' });
      const contractPath = `/v1/bunits/${owner}/contracts/${contract}`;
      const contractBody = (await ctx.get(contractPath)).body;
      return [
        { name: 'business unit', path: `/v1/bunits/${alice}`, edit: (n: number) => ({ code: 'ALICE', name: `Alice ${n}` }) },
        { name: 'contract', path: contractPath, edit: (n: number) => ({ ...contractBody, name: `Contract ${n}` }) },
        {
          name: 'referral',
          path: `/v1/bunits/${owner}/referrals/${referral.id}`,
          edit: (n: number) => referralBody(contract, alice, { percentage: String(10 + n) }),
        },
      ];
    }

    it('GET and PUT answer a strong ETag that changes with every saved version', async () => {
      for (const r of await resources()) {
        const read = await ctx.get(r.path);
        expect(read.headers.etag, r.name).to.match(/^"[^"]+"$/);
        expect((await ctx.get(r.path)).headers.etag, `${r.name}: stable while unchanged`).to.equal(read.headers.etag);

        const saved = await ctx.put(r.path, r.edit(1)).set('If-Match', read.headers.etag!);
        expect(saved.status, `${r.name}: ${JSON.stringify(saved.body)}`).to.equal(200);
        expect(saved.headers.etag, r.name).to.match(/^"[^"]+"$/);
        expect(saved.headers.etag, r.name).not.to.equal(read.headers.etag);
        expect((await ctx.get(r.path)).headers.etag, r.name).to.equal(saved.headers.etag);

        const again = await ctx.put(r.path, r.edit(2)).set('If-Match', saved.headers.etag!);
        expect(again.status, r.name).to.equal(200);
        expect(again.headers.etag, r.name).not.to.equal(saved.headers.etag);
      }
    });

    it('answers 412 precondition-failed to a PUT or DELETE with a stale If-Match, and changes nothing', async () => {
      for (const r of await resources()) {
        const stale = (await ctx.get(r.path)).headers.etag!;
        expect((await ctx.put(r.path, r.edit(1))).status, r.name).to.equal(200);
        const current = await ctx.get(r.path);

        expectProblem(await ctx.put(r.path, r.edit(2)).set('If-Match', stale), 412, 'precondition-failed');
        expectProblem(await ctx.del(r.path).set('If-Match', stale), 412, 'precondition-failed');

        const after = await ctx.get(r.path);
        expect(after.body, r.name).to.deep.equal(current.body);
        expect(after.body.archivedDate, r.name).to.equal(null);
        expect(after.headers.etag, r.name).to.equal(current.headers.etag);
      }
    });

    it('answers a GET whose If-None-Match names the current ETag with 304 and no body, and with 200 once the object changed', async () => {
      for (const r of await resources()) {
        const read = await ctx.get(r.path);
        const etag = read.headers.etag!;

        const unchanged = await ctx.get(r.path).set('If-None-Match', etag);
        expect(unchanged.status, r.name).to.equal(304);
        expect(unchanged.text ?? '', r.name).to.equal('');
        expect(unchanged.headers.etag, r.name).to.equal(etag);
        expect((await ctx.get(r.path).set('If-None-Match', `"other", ${etag}`)).status, `${r.name}: one of a list`).to.equal(304);
        expect((await ctx.get(r.path).set('If-None-Match', '"other"')).status, `${r.name}: another tag`).to.equal(200);

        expect((await ctx.put(r.path, r.edit(1)).set('If-Match', etag)).status, r.name).to.equal(200);
        const changed = await ctx.get(r.path).set('If-None-Match', etag);
        expect(changed.status, `${r.name}: changed since`).to.equal(200);
        expect(changed.body, r.name).to.deep.equal((await ctx.get(r.path)).body);
        expect(changed.headers.etag, r.name).not.to.equal(etag);
      }
    });

    it("changes a referral's ETag when its contract or referrer changes, as the referral shows their number, code and name", async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice, { percentage: '10' });
      const path = `/v1/bunits/${owner}/referrals/${referral.id}`;
      const before = (await ctx.get(path)).headers.etag!;

      const contractPath = `/v1/bunits/${owner}/contracts/${contract}`;
      const contractBody = (await ctx.get(contractPath)).body;
      expect((await ctx.put(contractPath, { ...contractBody, number: 'C-RENAMED' })).status).to.equal(200);
      const afterContract = await ctx.get(path).set('If-None-Match', before);
      expect(afterContract.status).to.equal(200);
      expect(afterContract.body.contract.number).to.equal('C-RENAMED');
      expect(afterContract.headers.etag).not.to.equal(before);

      expect((await ctx.put(`/v1/bunits/${alice}`, { code: 'ALICE2', name: 'Alice renamed' })).status).to.equal(200);
      const afterReferrer = await ctx.get(path).set('If-None-Match', afterContract.headers.etag!);
      expect(afterReferrer.status).to.equal(200);
      expect(afterReferrer.body.referrer).to.deep.include({ code: 'ALICE2', name: 'Alice renamed' });
      expect(afterReferrer.headers.etag).not.to.equal(afterContract.headers.etag);

      // A change made on the strength of what was read before is refused; with the current ETag it is made.
      const edit = referralBody(contract, alice, { percentage: '12' });
      expectProblem(await ctx.put(path, edit).set('If-Match', before), 412, 'precondition-failed');
      const saved = await ctx.put(path, edit).set('If-Match', afterReferrer.headers.etag!);
      expect(saved.status).to.equal(200);
      expect(saved.headers.etag).to.equal((await ctx.get(path)).headers.etag);
      expect((await ctx.get(path).set('If-None-Match', saved.headers.etag!)).status).to.equal(304);
    });

    it('archives on DELETE with the current ETag', async () => {
      for (const r of (await resources()).reverse()) {
        const current = (await ctx.get(r.path)).headers.etag!;
        expect((await ctx.del(r.path).set('If-Match', current)).status, r.name).to.equal(204);
        expect((await ctx.get(r.path)).body.archivedDate, r.name).to.be.a('string');
      }
    });
  });

  describe('security headers', () => {
    it('sends nosniff and a content security policy, and never X-Powered-By, on success, problem and public responses', async () => {
      const paths = ['/v1/bunits', '/v1/bunits (no key)', '/v1/no-such-thing', '/healthz', '/docs/'];
      const responses = [
        await ctx.get('/v1/bunits'),
        await ctx.anonymous.get('/v1/bunits'),
        await ctx.get('/v1/no-such-thing'),
        await ctx.anonymous.get('/healthz'),
        await ctx.anonymous.get('/docs/'),
      ];
      expect(responses.map((r) => r.status)).to.deep.equal([200, 401, 404, 200, 200]);
      for (const [i, res] of responses.entries()) {
        expect(res.headers['x-content-type-options'], paths[i]).to.equal('nosniff');
        expect(res.headers['content-security-policy'], paths[i]).to.be.a('string');
        expect(res.headers['strict-transport-security'], paths[i]).to.include('max-age=');
        expect(res.headers, paths[i]).not.to.have.property('x-powered-by');
      }
    });

    it('keeps API answers out of every cache and every frame (OWASP REST set); the docs page gets the browser set', async () => {
      const { owner } = await world(ctx);
      const etag = (await ctx.get(`/v1/bunits/${owner}`)).headers.etag as string;
      // Every way an API answer is written (src/http/security-headers.ts): replies, 304, HEAD,
      // an idempotent replay, a streamed answer, and problems from the pipeline, the body parser and routing.
      const answers: [string, number, request.Test | Promise<request.Response>][] = [
        ['GET one', 200, ctx.get(`/v1/bunits/${owner}`)],
        ['HEAD one', 200, ctx.anonymous.head(`/v1/bunits/${owner}`).set('Authorization', `Bearer ${ADMIN_KEY}`)],
        ['GET not modified', 304, ctx.get(`/v1/bunits/${owner}`).set('If-None-Match', etag)],
        ['POST created', 201, ctx.post('/v1/bunits', { code: 'HDRS', name: 'Headers' }).set('Idempotency-Key', 'headers-once')],
        ['POST replayed', 201, ctx.post('/v1/bunits', { code: 'HDRS', name: 'Headers' }).set('Idempotency-Key', 'headers-once')],
        ['POST dry run (streamed)', 200, ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true })],
        ['GET without a key', 401, ctx.anonymous.get('/v1/bunits')],
        ['GET unknown', 404, ctx.get('/v1/bunits/999999')],
        ['GET no such path', 404, ctx.get('/v1/no-such-thing')],
        ['PATCH', 405, ctx.anonymous.patch(`/v1/bunits/${owner}`)],
        ['POST invalid', 400, ctx.post('/v1/bunits', { code: '' })],
        ['POST malformed JSON', 400, ctx.anonymous.post('/v1/bunits').set('Authorization', `Bearer ${ADMIN_KEY}`).set('Content-Type', 'application/json').send('{"code":')],
        ['GET malformed URL', 400, ctx.get('/v1/bunits/%E0%A4%A')],
      ];
      for (const [where, status, pending] of answers) {
        const res = await pending;
        expect(res.status, where).to.equal(status);
        // Each exactly once (a header sent twice would read "a, b" here).
        expect(res.headers['cache-control'], where).to.equal('no-store');
        expect(res.headers['content-security-policy'], where).to.equal("default-src 'none';frame-ancestors 'none'");
        expect(res.headers['x-frame-options'], where).to.equal('DENY');
        expect(res.headers['x-content-type-options'], where).to.equal('nosniff');
        expect(res.headers['cross-origin-resource-policy'], where).to.equal('same-origin');
        expect(res.headers['referrer-policy'], where).to.equal('no-referrer');
        expect(res.headers['strict-transport-security'], where).to.equal('max-age=31536000; includeSubDomains');
        expect(res.headers['x-request-id'], where).to.match(UUID);
      }

      const docs = await ctx.anonymous.get('/docs');
      expect(docs.status).to.equal(200);
      expect(docs.headers['content-security-policy']).to.include("default-src 'self'").and.include("script-src 'self'");
      expect(docs.headers['x-frame-options']).to.equal('SAMEORIGIN');
      expect(docs.headers).not.to.have.property('cache-control');
    });
  });

  describe('request ids', () => {
    it('gives every response an X-Request-Id, a new one per request, and puts it in problem bodies', async () => {
      const responses = [
        await ctx.get('/v1/bunits'),
        await ctx.get('/v1/bunits'),
        await ctx.anonymous.get('/v1/bunits'),
        await ctx.get('/v1/bunits/9999'),
        await ctx.post('/v1/bunits', { code: 'x' }),
        await ctx.anonymous.get('/healthz'),
      ];
      const ids = responses.map((r) => r.headers['x-request-id']);
      for (const id of ids) expect(id).to.match(UUID);
      expect(new Set(ids).size).to.equal(ids.length);
      for (const res of responses.slice(2, 5)) expect(res.body.requestId).to.equal(res.headers['x-request-id']);
    });

    it('echoes a well-formed incoming X-Request-Id and replaces one that is not', async () => {
      const echoed = await ctx.get('/v1/bunits/9999').set('X-Request-Id', 'billing-job.42_retry-1');
      expect(echoed.headers['x-request-id']).to.equal('billing-job.42_retry-1');
      expect(echoed.body.requestId).to.equal('billing-job.42_retry-1');
      for (const bad of ['has spaces in it', 'x'.repeat(129), '<script>']) {
        const res = await ctx.get('/v1/bunits').set('X-Request-Id', bad);
        expect(res.headers['x-request-id'], bad).to.match(UUID);
      }
    });
  });

  describe('rate limit', () => {
    it('answers the 4th request of a key within a minute with 429 rate-limited and Retry-After; other keys and later minutes are unaffected', async () => {
      const secret = (await ctx.post('/v1/api-keys', { name: 'other-admin', role: 'admin' })).body.key as string;
      const limited = anotherApp(ctx, { rateLimitPerMinute: 3 });
      const agent = request(limited.app);
      for (let i = 0; i < 3; i++) {
        ctx.clock.advanceMs(1000);
        expect((await asKey(agent.get('/v1/bunits'), ADMIN_KEY)).status).to.equal(200);
      }
      const fourth = await asKey(agent.get('/v1/bunits'), ADMIN_KEY);
      expectProblem(fourth, 429, 'rate-limited');
      expect(fourth.headers['retry-after']).to.equal('58');
      // A write is refused too, and writes nothing.
      expectProblem(await asKey(agent.post('/v1/bunits'), ADMIN_KEY).send({ code: 'HQ', name: 'HQ' }), 429, 'rate-limited');
      expect((await ctx.get('/v1/bunits')).body.meta.total).to.equal(0);

      expect((await asKey(agent.get('/v1/bunits'), secret)).status, 'another key').to.equal(200);
      expect((await agent.get('/healthz')).status, 'public probes carry no key').to.equal(200);

      ctx.clock.advanceMs(30_000);
      const later = await asKey(agent.get('/v1/bunits'), ADMIN_KEY);
      expectProblem(later, 429, 'rate-limited');
      expect(later.headers['retry-after']).to.equal('28');

      ctx.clock.advanceMs(27_999);
      expectProblem(await asKey(agent.get('/v1/bunits'), ADMIN_KEY), 429, 'rate-limited');
      ctx.clock.advanceMs(1);
      expect((await asKey(agent.get('/v1/bunits'), ADMIN_KEY)).status, 'a minute after the first request').to.equal(200);
    });

    it('does not limit at all with the default (0 = off)', async () => {
      for (let i = 0; i < 30; i++) expect((await ctx.get('/v1/bunits')).status).to.equal(200);
    });
  });

  describe('internal errors', () => {
    it('answer 500 internal with a generic problem body and the request id, never SQL or a stack trace; the log has the details', async () => {
      const log = memoryLog();
      const app = anotherApp(ctx, { logger: log.logger });
      await ctx.db.schema.renameTable('business_units', 'business_units_away');
      let read;
      let write;
      try {
        read = await asKey(request(app.app).get('/v1/bunits'), ADMIN_KEY).set('X-Request-Id', 'broken-read');
        write = await asKey(request(app.app).post('/v1/bunits'), ADMIN_KEY).send({ code: 'HQ', name: 'Head office' });
      } finally {
        await ctx.db.schema.renameTable('business_units_away', 'business_units');
      }
      for (const res of [read, write]) {
        expectProblem(res, 500, 'internal');
        expect(res.body).to.deep.include({ status: 500, title: 'Internal error' });
        expect(res.body.detail).to.equal('An unexpected error occurred. Quote the request id when you report it.');
        expect(res.body.requestId).to.equal(res.headers['x-request-id']);
        expect(res.body).not.to.have.property('stack');
        const text = res.text;
        for (const leak of [/select/i, /insert/i, /SQLITE/i, /relation/i, /business_units/, /\n\s*at /, /\.ts:\d+/, /knex/i]) {
          expect(text, `leaks ${leak}`).not.to.match(leak);
        }
      }
      expect(read.body.requestId).to.equal('broken-read');

      const errors = log.lines().filter((l) => l.level === 50);
      expect(errors).to.have.length(2);
      expect(errors[0]).to.deep.include({ requestId: 'broken-read', method: 'GET', url: '/v1/bunits' });
      expect((errors[0]!.err as { stack: string }).stack).to.match(/business_units/);
      expect((await ctx.get('/v1/bunits')).status, 'the database is back').to.equal(200);
    });
  });

  describe('logs', () => {
    it('writes one JSON line per request with its request id, method, url, status and duration', async () => {
      const log = memoryLog();
      const app = anotherApp(ctx, { logger: log.logger });
      await asKey(request(app.app).post('/v1/bunits'), ADMIN_KEY).set('X-Request-Id', 'create-hq').send({ code: 'HQ', name: 'HQ' });
      await request(app.app).get('/v1/bunits');
      const lines = log.lines();
      expect(lines).to.have.length(2);
      expect(lines[0]).to.deep.include({ level: 30, msg: 'request', requestId: 'create-hq', method: 'POST', url: '/v1/bunits', status: 201 });
      expect(lines[0]!.ms).to.be.a('number');
      expect(lines[0]!.time).to.be.a('number');
      expect(lines[1]).to.deep.include({ method: 'GET', status: 401 });
      expect(lines[1]!.requestId).to.match(UUID);
    });

    it('never writes the Authorization header or a key secret', async () => {
      const log = memoryLog();
      const app = anotherApp(ctx, { logger: log.logger });
      let secret: string;
      const created = await asKey(request(app.app).post('/v1/api-keys'), ADMIN_KEY).send({ name: 'ops', role: 'admin' });
      expect(created.status).to.equal(201);
      secret = created.body.key as string;
      await asKey(request(app.app).get('/v1/api-keys'), secret);
      await asKey(request(app.app).get('/v1/bunits'), 'rsk_not-a-real-key-but-still-secret');
      await asKey(request(app.app).get('/v1/bunits/1'), secret).set('X-Request-Id', 'lookup');
      const text = log.text();
      expect(log.lines()).to.have.length(4);
      for (const s of [ADMIN_KEY, secret, 'rsk_not-a-real-key-but-still-secret', 'Bearer']) expect(text).not.to.include(s);
      expect(text.toLowerCase()).not.to.include('authorization');
    });
  });
});

/** A POST sent over a raw connection whose body is held back until `finish()`: a request in flight for as long as the test likes. */
function slowUpload(port: number, requestPath: string, headers: Record<string, string>, body: string) {
  const socket = net.connect(port, '127.0.0.1');
  const half = Math.floor(body.length / 2);
  const head = [
    `POST ${requestPath} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.write(`${head}\r\n\r\n${body.slice(0, half)}`);
      resolve();
    });
    socket.once('error', reject);
  });
  let raw = '';
  socket.on('data', (c: Buffer) => (raw += c.toString()));
  const response = new Promise<{ status: number; headers: string; body: Record<string, unknown> }>((resolve, reject) => {
    socket.once('end', () => {
      const [headText, bodyText] = raw.split('\r\n\r\n', 2) as [string, string];
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1]);
      try {
        resolve({ status, headers: headText, body: JSON.parse(bodyText) as Record<string, unknown> });
      } catch (err) {
        reject(new Error(`unexpected response: ${raw}: ${String(err)}`));
      }
    });
    socket.once('error', reject);
  });
  let finished = false;
  void response.then(
    () => (finished = true),
    () => (finished = true),
  );
  return {
    connected,
    response,
    answered: () => finished,
    finish: () => socket.write(body.slice(half)),
  };
}

describe('graceful shutdown (SPEC §8)', function () {
  const ADMIN = 'shutdown-test-admin-key-0123456789abcdef';
  const LINES = 10_000;
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'referrals-shutdown-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves when a TCP connection to the port is refused; fails after the deadline. */
  async function refusedWithin(port: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const refused = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
      });
      if (refused) return;
      if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('on SIGTERM refuses new connections, lets the requests in flight finish with their normal answers, and exits 0', async function () {
    this.timeout(60_000);
    const url = `sqlite:${path.join(dir, 'shutdown.db')}`;
    const server = await startServer({ DATABASE_URL: url, ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'info' });
    const port = Number(new URL(server.url).port);
    const db = createDb(url);
    try {
      const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(`${server.url}${p}`, {
          method,
          headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const owner = (await call('POST', '/v1/bunits', { code: 'OWNER', name: 'Owner' })).body.id as number;
      const referrer = (await call('POST', '/v1/bunits', { code: 'REFERRER', name: 'Referrer' })).body.id as number;
      const contract = (await call('POST', `/v1/bunits/${owner}/contracts`, { number: 'C-1', name: 'C', currency: 'EUR', startDate: '2020-01-01' }))
        .body.id as number;
      const referral = await call('POST', `/v1/bunits/${owner}/referrals`, referralBody(contract, referrer, { billingStartDate: '2020-01-01' }));
      expect(referral.status, JSON.stringify(referral.body)).to.equal(201);
      // Enough revenue that settling it takes a noticeable while.
      const rows = Array.from({ length: LINES }, (_, i) => ({
        contract_id: contract,
        external_id: `L${i}`,
        amount: '1.5',
        currency: 'EUR',
        period_start: '2020-01-01',
        period_end: '2020-01-31',
        created_at: '2020-02-01T00:00:00.000Z',
      }));
      for (let i = 0; i < rows.length; i += 500) await db('revenue_lines').insert(rows.slice(i, i + 500));

      // In flight: a create whose body is still arriving, and a long settlement run.
      const upload = slowUpload(
        port,
        '/v1/bunits',
        { Authorization: `Bearer ${ADMIN}`, 'X-Request-Id': 'slow-upload' },
        JSON.stringify({ code: 'LATECOMER', name: 'Created during shutdown' }),
      );
      await upload.connected;
      const run = call('POST', '/v1/settlement-runs', { through: '2020-12-31' }, { 'Idempotency-Key': 'slow-run', 'X-Request-Id': 'slow-run' });
      // The run holds its Idempotency-Key while it works: the server is on it now.
      const deadline = Date.now() + 10_000;
      while (!(await db('idempotency_keys').where({ idempotency_key: 'slow-run' }).first())) {
        if (Date.now() > deadline) throw new Error('the settlement run never started');
        await new Promise((r) => setTimeout(r, 10));
      }

      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      server.child.kill('SIGTERM');
      await refusedWithin(port, 10_000);
      expect(upload.answered(), 'the upload is still in flight when new connections are refused').to.equal(false);
      expect(server.child.exitCode, 'the process waits for it').to.equal(null);

      upload.finish();
      const created = await upload.response;
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect(created.body).to.deep.include({ code: 'LATECOMER', name: 'Created during shutdown' });
      const settled = await run;
      expect(settled.status, JSON.stringify(settled.body)).to.equal(201);
      expect(settled.body).to.deep.include({ through: '2020-12-31', statementCount: 1, lineCount: LINES });
      expect(await exited, server.output()).to.equal(0);

      expect(await db('business_units').where({ code: 'LATECOMER' }).first()).to.not.equal(undefined);
      expect(Number((await db('settled_pairs').count({ n: '*' }).first())?.n)).to.equal(LINES);
      expect((await db('idempotency_keys').where({ idempotency_key: 'slow-run' }).first()).state).to.equal('done');

      // The real logger: JSON lines with the request ids, the shutdown, and no secret.
      const output = server.output();
      const logs = output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logs.find((l) => l.requestId === 'slow-upload')).to.deep.include({ method: 'POST', url: '/v1/bunits', status: 201 });
      expect(logs.find((l) => l.requestId === 'slow-run')).to.deep.include({ method: 'POST', url: '/v1/settlement-runs', status: 201 });
      expect(logs.some((l) => l.signal === 'SIGTERM')).to.equal(true);
      expect(output).not.to.include(ADMIN);
    } finally {
      await db.destroy();
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });
});
