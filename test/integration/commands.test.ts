import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, ROOT, startServer } from '../helpers/server-process';

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
  // Each test spawns commands and servers through tsx: generous, for a loaded 2-core machine.
  this.timeout(300_000);
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

  it('stops the start with one line naming a busy port (PORT or METRICS_PORT), exit code non-zero, no stack trace', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as net.AddressInfo).port;
    try {
      const api = await run('src/server.ts', [], { ...env, HOST: '127.0.0.1', PORT: String(taken), METRICS_PORT: '0' });
      expect(api.code).to.not.equal(0);
      expect(api.stderr.trim()).to.equal(`PORT ${taken} is in use`);

      const metrics = await run('src/server.ts', [], { ...env, HOST: '127.0.0.1', PORT: String(await freePort()), METRICS_PORT: String(taken) });
      expect(metrics.code).to.not.equal(0);
      expect(metrics.stderr.trim()).to.equal(`METRICS_PORT ${taken} is in use; set METRICS_PORT=0 to turn the metrics listener off`);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('api-keys creates, lists and revokes keys from the shell; the secret is printed once and works until revoked', async function () {
    // It waits for the server to see the revocation, however loaded the machine: the suite's timeout is the only bound.
    this.timeout(300_000);
    const created = await run('src/cli/api-keys.ts', ['create', '--name', 'ops', '--role', 'admin'], env);
    expect(created.code, created.stderr).to.equal(0);
    const secret = /(rsk_[A-Za-z0-9_-]{43})/.exec(created.stdout)![1]!;
    const listed = await run('src/cli/api-keys.ts', ['list'], env);
    const [header, first] = listed.stdout.split('\n');
    expect(header).to.equal('id\tname\trole\tbusiness units\tcreated\trevoked');
    expect(first).to.match(/^1\tops\tadmin\tall\t\d{4}-\d\d-\d\dT[\d:.]+Z\t$/);
    expect(listed.stdout).not.to.include(secret);

    const server = await startServer({ ...env, ADMIN_API_KEY: '' });
    try {
      const ok = await fetch(`${server.url}/v1/bunits`, { headers: { Authorization: `Bearer ${secret}` } });
      expect(ok.status).to.equal(200);
      const revoked = await run('src/cli/api-keys.ts', ['revoke', '1'], env);
      expect(revoked.code).to.equal(0);
      // Another process revoked it: the server sees it at its next poll (every second, or later on
      // a loaded machine). The outcome is what counts here; how soon belongs in the bench.
      let status = 0;
      while (status !== 401) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await fetch(`${server.url}/v1/bunits`, { headers: { Authorization: `Bearer ${secret}` } })).status;
        expect([200, 401], 'the key works until the revocation is seen, then is refused').to.include(status);
      }
    } finally {
      await server.stop();
    }
    const noScope = await run('src/cli/api-keys.ts', ['create', '--name', 'x', '--role', 'write'], env);
    expect(noScope.code).to.equal(2);
    expect(noScope.stderr).to.include('a write key needs --bunit');
    const wrongRole = await run('src/cli/api-keys.ts', ['create', '--name', 'x', '--role', 'boss'], env);
    expect(wrongRole.code).to.equal(2);
    expect(wrongRole.stderr).to.include("'boss' is invalid").and.to.include('read, write, approver, admin');
    const unknownUnit = await run('src/cli/api-keys.ts', ['create', '--name', 'x', '--role', 'write', '--bunit', '99'], env);
    expect(unknownUnit.code).to.equal(1);
    expect(unknownUnit.stderr.trim()).to.equal('--bunit: business unit 99 does not exist');
  });

  it('migrate, seed and settle work as the nightly job uses them; a refused run exits non-zero and writes nothing', async () => {
    expect((await run('src/cli/migrate.ts', [], env)).stdout).to.match(/applied:/);
    expect((await run('src/cli/migrate.ts', [], env)).stdout).to.match(/already up to date/);
    const seeded = await run('src/cli/seed.ts', [], env);
    expect(seeded.code, seeded.stderr).to.equal(0);
    expect((await run('src/cli/seed.ts', [], env)).stdout).to.match(/not added/);

    const future = await run('src/cli/settle.ts', ['--through', '2999-01-01'], env);
    expect(future.code).to.equal(1);
    // The command's language, not the API's (body.through).
    expect(future.stderr).to.match(/^--through 2999-01-01: must not be later than yesterday \(\d{4}-\d\d-\d\d\)$/m);
    expect(future.stderr).not.to.include('body.');
    const badDate = await run('src/cli/settle.ts', ['--through', '2026-02-30'], env);
    expect(badDate.code).to.equal(2);
    expect(badDate.stderr).to.include("'2026-02-30' is invalid").and.to.include('yyyy-MM-dd');

    // --json: the dry run as the API answers it, for scripts (standard output holds the JSON alone).
    const json = await run('src/cli/settle.ts', ['--dry-run', '--json'], env);
    expect(json.code, json.stderr).to.equal(0);
    const answer = JSON.parse(json.stdout) as {
      id: null;
      dryRun: true;
      statements: { payer: { code: string }; referrer: { code: string }; currency: string; lineCount: number; total: string; lines: unknown[] }[];
      totals: { currency: string; amount: string }[];
    };
    expect(answer).to.deep.include({ id: null, dryRun: true });
    expect(answer.statements).to.have.length(3);
    expect(answer.statements.map((s) => s.lines.length)).to.deep.equal(answer.statements.map((s) => s.lineCount));

    // On a terminal: one row per would-be statement (payer → referrer, currency, lines, total), then the totals.
    const dry = await run('src/cli/settle.ts', ['--dry-run'], env);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.match(/dry run, nothing written/);
    const table = dry.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/));
    expect(table).to.deep.include(['payer → referrer', 'currency', 'lines', 'total']);
    for (const s of answer.statements) {
      expect(table, `${s.payer.code} → ${s.referrer.code}`).to.deep.include([`${s.payer.code} → ${s.referrer.code}`, s.currency, String(s.lineCount), s.total]);
    }
    for (const t of answer.totals) {
      const lines = answer.statements.filter((s) => s.currency === t.currency).reduce((n, s) => n + s.lineCount, 0);
      expect(table).to.deep.include([`total ${t.currency}`, t.currency, String(lines), t.amount]);
    }
    const real = await run('src/cli/settle.ts', [], env);
    expect(real.code, real.stderr).to.equal(0);
    expect(real.stdout).to.match(/^run 1:/m);
    // The dry run's summary is what the real run then settled.
    const totals = (s: string) => s.split('\n').filter((l) => /^  (total \w+|statements|lines):/.test(l)).join('\n');
    expect(totals(real.stdout)).to.equal(totals(dry.stdout));
    const again = await run('src/cli/settle.ts', [], env);
    expect(again.stdout).to.match(/nothing new to settle/);
  });

  it('every command honours --help (its usage, exit 0, nothing touched) and refuses an unknown option with exit 2', async function () {
    // Sixteen processes, each loading TypeScript: minutes on a loaded machine, and no bound on speed here.
    this.timeout(600_000);
    const database = path.join(dir, 'referrals.db');
    const spec = path.join(ROOT, 'openapi.yaml');
    const before = fs.statSync(spec).mtimeMs;
    const commands: [string, string[], RegExp, string[]?][] = [
      ['src/cli/seed.ts', [], /^Usage: seed/],
      ['src/cli/migrate.ts', [], /^Usage: migrate/],
      ['src/cli/openapi.ts', [], /^Usage: openapi[\s\S]*--check/],
      ['src/cli/settle.ts', [], /^Usage: settle[\s\S]*--through[\s\S]*--dry-run[\s\S]*--json/],
      ['src/cli/api-keys.ts', [], /^Usage: api-keys[\s\S]*create \[options\]\s+Create a key[\s\S]*list \[options\]\s+List the keys[\s\S]*revoke <id>\s+Revoke a key/],
      ['src/cli/api-keys.ts', ['create'], /^Usage: api-keys create[\s\S]*--role <role>/, ['--name', 'x', '--role', 'admin']],
      ['src/cli/api-keys.ts', ['list'], /^Usage: api-keys list[\s\S]*--all/],
      ['src/cli/api-keys.ts', ['revoke'], /^Usage: api-keys revoke/, ['1']],
    ];
    for (const [script, args, usage, valid = []] of commands) {
      const help = await run(script, [...args, '--help'], env);
      expect(help.code, `${script} ${args.join(' ')} --help: ${help.stderr}`).to.equal(0);
      expect(help.stdout, script).to.match(usage);
      const unknown = await run(script, [...args, ...valid, '--frobnicate'], env);
      expect(unknown.code, `${script} ${args.join(' ')} --frobnicate`).to.equal(2);
      expect(unknown.stderr, script).to.include("unknown option '--frobnicate'");
    }
    expect(fs.existsSync(database), 'no command created the database').to.equal(false);
    expect(fs.statSync(spec).mtimeMs, 'openapi --help did not rewrite openapi.yaml').to.equal(before);
  });
});
