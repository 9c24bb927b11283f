import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { seed } from '../../seeds/demo';
import { ADMIN_KEY, describeApi } from '../helpers/api';

const README = path.resolve(import.meta.dirname, '../../README.md');

/** The first ```sh block of the README's section "A walk through with curl", as a reader copies it. */
export function readmeWalk(readme = fs.readFileSync(README, 'utf8')): string {
  const section = readme.slice(readme.indexOf('## A walk through with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README: no sh block in "A walk through with curl"');
  return block[1]!;
}

interface Walked {
  code: number | null;
  stdout: string;
  /** One per request: its status and URL. */
  requests: { status: number; url: string }[];
  stderr: string;
}

/**
 * Runs the walk in bash as written, with two changes a reader makes too: the admin key, and the
 * server's address. Every curl also reports its status and URL on standard error (`-w`), so each
 * request's answer is checked; `set -e` and `pipefail` stop at the first command that fails.
 */
function walk(script: string, base: string): Promise<Walked> {
  const lines = script.split('\n').map((l) => (l.startsWith('export K=') ? `export K=${ADMIN_KEY}` : l));
  const body = lines.join('\n').replaceAll('http://localhost:3000', base);
  const prelude = `set -euo pipefail\ncurl() { command curl -w '%{stderr}STATUS %{http_code} %{url_effective}\\n' "$@"; }\n`;
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', prelude + body], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => {
      const requests = [...stderr.matchAll(/^STATUS (\d{3}) (\S+)$/gm)].map((m) => ({ status: Number(m[1]), url: m[2]! }));
      resolve({ code, stdout, requests, stderr });
    });
  });
}

describeApi('the README walk through with curl, run as written against a started server', (ctx) => {
  let server: Server;
  let base: string;
  const script = readmeWalk();
  const curls = script.match(/\bcurl -s\b/g)!.length;

  before(async () => {
    server = ctx.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  function expectSettled(result: Walked) {
    expect(result.code, `${result.stderr}\n${result.stdout}`).to.equal(0);
    expect(result.requests, 'every request of the walk was made').to.have.length(curls);
    for (const r of result.requests) expect(r.status, `${r.url}\n${result.stdout}`).to.be.within(200, 299);
    // The statement: 3000.00 × 12.5 % over the whole of October, and its CSV row.
    expect(result.stdout).to.include('"total":"375.00"');
    expect(result.stdout).to.match(/\uFEFFstatementId,/);
    expect(result.stdout).to.match(/,ENTERPRISE,\d+,PARTNERS,EUR,\d+,share,\d+,C-2026-101,\d+,INV-101-1,\d+,2026-10-01,2026-10-31,31,31,3000\.00,375,375\.00,,/);
  }

  it('works on a fresh database', async function () {
    this.timeout(180_000);
    expectSettled(await walk(script, base));
  });

  it('works after npm run seed (the demo data takes none of its codes or numbers)', async function () {
    this.timeout(180_000);
    await seed(ctx.db);
    expectSettled(await walk(script, base));
  });
});
