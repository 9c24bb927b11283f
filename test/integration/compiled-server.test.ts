import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, ROOT } from '../helpers/server-process';

/**
 * `npm start` as the README has it (SPEC §14): it builds dist/server.js (prestart) and runs it
 * with plain node, no TypeScript loader; migrations, the docs page with its Swagger UI files and
 * the API work from the bundle, on a fresh database.
 */
describe('npm start: the compiled server (SPEC §14)', function () {
  this.timeout(120_000);
  const ADMIN = 'compiled-test-admin-key-0123456789abcdef';
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'referrals-compiled-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds dist/server.js and serves /readyz, /docs and /v1 from it with plain node, on a fresh database', async () => {
    fs.rmSync(path.join(ROOT, 'dist'), { recursive: true, force: true });
    const port = await freePort();
    // A process group of its own (npm, its shell, node), so that the test ends exactly what it started.
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: `sqlite:${path.join(dir, 'fresh.db')}`,
        ADMIN_API_KEY: ADMIN,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    // 'close': once every process of the group holding its output (the server too) has gone.
    const closed = new Promise<void>((resolve) => npm.once('close', () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 90_000;
      for (;;) {
        if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
        try {
          if ((await fetch(`${url}/readyz`)).ok) break;
        } catch {
          // building, or not listening yet
        }
        if (Date.now() > deadline) throw new Error(`npm start did not become ready:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(fs.existsSync(path.join(ROOT, 'dist', 'server.js')), 'prestart built it').to.equal(true);

      // The process that listens is node running the bundle, with no loader.
      const listening = () =>
        output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { pid: number; msg: string }).find((l) => l.msg.startsWith('listening'));
      // Logs are written in batches: the start's lines follow readiness closely, not necessarily first.
      for (let i = 0; i < 50 && !listening(); i++) await new Promise((r) => setTimeout(r, 100));
      const pid = listening()?.pid;
      expect(pid, output).to.be.a('number');
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      // Plain node on the bundle, no loader; its heap capped (README, Memory).
      expect(argv.slice(1)).to.deep.equal(['--max-old-space-size=192', 'dist/server.js']);
      const loaded = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      expect(loaded, 'no esbuild service (tsx) in the process').not.to.include('@esbuild');

      expect(await (await fetch(`${url}/readyz`)).json()).to.deep.equal({ status: 'ready' });
      const docs = await fetch(`${url}/docs`);
      expect(docs.status).to.equal(200);
      expect(await docs.text()).to.include('/docs/assets/swagger-ui-bundle.js');
      const bundle = await fetch(`${url}/docs/assets/swagger-ui-bundle.js`);
      expect(bundle.status, 'swagger-ui-dist is found at run time').to.equal(200);
      expect(bundle.headers.get('content-type')).to.match(/javascript/);
      expect(((await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string }).openapi).to.match(/^3\.1/);

      const headers = { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' };
      const created = await fetch(`${url}/v1/bunits`, { method: 'POST', headers, body: JSON.stringify({ code: 'HQ', name: 'Head office' }) });
      expect(created.status, 'the migrations ran from the bundle').to.equal(201);
      const read = await fetch(`${url}${created.headers.get('location')}`, { headers });
      expect(read.status).to.equal(200);
      expect(await read.json()).to.deep.include({ code: 'HQ', name: 'Head office' });
      expect((await fetch(`${url}/v1/bunits/1`, { method: 'PATCH', headers })).status).to.equal(405);
    } finally {
      if (npm.exitCode === null) process.kill(-npm.pid!, 'SIGTERM');
    }
    await closed;
    expect(output, 'a graceful shutdown on SIGTERM').to.include('"msg":"stopped"');
  });
});
