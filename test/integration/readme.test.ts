import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { CONFIG_VARIABLES } from '../../src/config';
import { exactAmountText } from '../../src/domain/settlement-math';
import { ROOT } from '../helpers/server-process';

/**
 * The README says what the code does: the tables a new user reads first are checked against the
 * code they describe (the curl walk is run by test/api/readme-walk.test.ts).
 */
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = (title: string) => {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README section ${title}`).to.be.greaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
};
/** The rows of the first Markdown table of a section: cells without their backquotes. */
const tableRows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| ---'))
    .slice(1)
    .map((l) => l.slice(2, -2).split(' | ').map((c) => c.trim()));

describe('the README says what the code does', () => {
  it('Configuration lists every variable config.ts reads, each with its default', () => {
    const rows = tableRows(section('Configuration'));
    const documented = new Map(rows.map(([name, def]) => [name!.replace(/`/g, ''), def!.replace(/`/g, '')]));
    expect([...documented.keys()].sort()).to.deep.equal([...CONFIG_VARIABLES.keys()].sort());
    for (const [name, value] of CONFIG_VARIABLES) {
      if (value === undefined) continue; // no default in the schema: the README says what applies (– or the built-in schedule)
      expect(documented.get(name), name).to.equal(String(value));
    }
  });

  it('Commands names every npm script a user runs', () => {
    const scripts = Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const commands = section('Commands');
    for (const script of scripts.filter((s) => s !== 'prestart')) {
      const named = script === 'test' || script === 'start' ? `\`npm ${script}` : `\`npm run ${script}`;
      expect(commands, script).to.include(named);
    }
  });

  it('describes exactAmount as the code writes it: up to 20 decimals, trailing zeros dropped', () => {
    const text = readme.replace(/\s+/g, ' ');
    expect(text).to.include('up to 20 decimals');
    expect(text).to.include('trailing zeros dropped');
    expect(text).not.to.include('exact share to 20 decimals');
    // What the code does: 300 exactly is "300"; a third of 1 has 20 decimals, no more.
    const share = (num: bigint, periodDays: number) => exactAmountText({ num, periodDays });
    const unit = unitShare();
    expect(share(300n * unit, 1)).to.equal('300');
    expect(share(unit, 3)).to.equal('0.33333333333333333333');
  });
});

/** The numerator of a share of exactly 1 over one day (the code's fixed scale, found rather than assumed). */
function unitShare(): bigint {
  for (let k = 0n; k < 40n; k++) if (exactAmountText({ num: 10n ** k, periodDays: 1 }) === '1') return 10n ** k;
  throw new Error('no scale found');
}
