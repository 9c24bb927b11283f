import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT, startServer } from '../helpers/server-process';

/** The npm scripts of SPEC §8 as an operator runs them, each as its own process, on a SQLite file. */
function run(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('commands on a fresh SQLite database', function () {
  this.timeout(90_000);
  let dir: string;
  let env: Record<string, string>;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'referrals-cmd-'));
    env = { DATABASE_URL: `sqlite:${path.join(dir, 'referrals.db')}` };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('first start with no keys and no ADMIN_API_KEY prints one admin key, once, and it works', async () => {
    const first = await startServer({ ...env, ADMIN_API_KEY: '' });
    let secret: string;
    try {
      const printed = /(rsk_[A-Za-z0-9_-]{43})/.exec(first.output());
      expect(printed, first.output()).to.not.equal(null);
      secret = printed![1]!;
      const res = await fetch(`${first.url}/v1/api-keys`, { headers: { Authorization: `Bearer ${secret}` } });
      expect(res.status).to.equal(200);
      const body = (await res.json()) as { data: { name: string; role: string }[] };
      expect(body.data).to.have.length(1);
      expect(body.data[0]).to.deep.include({ name: 'bootstrap-admin', role: 'admin' });
    } finally {
      await first.stop();
    }
    const second = await startServer({ ...env, ADMIN_API_KEY: '' });
    try {
      expect(second.output()).not.to.match(/rsk_/);
      const res = await fetch(`${second.url}/v1/bunits`, { headers: { Authorization: `Bearer ${secret}` } });
      expect(res.status).to.equal(200);
    } finally {
      await second.stop();
    }
  });

  it('refuses to start with invalid configuration, naming the variable', async () => {
    const bad = await run('src/server.ts', [], { ...env, PORT: 'eighty', BUSINESS_TIMEZONE: 'Mars/Olympus' });
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/PORT/).and.to.match(/BUSINESS_TIMEZONE/);
    const short = await run('src/server.ts', [], { ...env, ADMIN_API_KEY: 'too-short' });
    expect(short.code).to.equal(1);
    expect(short.stderr).to.match(/ADMIN_API_KEY/);
  });

  it('api-keys creates, lists and revokes keys from the shell; the secret is printed once and works until revoked', async () => {
    const created = await run('src/cli/api-keys.ts', ['create', '--name', 'ops', '--role', 'admin'], env);
    expect(created.code, created.stderr).to.equal(0);
    const secret = /(rsk_[A-Za-z0-9_-]{43})/.exec(created.stdout)![1]!;
    const listed = await run('src/cli/api-keys.ts', ['list'], env);
    expect(listed.stdout).to.match(/^1\tops\tadmin\tall business units/m);
    expect(listed.stdout).not.to.include(secret);

    const server = await startServer({ ...env, ADMIN_API_KEY: '' });
    try {
      const ok = await fetch(`${server.url}/v1/bunits`, { headers: { Authorization: `Bearer ${secret}` } });
      expect(ok.status).to.equal(200);
      const revoked = await run('src/cli/api-keys.ts', ['revoke', '1'], env);
      expect(revoked.code).to.equal(0);
      // Another process revoked it: the server sees it at its next poll (every second).
      let status = 0;
      for (let i = 0; i < 100 && status !== 401; i++) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await fetch(`${server.url}/v1/bunits`, { headers: { Authorization: `Bearer ${secret}` } })).status;
      }
      expect(status, 'the revoked key must be refused within seconds').to.equal(401);
    } finally {
      await server.stop();
    }
    const wrongRole = await run('src/cli/api-keys.ts', ['create', '--name', 'x', '--role', 'write'], env);
    expect(wrongRole.code).to.equal(1);
    expect(wrongRole.stderr).to.include('--bunit');
  });

  it('migrate, seed and settle work as the nightly job uses them; a refused run exits non-zero and writes nothing', async () => {
    expect((await run('src/cli/migrate.ts', [], env)).stdout).to.match(/applied:/);
    expect((await run('src/cli/migrate.ts', [], env)).stdout).to.match(/already up to date/);
    const seeded = await run('src/cli/seed.ts', [], env);
    expect(seeded.code, seeded.stderr).to.equal(0);
    expect((await run('src/cli/seed.ts', [], env)).stdout).to.match(/not added/);

    const future = await run('src/cli/settle.ts', ['--through', '2999-01-01'], env);
    expect(future.code).to.equal(1);
    expect(future.stderr).to.include('body.through');
    const badDate = await run('src/cli/settle.ts', ['--through', '2026-02-30'], env);
    expect(badDate.code).to.not.equal(0);

    const dry = await run('src/cli/settle.ts', ['--dry-run'], env);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.match(/dry run, nothing written/);
    const real = await run('src/cli/settle.ts', [], env);
    expect(real.code, real.stderr).to.equal(0);
    expect(real.stdout).to.match(/^run 1:/m);
    // The dry run's summary is what the real run then settled.
    const totals = (s: string) => s.split('\n').filter((l) => /total|statements|lines/.test(l)).join('\n');
    expect(totals(real.stdout)).to.equal(totals(dry.stdout));
    const again = await run('src/cli/settle.ts', [], env);
    expect(again.stdout).to.match(/nothing new to settle/);
  });
});

