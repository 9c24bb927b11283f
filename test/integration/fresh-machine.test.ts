import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chromiumVerdict, screenshotDir } from '../helpers/chromium';
import { ROOT } from '../helpers/server-process';

const MOCHA = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');

/** Runs mocha as a developer does (`npx mocha …`, the project's .mocharc.json included). */
function mocha(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    const child = spawn(process.execPath, [MOCHA, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm test on a fresh machine (npm ci alone, no Chromium)', function () {
  this.timeout(300_000);
  const missing = '/nonexistent/chromium';

  it('reports the docs browser test as skipped, with the reason and the install command, and passes', async () => {
    const run = await mocha(['test/api/docs-browser.test.ts'], { CHROMIUM_PATH: missing, CI: undefined, DOCS_SCREENSHOTS_DIR: undefined });
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.match(/1 pending/);
    expect(run.output).to.include(`${missing} is missing`);
    expect(run.output).to.include('apt-get install -y chromium');
  });

  it('fails the docs browser test under CI=true when Chromium is missing: CI never skips it silently', async () => {
    const run = await mocha(['test/api/docs-browser.test.ts'], { CHROMIUM_PATH: missing, CI: 'true', DOCS_SCREENSHOTS_DIR: undefined });
    expect(run.code, run.output).to.not.equal(0);
    expect(run.output).to.include(`${missing} is missing`);
    expect(run.output).to.match(/1 failing/);
  });

  it('decides the same way for npm run docs:screenshots, which cannot do without Chromium', () => {
    const absent = () => false;
    expect(chromiumVerdict({ CHROMIUM_PATH: missing }, absent)).to.deep.include({ run: false });
    expect(() => chromiumVerdict({ CHROMIUM_PATH: missing, CI: 'true' }, absent)).to.throw(/CI=true/);
    expect(() => chromiumVerdict({ CHROMIUM_PATH: missing, DOCS_SCREENSHOTS_DIR: 'docs' }, absent)).to.throw(/docs:screenshots/);
    expect(chromiumVerdict({ CHROMIUM_PATH: missing, CI: 'true' }, () => true)).to.deep.equal({ run: true, executable: missing });
  });

  it('writes the screenshots outside the working tree, unless npm run docs:screenshots asks for docs/', () => {
    const dir = screenshotDir({});
    expect(dir.startsWith(os.tmpdir())).to.equal(true);
    expect(path.relative(ROOT, dir).startsWith('..')).to.equal(true);
    expect(screenshotDir({ DOCS_SCREENSHOTS_DIR: 'docs' })).to.equal(path.join(ROOT, 'docs'));
  });

  it('npx mocha <file> runs that file alone (the inner loop); npm test names the whole suite itself', async () => {
    const file = 'test/unit/dates.test.ts';
    const run = await mocha(['--dry-run', '--reporter', 'json', file], {});
    expect(run.code, run.output).to.equal(0);
    const report = JSON.parse(run.output.slice(run.output.indexOf('{'))) as { tests: { file: string }[] };
    expect(report.tests.length).to.be.greaterThan(0);
    expect([...new Set(report.tests.map((t) => path.relative(ROOT, t.file)))]).to.deep.equal([file]);
  });
});
