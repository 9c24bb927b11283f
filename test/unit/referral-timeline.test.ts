import { expect } from 'chai';
import { Dec, formatDecimal } from '../../src/domain/decimal';
import {
  billableSegments,
  changePercentage,
  effectiveWindow,
  findOverAllocation,
  initialHistory,
  percentageOn,
  rangesOverlap,
  type PercentageSegment,
  type ReferralTimeline,
} from '../../src/domain/referral-timeline';

/** A segment from plain text: seg('2026-11-01', null, '12.5'). */
function seg(from: string, to: string | null, percentage: string): PercentageSegment {
  return { from, to, percentage: new Dec(percentage) };
}

/** Segments as plain text, so deep.equal compares percentages by value. */
function plain(segments: PercentageSegment[]): Array<{ from: string; to: string | null; percentage: string }> {
  return segments.map((s) => ({ from: s.from, to: s.to, percentage: formatDecimal(s.percentage) }));
}

function timeline(overrides: Partial<ReferralTimeline> = {}): ReferralTimeline {
  return {
    billingStartDate: '2026-11-01',
    billingEndDate: null,
    archiveDay: null,
    history: [seg('2026-11-01', null, '12.5')],
    ...overrides,
  };
}

describe('referral timeline (domain/referral-timeline)', () => {
  describe('effectiveWindow', () => {
    it('is the billing window itself when the referral is not archived', () => {
      expect(effectiveWindow(timeline())).to.deep.equal({ from: '2026-11-01', to: null });
      expect(effectiveWindow(timeline({ billingEndDate: '2026-12-31' }))).to.deep.equal({ from: '2026-11-01', to: '2026-12-31' });
    });

    it('ends the day before the archive day: archived on D means the last billable day is D-1', () => {
      expect(effectiveWindow(timeline({ archiveDay: '2026-11-20' }))).to.deep.equal({ from: '2026-11-01', to: '2026-11-19' });
    });

    it('steps back over month, year and leap-day boundaries when cutting at the archive day', () => {
      expect(effectiveWindow(timeline({ archiveDay: '2026-12-01' }))?.to).to.equal('2026-11-30');
      expect(effectiveWindow(timeline({ archiveDay: '2027-01-01' }))?.to).to.equal('2026-12-31');
      expect(
        effectiveWindow({ billingStartDate: '2024-01-01', billingEndDate: null, archiveDay: '2024-03-01' })?.to,
      ).to.equal('2024-02-29');
    });

    it('takes the earlier of the billing end and the day before archiving', () => {
      expect(effectiveWindow(timeline({ billingEndDate: '2026-11-30', archiveDay: '2026-11-20' }))?.to).to.equal('2026-11-19');
      expect(effectiveWindow(timeline({ billingEndDate: '2026-11-30', archiveDay: '2026-12-15' }))?.to).to.equal('2026-11-30');
      // Archived the day after the last billing day: nothing is lost.
      expect(effectiveWindow(timeline({ billingEndDate: '2026-11-30', archiveDay: '2026-12-01' }))?.to).to.equal('2026-11-30');
    });

    it('leaves only the start day when the archive day is the day after the start', () => {
      expect(effectiveWindow(timeline({ archiveDay: '2026-11-02' }))).to.deep.equal({ from: '2026-11-01', to: '2026-11-01' });
    });

    it('is null when archived on the start day or before the start', () => {
      expect(effectiveWindow(timeline({ archiveDay: '2026-11-01' }))).to.equal(null);
      expect(effectiveWindow(timeline({ archiveDay: '2026-10-15' }))).to.equal(null);
      expect(effectiveWindow(timeline({ billingEndDate: '2026-12-31', archiveDay: '2025-01-01' }))).to.equal(null);
    });

    it('is a single day when the billing end is the start day', () => {
      expect(effectiveWindow(timeline({ billingEndDate: '2026-11-01' }))).to.deep.equal({ from: '2026-11-01', to: '2026-11-01' });
    });
  });

  describe('rangesOverlap', () => {
    it('sees windows that share only one day (one ends the day the other starts) as overlapping', () => {
      const a = { from: '2026-01-01', to: '2026-01-31' };
      const b = { from: '2026-01-31', to: '2026-02-28' };
      expect(rangesOverlap(a, b)).to.equal(true);
      expect(rangesOverlap(b, a)).to.equal(true);
    });

    it('sees adjacent windows (one ends the day before the other starts) as not overlapping', () => {
      const a = { from: '2026-01-01', to: '2026-01-31' };
      const b = { from: '2026-02-01', to: '2026-02-28' };
      expect(rangesOverlap(a, b)).to.equal(false);
      expect(rangesOverlap(b, a)).to.equal(false);
    });

    it('sees a window inside another, and identical single days, as overlapping', () => {
      expect(rangesOverlap({ from: '2026-01-01', to: '2026-12-31' }, { from: '2026-06-01', to: '2026-06-30' })).to.equal(true);
      expect(rangesOverlap({ from: '2026-06-15', to: '2026-06-15' }, { from: '2026-06-15', to: '2026-06-15' })).to.equal(true);
    });

    it('lets an open end reach any later window, however far', () => {
      const open = { from: '2026-01-01', to: null };
      expect(rangesOverlap(open, { from: '2099-01-01', to: '2099-01-31' })).to.equal(true);
      expect(rangesOverlap({ from: '2099-01-01', to: '2099-01-31' }, open)).to.equal(true);
      expect(rangesOverlap(open, { from: '2030-01-01', to: null })).to.equal(true);
    });

    it('does not let an open end reach back before its start', () => {
      const open = { from: '2026-02-01', to: null };
      expect(rangesOverlap(open, { from: '2026-01-01', to: '2026-01-31' })).to.equal(false);
      expect(rangesOverlap({ from: '2026-01-01', to: '2026-01-31' }, open)).to.equal(false);
      expect(rangesOverlap(open, { from: '2026-01-01', to: '2026-02-01' })).to.equal(true);
    });
  });

  describe('billableSegments', () => {
    it('gives the single open segment of a new open-ended referral', () => {
      expect(plain(billableSegments(timeline()))).to.deep.equal([{ from: '2026-11-01', to: null, percentage: '12.5' }]);
    });

    it('ends the last segment at the billing end date, or the day before the archive day', () => {
      expect(plain(billableSegments(timeline({ billingEndDate: '2026-12-31' })))).to.deep.equal([
        { from: '2026-11-01', to: '2026-12-31', percentage: '12.5' },
      ]);
      expect(plain(billableSegments(timeline({ archiveDay: '2026-11-20' })))).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-19', percentage: '12.5' },
      ]);
    });

    it('clips to a range on both sides', () => {
      const t = timeline({ billingEndDate: '2026-12-31' });
      expect(plain(billableSegments(t, { from: '2026-11-10', to: '2026-11-20' }))).to.deep.equal([
        { from: '2026-11-10', to: '2026-11-20', percentage: '12.5' },
      ]);
      expect(plain(billableSegments(t, { from: '2026-10-01', to: '2026-11-05' }))).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-05', percentage: '12.5' },
      ]);
      expect(plain(billableSegments(t, { from: '2026-12-20', to: null }))).to.deep.equal([
        { from: '2026-12-20', to: '2026-12-31', percentage: '12.5' },
      ]);
    });

    it('is empty when the range misses the window, or when nothing is billable at all', () => {
      const t = timeline({ billingEndDate: '2026-12-31' });
      expect(billableSegments(t, { from: '2026-10-01', to: '2026-10-31' })).to.deep.equal([]);
      expect(billableSegments(t, { from: '2027-01-01', to: '2027-01-31' })).to.deep.equal([]);
      expect(billableSegments(timeline({ archiveDay: '2026-10-15' }))).to.deep.equal([]);
      expect(billableSegments(timeline({ archiveDay: '2026-11-01' }), { from: '2026-11-01', to: '2026-11-30' })).to.deep.equal([]);
    });

    it('keeps one segment per percentage across a change, clipped to the range', () => {
      const t = timeline({ history: [seg('2026-11-01', '2026-11-14', '12.5'), seg('2026-11-15', null, '20')] });
      expect(plain(billableSegments(t, { from: '2026-11-10', to: '2026-11-30' }))).to.deep.equal([
        { from: '2026-11-10', to: '2026-11-14', percentage: '12.5' },
        { from: '2026-11-15', to: '2026-11-30', percentage: '20' },
      ]);
    });

    it('merges adjacent segments with equal percentages into one maximal run', () => {
      const t = timeline({
        history: [seg('2026-11-01', '2026-11-09', '12.5'), seg('2026-11-10', '2026-11-19', '12.50'), seg('2026-11-20', null, '12.5')],
      });
      expect(plain(billableSegments(t))).to.deep.equal([{ from: '2026-11-01', to: null, percentage: '12.5' }]);
      expect(plain(billableSegments(t, { from: '2026-11-05', to: '2026-11-25' }))).to.deep.equal([
        { from: '2026-11-05', to: '2026-11-25', percentage: '12.5' },
      ]);
    });

    it('does not merge equal percentages that a different one separates', () => {
      const t = timeline({
        history: [seg('2026-11-01', '2026-11-09', '12.5'), seg('2026-11-10', '2026-11-19', '20'), seg('2026-11-20', null, '12.5')],
      });
      expect(plain(billableSegments(t))).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-09', percentage: '12.5' },
        { from: '2026-11-10', to: '2026-11-19', percentage: '20' },
        { from: '2026-11-20', to: null, percentage: '12.5' },
      ]);
    });

    it('merges equal percentages once the range has clipped away the different one between them', () => {
      const t = timeline({
        history: [seg('2026-11-01', '2026-11-09', '12.5'), seg('2026-11-10', '2026-11-19', '20'), seg('2026-11-20', null, '12.5')],
      });
      expect(plain(billableSegments(t, { from: '2026-11-20', to: '2026-11-30' }))).to.deep.equal([
        { from: '2026-11-20', to: '2026-11-30', percentage: '12.5' },
      ]);
    });

    it('drops history segments that lie after the billing end or from the archive day on', () => {
      const history = [seg('2026-11-01', '2026-11-30', '12.5'), seg('2026-12-01', '2026-12-31', '20'), seg('2027-01-01', null, '30')];
      expect(plain(billableSegments(timeline({ billingEndDate: '2026-11-30', history })))).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-30', percentage: '12.5' },
      ]);
      expect(plain(billableSegments(timeline({ archiveDay: '2026-12-10', history })))).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-30', percentage: '12.5' },
        { from: '2026-12-01', to: '2026-12-09', percentage: '20' },
      ]);
    });

    it('drops history segments that lie before the range', () => {
      const history = [seg('2026-11-01', '2026-11-30', '12.5'), seg('2026-12-01', null, '20')];
      expect(plain(billableSegments(timeline({ history }), { from: '2026-12-05', to: '2026-12-10' }))).to.deep.equal([
        { from: '2026-12-05', to: '2026-12-10', percentage: '20' },
      ]);
    });

    it('leaves the history it was given untouched', () => {
      const history = [seg('2026-11-01', '2026-11-09', '12.5'), seg('2026-11-10', null, '12.5')];
      billableSegments(timeline({ history, billingEndDate: '2026-11-20' }), { from: '2026-11-05', to: '2026-11-15' });
      expect(plain(history)).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-09', percentage: '12.5' },
        { from: '2026-11-10', to: null, percentage: '12.5' },
      ]);
    });
  });

  describe('percentageOn', () => {
    const history = [seg('2026-11-01', '2026-11-14', '12.5'), seg('2026-11-15', '2026-11-30', '20'), seg('2026-12-01', null, '7.25')];

    it('finds the segment a day falls in, both ends of a segment included', () => {
      expect(formatDecimal(percentageOn(history, '2026-11-01'))).to.equal('12.5');
      expect(formatDecimal(percentageOn(history, '2026-11-14'))).to.equal('12.5');
      expect(formatDecimal(percentageOn(history, '2026-11-15'))).to.equal('20');
      expect(formatDecimal(percentageOn(history, '2026-11-30'))).to.equal('20');
      expect(formatDecimal(percentageOn(history, '2026-12-01'))).to.equal('7.25');
    });

    it('uses the open last segment for any later day', () => {
      expect(formatDecimal(percentageOn(history, '2099-12-31'))).to.equal('7.25');
    });

    it('answers the first percentage for a day before the history starts (the one that will apply)', () => {
      expect(formatDecimal(percentageOn(history, '2026-10-31'))).to.equal('12.5');
    });

    it('throws on an empty history', () => {
      expect(() => percentageOn([], '2026-11-01')).to.throw(/percentage history/);
    });
  });

  describe('changePercentage (R8)', () => {
    const start = '2026-11-01';

    it('replaces the percentage with one open segment before the start', () => {
      const changed = changePercentage(initialHistory(start, new Dec('12.5')), start, new Dec('20'), '2026-10-20');
      expect(plain(changed)).to.deep.equal([{ from: start, to: null, percentage: '20' }]);
    });

    it('follows a moved start before the start (R7)', () => {
      const changed = changePercentage(initialHistory(start, new Dec('12.5')), '2026-11-15', new Dec('20'), '2026-10-20');
      expect(plain(changed)).to.deep.equal([{ from: '2026-11-15', to: null, percentage: '20' }]);
    });

    it('on a started referral closes the open segment yesterday and opens a new one today', () => {
      const changed = changePercentage(initialHistory(start, new Dec('12.5')), start, new Dec('20'), '2026-11-23');
      expect(plain(changed)).to.deep.equal([
        { from: start, to: '2026-11-22', percentage: '12.5' },
        { from: '2026-11-23', to: null, percentage: '20' },
      ]);
    });

    it('closes the old segment on the last day of the previous year when changed on 1 January', () => {
      const changed = changePercentage(initialHistory(start, new Dec('12.5')), start, new Dec('20'), '2027-01-01');
      expect(plain(changed)).to.deep.equal([
        { from: start, to: '2026-12-31', percentage: '12.5' },
        { from: '2027-01-01', to: null, percentage: '20' },
      ]);
    });

    it('on the start day itself replaces the percentage without leaving an empty segment', () => {
      const changed = changePercentage(initialHistory(start, new Dec('12.5')), start, new Dec('20'), start);
      expect(plain(changed)).to.deep.equal([{ from: start, to: null, percentage: '20' }]);
    });

    it('lets the later of two changes on one day win', () => {
      const today = '2026-11-23';
      const first = changePercentage(initialHistory(start, new Dec('12.5')), start, new Dec('20'), today);
      const second = changePercentage(first, start, new Dec('30'), today);
      expect(plain(second)).to.deep.equal([
        { from: start, to: '2026-11-22', percentage: '12.5' },
        { from: today, to: null, percentage: '30' },
      ]);
    });

    it('simply continues the earlier segment when changed back to the previous value on the same day', () => {
      const today = '2026-11-23';
      const there = changePercentage(initialHistory(start, new Dec('12.5')), start, new Dec('20'), today);
      const back = changePercentage(there, start, new Dec('12.50'), today);
      expect(plain(back)).to.deep.equal([{ from: start, to: null, percentage: '12.5' }]);
    });

    it('does not fold a change back into an older segment with the same value from an earlier day', () => {
      const history = [seg(start, '2026-11-14', '12.5'), seg('2026-11-15', null, '20')];
      const changed = changePercentage(history, start, new Dec('12.5'), '2026-11-23');
      expect(plain(changed)).to.deep.equal([
        { from: start, to: '2026-11-14', percentage: '12.5' },
        { from: '2026-11-15', to: '2026-11-22', percentage: '20' },
        { from: '2026-11-23', to: null, percentage: '12.5' },
      ]);
    });

    it('keeps the history as it is when the percentage does not change (compared by value)', () => {
      const history = [seg(start, '2026-11-14', '12.5'), seg('2026-11-15', null, '20')];
      expect(plain(changePercentage(history, start, new Dec('20.000'), '2026-11-23'))).to.deep.equal(plain(history));
    });

    it('leaves the history it was given untouched', () => {
      const history = initialHistory(start, new Dec('12.5'));
      changePercentage(history, start, new Dec('20'), '2026-11-23');
      const unchanged = changePercentage(history, start, new Dec('12.5'), '2026-11-23');
      unchanged[0]!.to = '2026-11-30';
      expect(plain(history)).to.deep.equal([{ from: start, to: null, percentage: '12.5' }]);
    });
  });

  describe('findOverAllocation (R5)', () => {
    it('finds nothing without referrals', () => {
      expect(findOverAllocation([])).to.equal(null);
      expect(findOverAllocation([[], []])).to.equal(null);
    });

    it('allows exactly 100 on a day', () => {
      expect(findOverAllocation([[seg('2026-11-01', null, '60')], [seg('2026-11-01', null, '40')]])).to.equal(null);
      expect(
        findOverAllocation([[seg('2026-11-01', null, '33.3333')], [seg('2026-11-01', null, '33.3333')], [seg('2026-11-01', null, '33.3334')]]),
      ).to.equal(null);
    });

    it('reports 100.0001 on the first offending day, with the exact sum', () => {
      const found = findOverAllocation([
        [seg('2026-11-01', null, '50')],
        [seg('2026-11-10', null, '30')],
        [seg('2026-11-20', '2026-11-25', '20.0001')],
      ]);
      expect(found?.day).to.equal('2026-11-20');
      expect(formatDecimal(found!.sum)).to.equal('100.0001');
    });

    it('counts open-ended segments on every later day', () => {
      const found = findOverAllocation([[seg('2026-01-01', null, '70')], [seg('2030-06-01', null, '40')]]);
      expect(found?.day).to.equal('2030-06-01');
      expect(formatDecimal(found!.sum)).to.equal('110');
    });

    it('does not add up a segment that ends the day before another starts', () => {
      expect(findOverAllocation([[seg('2026-11-01', '2026-11-30', '60')], [seg('2026-12-01', null, '60')]])).to.equal(null);
    });

    it('adds up segments that share a single day, and reports that day', () => {
      const found = findOverAllocation([[seg('2026-11-01', '2026-11-30', '60')], [seg('2026-11-30', null, '60')]]);
      expect(found?.day).to.equal('2026-11-30');
      expect(formatDecimal(found!.sum)).to.equal('120');
    });

    it('follows each referral through its percentage history', () => {
      const referralA = [seg('2026-11-01', '2026-11-14', '50'), seg('2026-11-15', null, '70')];
      const referralB = [seg('2026-11-01', null, '40')];
      const found = findOverAllocation([referralA, referralB]);
      expect(found?.day).to.equal('2026-11-15');
      expect(formatDecimal(found!.sum)).to.equal('110');
    });

    it('does not add up the old and the new percentage of one referral across a change', () => {
      expect(findOverAllocation([[seg('2026-11-01', '2026-11-14', '60'), seg('2026-11-15', null, '100')]])).to.equal(null);
    });

    it('reports the start of an over-allocation that ends again later', () => {
      const found = findOverAllocation([
        [seg('2026-11-01', '2026-11-10', '60')],
        [seg('2026-11-05', '2026-11-20', '50')],
        [seg('2026-11-15', '2026-11-30', '50')],
      ]);
      expect(found?.day).to.equal('2026-11-05');
      expect(formatDecimal(found!.sum)).to.equal('110');
    });

    it('sees no over-allocation once archiving has removed the overlapping days from the billable segments', () => {
      const archived = billableSegments(timeline({ history: [seg('2026-11-01', null, '60')], archiveDay: '2026-12-01' }));
      const successor = billableSegments(timeline({ billingStartDate: '2026-12-01', history: [seg('2026-12-01', null, '60')] }));
      expect(findOverAllocation([archived, successor])).to.equal(null);
    });

    it('takes another limit when given one', () => {
      const found = findOverAllocation([[seg('2026-11-01', null, '30')], [seg('2026-11-02', null, '30')]], new Dec(50));
      expect(found?.day).to.equal('2026-11-02');
      expect(formatDecimal(found!.sum)).to.equal('60');
    });
  });
});
