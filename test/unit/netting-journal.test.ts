import { expect } from 'chai';
import fc from 'fast-check';
import {
  DEFAULT_ACCOUNTS,
  closeEntries,
  entriesOf,
  journalTotals,
  paymentPostings,
  sideOf,
  type Accounts,
  type JournalEntry,
} from '../../src/domain/journal';
import { computeNettings, nettingStatus, periodBounds, type ReleasedLine, type StatementPart } from '../../src/domain/netting';

/*
 * SPEC §16: netting and journals as pure functions. The properties build random portfolios of
 * statement lines and compare the netting with an independent line-by-line computation; journals
 * are checked for balance and for the mirror between the two parties of every netting.
 */

const NUM_RUNS = process.env.FC_RUNS ? Number.parseInt(process.env.FC_RUNS, 10) : 300;

interface GenLine {
  payer: number;
  referrer: number;
  currency: string;
  /** Which statement of the pair (a run) it is on. */
  run: number;
  amount: bigint;
  /** held at this close / released into this period (from an earlier statement) / neither */
  state: 'netted' | 'held' | 'released';
}

const lineArb = fc
  .record({
    payer: fc.integer({ min: 1, max: 5 }),
    delta: fc.integer({ min: 1, max: 4 }),
    currency: fc.constantFrom('EUR', 'USD', 'JPY'),
    run: fc.integer({ min: 1, max: 3 }),
    amount: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 18n }),
    state: fc.constantFrom('netted', 'netted', 'netted', 'held', 'released'),
  })
  .map((r): GenLine => ({ payer: r.payer, referrer: ((r.payer - 1 + r.delta) % 5) + 1, currency: r.currency, run: r.run, amount: r.amount, state: r.state as GenLine['state'] }));

/** Statements and released lines from lines, the way the database holds them. */
function portfolio(lines: GenLine[]): { statements: StatementPart[]; released: ReleasedLine[] } {
  const statements = new Map<string, StatementPart>();
  const released: ReleasedLine[] = [];
  lines.forEach((l, i) => {
    if (l.state === 'released') {
      released.push({ lineId: i + 1, statementId: 1000 + i, payerId: l.payer, referrerId: l.referrer, currency: l.currency, amountMinor: l.amount });
      return;
    }
    const key = `${l.run}/${l.payer}/${l.referrer}/${l.currency}`;
    let s = statements.get(key);
    if (!s) {
      s = { statementId: statements.size + 1, payerId: l.payer, referrerId: l.referrer, currency: l.currency, totalMinor: 0n, heldMinor: 0n };
      statements.set(key, s);
    }
    s.totalMinor += l.amount;
    if (l.state === 'held') s.heldMinor += l.amount;
  });
  return { statements: [...statements.values()], released };
}

/** The independent computation: per ordered (payer, referrer, currency), Σ amounts of lines netted in the period. */
function owedByLines(lines: GenLine[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const l of lines) {
    if (l.state === 'held') continue;
    const key = `${l.payer}->${l.referrer}/${l.currency}`;
    out.set(key, (out.get(key) ?? 0n) + l.amount);
  }
  return out;
}

const accountsOf = (id: number): Accounts => ({
  receivable: `ar-${id}`,
  payable: `ap-${id}`,
  income: `inc-${id}`,
  expense: `exp-${id}`,
  clearing: `clr-${id}`,
});

/** Σ debit − Σ credit of the entries on accounts of one role with one partner. */
function balance(entries: JournalEntry[], role: JournalEntry['role'], partnerId: number): bigint {
  return entries.filter((e) => e.role === role && e.partnerId === partnerId).reduce((s, e) => s + (e.debit ?? 0n) - (e.credit ?? 0n), 0n);
}

describe('netting (SPEC §16)', () => {
  it('per pair and currency, owes equal the lines netted in the period (held out, released in), over random portfolios', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 0, maxLength: 60 }), (lines) => {
        const { statements, released } = portfolio(lines);
        const nettings = computeNettings(statements, released);
        const expected = owedByLines(lines);
        const pairs = new Set(lines.map((l) => `${Math.min(l.payer, l.referrer)}/${Math.max(l.payer, l.referrer)}/${l.currency}`));
        expect(nettings.map((n) => `${n.aId}/${n.bId}/${n.currency}`).sort()).to.deep.equal([...pairs].sort());
        for (const n of nettings) {
          expect(n.aId).to.be.lessThan(n.bId);
          const owesA = expected.get(`${n.aId}->${n.bId}/${n.currency}`) ?? 0n;
          const owesB = expected.get(`${n.bId}->${n.aId}/${n.currency}`) ?? 0n;
          expect(n.owesA).to.equal(owesA);
          expect(n.owesB).to.equal(owesB);
          const diff = owesA - owesB;
          expect(n.amount).to.equal(diff < 0n ? -diff : diff);
          if (diff > 0n) expect([n.payerId, n.payeeId]).to.deep.equal([n.aId, n.bId]);
          else if (diff < 0n) expect([n.payerId, n.payeeId]).to.deep.equal([n.bId, n.aId]);
          else expect([n.payerId, n.payeeId]).to.deep.equal([null, null]);
        }
        // Every statement and every released line is in exactly one netting.
        expect(nettings.flatMap((n) => n.statementIds).sort((x, y) => x - y)).to.deep.equal(statements.map((s) => s.statementId).sort((x, y) => x - y));
        expect(nettings.flatMap((n) => n.releasedLineIds).sort((x, y) => x - y)).to.deep.equal(released.map((l) => l.lineId).sort((x, y) => x - y));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('a netting is paid once its payments reach its amount; a zero amount is paid at once', () => {
    expect(nettingStatus(0n, 0n)).to.equal('paid');
    expect(nettingStatus(100n, 0n)).to.equal('open');
    expect(nettingStatus(100n, 40n)).to.equal('partially-paid');
    expect(nettingStatus(100n, 100n)).to.equal('paid');
  });

  it('knows the last day of every month, February of leap years included', () => {
    expect(periodBounds('2026-10')).to.deep.equal({ first: '2026-10-01', last: '2026-10-31' });
    expect(periodBounds('2028-02').last).to.equal('2028-02-29');
    expect(periodBounds('2026-02').last).to.equal('2026-02-28');
  });
});

describe('journals (SPEC §16)', () => {
  it('the close journal of §16: two BUs owing each other 229.44 and 100.00', () => {
    const entries = closeEntries(DEFAULT_ACCOUNTS, [{ nettingId: 7, partnerId: 2, owesSelf: 22944n, owesPartner: 10000n }]);
    expect(entries.map((e) => [e.account, e.debit, e.credit])).to.deep.equal([
      ['revenue-share-expense', 22944n, null],
      ['intercompany-payable', null, 22944n],
      ['intercompany-receivable', 10000n, null],
      ['revenue-share-income', null, 10000n],
      ['intercompany-payable', 10000n, null],
      ['intercompany-receivable', null, 10000n],
    ]);
    expect(entries.every((e) => e.partnerId === 2 && e.nettingId === 7)).to.equal(true);
  });

  it('a negative amount swaps debit and credit; a zero one writes no entry', () => {
    const entries = closeEntries(DEFAULT_ACCOUNTS, [{ nettingId: 1, partnerId: 2, owesSelf: -500n, owesPartner: 0n }]);
    expect(entries.map((e) => [e.account, e.debit, e.credit])).to.deep.equal([
      ['intercompany-payable', 500n, null],
      ['revenue-share-expense', null, 500n],
    ]);
  });

  it('every journal balances, and what X books with Y mirrors what Y books with X, over random nettings', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 60 }), fc.bigInt({ min: 1n, max: 10n ** 18n }), (lines, paymentSeed) => {
        const { statements, released } = portfolio(lines);
        const nettings = computeNettings(statements, released).map((n, i) => ({ ...n, id: i + 1 }));
        const units = [...new Set(nettings.flatMap((n) => [n.aId, n.bId]))];
        const journals = new Map<string, JournalEntry[]>();
        for (const unit of units) {
          for (const currency of ['EUR', 'USD', 'JPY']) {
            const sides = nettings.filter((n) => n.currency === currency && (n.aId === unit || n.bId === unit)).map((n) => sideOf(n, unit));
            if (sides.length === 0) continue;
            const entries = closeEntries(accountsOf(unit), sides);
            const totals = journalTotals(entries);
            expect(totals.debit).to.equal(totals.credit);
            expect(entries.every((e) => (e.debit === null) !== (e.credit === null) && (e.debit ?? e.credit)! > 0n)).to.equal(true);
            journals.set(`${unit}/${currency}`, entries);
          }
        }
        for (const n of nettings) {
          const x = journals.get(`${n.aId}/${n.currency}`)!.filter((e) => e.nettingId === n.id);
          const y = journals.get(`${n.bId}/${n.currency}`)!.filter((e) => e.nettingId === n.id);
          // X's expense with Y is Y's income with X, and the other way round.
          expect(balance(x, 'expense', n.bId)).to.equal(-balance(y, 'income', n.aId));
          expect(balance(y, 'expense', n.aId)).to.equal(-balance(x, 'income', n.bId));
          expect(balance(x, 'expense', n.bId)).to.equal(n.owesA);
          // After the netting nothing is left receivable; the payables are the net, with opposite signs.
          expect(balance(x, 'receivable', n.bId)).to.equal(0n);
          expect(balance(y, 'receivable', n.aId)).to.equal(0n);
          expect(balance(x, 'payable', n.bId)).to.equal(-(n.owesA - n.owesB));
          expect(balance(y, 'payable', n.aId)).to.equal(-(n.owesB - n.owesA));
          // A payment of the net clears both payables.
          if (n.payerId !== null) {
            const paid = 1n + (paymentSeed % n.amount);
            const { payer, payee } = paymentPostings(paid);
            const p = entriesOf(payer, accountsOf(n.payerId), n.payeeId!, n.id);
            const q = entriesOf(payee, accountsOf(n.payeeId!), n.payerId, n.id);
            expect(journalTotals(p).debit).to.equal(journalTotals(p).credit);
            expect(journalTotals(q).debit).to.equal(journalTotals(q).credit);
            expect(balance(p, 'clearing', n.payeeId!)).to.equal(-balance(q, 'clearing', n.payerId));
            const payerJournal = n.payerId === n.aId ? x : y;
            const payeeJournal = n.payerId === n.aId ? y : x;
            if (paid === n.amount) {
              expect(balance([...payerJournal, ...p], 'payable', n.payeeId!)).to.equal(0n);
              expect(balance([...payeeJournal, ...q], 'payable', n.payerId)).to.equal(0n);
            }
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
