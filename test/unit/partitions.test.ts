import { expect } from 'chai';
import { cutPartitions, LAST_CONTRACT_ID } from '../../src/services/settlement/partition-work';

/**
 * A run's partitions (SPEC §6.5): whole contracts, every id from 1 on without a gap, each short.
 * Short means few lines to settle and, as well, few lines read through: a contract's revenue
 * settled before or due after the run's end is read by the partition's search and passed over.
 */
const contract = (contractId: number, lines: number, read = lines) => ({ contractId, lines, read });

describe('cutting a run into partitions', () => {
  it('covers every contract id from 1 to the last possible one, in order, without a gap', () => {
    const parts = cutPartitions([contract(3, 900), contract(8, 900), contract(9, 900), contract(40, 10)], 2000);
    expect(parts).to.deep.equal([
      { first: 1, last: 9 },
      { first: 10, last: LAST_CONTRACT_ID },
    ]);
  });

  it('ends a partition after about the given lines to settle, or 200 contracts', () => {
    const many = Array.from({ length: 450 }, (_, i) => contract(i + 1, 1));
    expect(cutPartitions(many, 2000).map((p) => p.last)).to.deep.equal([200, 400, LAST_CONTRACT_ID]);
    expect(cutPartitions([contract(1, 5000), contract(2, 1)], 2000)).to.have.length(2, 'a contract is never split');
  });

  it('ends a partition after ten times its lines read: revenue settled before or due after the run is read too', () => {
    // Contracts 1–3 have lines to settle; 4–43 only revenue due later (500 lines each), as after a month's invoices are posted early.
    const later = Array.from({ length: 40 }, (_, i) => contract(i + 4, 0, 500));
    const parts = cutPartitions([contract(1, 100), contract(2, 100), contract(3, 100), ...later], 100);
    for (const p of parts.slice(0, -1)) {
      const read = [contract(1, 100), contract(2, 100), contract(3, 100), ...later]
        .filter((c) => c.contractId >= p.first && c.contractId <= p.last)
        .reduce((n, c) => n + c.read, 0);
      expect(read, `partition ${p.first}..${p.last}`).to.be.at.most(1000 + 500);
    }
    expect(parts.length).to.be.greaterThan(10);
    expect(parts[parts.length - 1]!.last).to.equal(LAST_CONTRACT_ID);
  });

  it('makes no partition when no contract has lines to settle', () => {
    expect(cutPartitions([contract(1, 0, 5000), contract(2, 0, 10)])).to.deep.equal([]);
    expect(cutPartitions([])).to.deep.equal([]);
  });
});
