import { expect } from 'chai';
import { Dec, formatDecimal, formatMoney, writtenScale } from '../../src/domain/decimal';
import { DecimalInput, JsonNumber, type DecimalRule } from '../../src/schemas/common';

describe('decimals (domain/decimal)', () => {
  describe('formatDecimal', () => {
    it('writes plain integers and decimals as they are', () => {
      expect(formatDecimal(new Dec('12.5'))).to.equal('12.5');
      expect(formatDecimal(new Dec('100'))).to.equal('100');
      expect(formatDecimal(new Dec('-0.25'))).to.equal('-0.25');
      expect(formatDecimal(new Dec('0.0001'))).to.equal('0.0001');
    });

    it('strips trailing zeros, also from integers written with decimals', () => {
      expect(formatDecimal(new Dec('12.50'))).to.equal('12.5');
      expect(formatDecimal(new Dec('100.0000'))).to.equal('100');
      expect(formatDecimal(new Dec('1.2300'))).to.equal('1.23');
      expect(formatDecimal(new Dec('-7.10'))).to.equal('-7.1');
    });

    it('never uses an exponent, for tiny or huge values', () => {
      expect(formatDecimal(new Dec('1e-10'))).to.equal('0.0000000001');
      expect(formatDecimal(new Dec('-1.5e-12'))).to.equal('-0.0000000000015');
      expect(formatDecimal(new Dec('1e30'))).to.equal('1000000000000000000000000000000');
      expect(formatDecimal(new Dec('1.25e30'))).to.equal('1250000000000000000000000000000');
      expect(formatDecimal(new Dec('123456789012345678901234567890.123456789'))).to.equal(
        '123456789012345678901234567890.123456789',
      );
    });

    it('keeps results of exact arithmetic exact (no float noise)', () => {
      expect(formatDecimal(new Dec('0.1').plus('0.2'))).to.equal('0.3');
      expect(formatDecimal(new Dec('1234.56').times('12.5').div(100))).to.equal('154.32');
      expect(formatDecimal(new Dec('1.1').times('1.1'))).to.equal('1.21');
    });

    it('writes negative zero as "0"', () => {
      expect(formatDecimal(new Dec('-0'))).to.equal('0');
      expect(formatDecimal(new Dec('-0.000'))).to.equal('0');
      expect(formatDecimal(new Dec('0.5').minus('0.5').negated())).to.equal('0');
    });
  });

  describe('formatMoney', () => {
    it('pads to two minor digits (EUR)', () => {
      expect(formatMoney(new Dec('1234.5'), 2)).to.equal('1234.50');
      expect(formatMoney(new Dec('1234'), 2)).to.equal('1234.00');
      expect(formatMoney(new Dec('0'), 2)).to.equal('0.00');
      expect(formatMoney(new Dec('-3.1'), 2)).to.equal('-3.10');
    });

    it('adds no decimal point for zero minor digits (JPY)', () => {
      expect(formatMoney(new Dec('1234'), 0)).to.equal('1234');
      expect(formatMoney(new Dec('1234.000'), 0)).to.equal('1234');
      expect(formatMoney(new Dec('0'), 0)).to.equal('0');
    });

    it('pads to three minor digits (KWD)', () => {
      expect(formatMoney(new Dec('1.5'), 3)).to.equal('1.500');
      expect(formatMoney(new Dec('12'), 3)).to.equal('12.000');
      expect(formatMoney(new Dec('0.125'), 3)).to.equal('0.125');
    });

    it('keeps more digits than the currency has when they are present, never rounding them away', () => {
      expect(formatMoney(new Dec('1234.5'), 0)).to.equal('1234.5');
      expect(formatMoney(new Dec('0.123456'), 2)).to.equal('0.123456');
      expect(formatMoney(new Dec('1.0005'), 3)).to.equal('1.0005');
    });

    it('never uses an exponent and never writes a negative zero', () => {
      expect(formatMoney(new Dec('1e30'), 2)).to.equal('1000000000000000000000000000000.00');
      expect(formatMoney(new Dec('1e-10'), 2)).to.equal('0.0000000001');
      expect(formatMoney(new Dec('-0'), 2)).to.equal('0.00');
      expect(formatMoney(new Dec('-0'), 0)).to.equal('0');
    });
  });

  describe('writtenScale', () => {
    it('counts the digits after the point as written, trailing zeros included', () => {
      expect(writtenScale('100')).to.equal(0);
      expect(writtenScale('12.5')).to.equal(1);
      expect(writtenScale('1.50')).to.equal(2);
      expect(writtenScale('-0.0001')).to.equal(4);
      expect(writtenScale('0.1000000000000000055511151231257827')).to.equal(34);
    });
  });

  describe('DecimalInput schema', () => {
    const percentageRule: DecimalRule = {
      maxScale: 4,
      greaterThan: '0',
      atMost: '100',
      example: '12.5',
      description: 'a percentage',
    };
    const Percentage = DecimalInput(percentageRule);

    function accepted(schema: ReturnType<typeof DecimalInput>, input: unknown): string {
      const result = schema.safeParse(input);
      if (!result.success) throw new Error(`expected ${String(input)} to be accepted: ${result.error.message}`);
      return formatDecimal(result.data);
    }

    function rejections(schema: ReturnType<typeof DecimalInput>, input: unknown): string[] {
      const result = schema.safeParse(input);
      expect(result.success, `${JSON.stringify(input)} should be rejected`).to.equal(false);
      return result.success ? [] : result.error.issues.map((i) => i.message);
    }

    it('accepts a decimal string, a JSON number and an integer string, as exact Decimals', () => {
      expect(accepted(Percentage, '12.5')).to.equal('12.5');
      expect(accepted(Percentage, 12.5)).to.equal('12.5');
      expect(accepted(Percentage, '100')).to.equal('100');
      expect(accepted(Percentage, 100)).to.equal('100');
      expect(accepted(Percentage, '0.0001')).to.equal('0.0001');
      expect(accepted(Percentage, '12.5000')).to.equal('12.5');
    });

    it('returns a decimal.js value, not a number', () => {
      const result = Percentage.safeParse('12.5');
      expect(result.success).to.equal(true);
      if (result.success) {
        expect(result.data).to.be.instanceOf(Dec);
        expect(result.data.equals(new Dec('12.5'))).to.equal(true);
      }
    });

    it('rejects an exponent, written as a string or as a number that prints with one', () => {
      expect(rejections(Percentage, '1e2')).to.deep.equal(['must be a plain decimal such as "12.5" (no exponent, no spaces)']);
      expect(rejections(Percentage, '1E2')).to.have.length(1);
      expect(rejections(Percentage, new JsonNumber('1e2'))).to.have.length(1);
      expect(rejections(Percentage, new JsonNumber('1.5E+1'))).to.have.length(1);
    });

    it('rejects spaces, a lone point at either end, a plus sign and other non-plain forms', () => {
      for (const input of [' 12', '12 ', '12.', '.5', '+12', '1,5', '12\n', '0x10', '', '-', 'NaN', 'Infinity', '１２']) {
        expect(rejections(Percentage, input), JSON.stringify(input)).to.deep.equal([
          'must be a plain decimal such as "12.5" (no exponent, no spaces)',
        ]);
      }
    });

    it('rejects values that are neither strings nor numbers', () => {
      for (const input of [null, undefined, true, {}, ['12.5']]) {
        expect(rejections(Percentage, input), String(input)).to.deep.equal(['must be a decimal number or a decimal string']);
      }
    });

    it('rejects more decimals than allowed instead of rounding, counting written trailing zeros', () => {
      expect(rejections(Percentage, '12.12345')).to.deep.equal(['must have at most 4 decimal places']);
      expect(rejections(Percentage, '12.50000')).to.deep.equal(['must have at most 4 decimal places']);
      expect(rejections(Percentage, 12.12345)).to.deep.equal(['must have at most 4 decimal places']);
      expect(accepted(DecimalInput({ ...percentageRule, maxScale: 0 }), '12')).to.equal('12');
      expect(rejections(DecimalInput({ ...percentageRule, maxScale: 0 }), '12.0')).to.deep.equal([
        'must have at most 0 decimal places',
      ]);
    });

    it('treats greaterThan as an exclusive lower bound', () => {
      expect(rejections(Percentage, '0')).to.deep.equal(['must be greater than 0']);
      expect(rejections(Percentage, '-0.0001')).to.deep.equal(['must be greater than 0']);
      expect(rejections(Percentage, -5)).to.deep.equal(['must be greater than 0']);
      expect(accepted(Percentage, '0.0001')).to.equal('0.0001');
    });

    it('treats atMost as an inclusive upper bound', () => {
      expect(accepted(Percentage, '100')).to.equal('100');
      expect(accepted(Percentage, '100.0000')).to.equal('100');
      expect(rejections(Percentage, '100.0001')).to.deep.equal(['must be at most 100']);
      expect(rejections(Percentage, 101)).to.deep.equal(['must be at most 100']);
    });

    it('rejects zero and negative zero when nonZero is asked for, and accepts negatives otherwise unbounded', () => {
      const Adjustment = DecimalInput({ maxScale: 2, nonZero: true, example: '-3.5', description: 'an adjustment' });
      expect(rejections(Adjustment, '0')).to.deep.equal(['must not be zero']);
      expect(rejections(Adjustment, '-0.00')).to.deep.equal(['must not be zero']);
      expect(rejections(Adjustment, 0)).to.deep.equal(['must not be zero']);
      expect(accepted(Adjustment, '-3.5')).to.equal('-3.5');
      expect(accepted(Adjustment, '99999999999999999999.99')).to.equal('99999999999999999999.99');
    });

    it('reports every broken bound, not just the first', () => {
      const Strict = DecimalInput({ maxScale: 2, greaterThan: '0', nonZero: true, example: '1', description: 'strict' });
      expect(rejections(Strict, '0')).to.have.members(['must be greater than 0', 'must not be zero']);
    });

    it('accepts a JsonNumber with its exact digits', () => {
      expect(accepted(Percentage, new JsonNumber('12.1234'))).to.equal('12.1234');
      expect(accepted(Percentage, new JsonNumber('99.9999'))).to.equal('99.9999');
      expect(accepted(Percentage, new JsonNumber('0.0001'))).to.equal('0.0001');
    });

    it('rejects a JsonNumber whose exact text has too many decimals, though a float would have hidden them', () => {
      // As a float this is 0.1, which would pass; its written form has 34 decimals.
      const raw = '0.1000000000000000055511151231257827';
      expect(String(Number(raw))).to.equal('0.1');
      expect(rejections(Percentage, new JsonNumber(raw))).to.deep.equal(['must have at most 4 decimal places']);
    });

    it('keeps digits of a JsonNumber that a float would have lost', () => {
      const Amount = DecimalInput({ maxScale: 20, example: '1', description: 'an amount' });
      expect(accepted(Amount, new JsonNumber('12.12345678901234567891'))).to.equal('12.12345678901234567891');
      expect(accepted(Amount, new JsonNumber('9007199254740993.5'))).to.equal('9007199254740993.5');
    });

    it('applies the bounds to the exact JsonNumber, not to its float', () => {
      // 100.00000000000000001 is 100 as a float, but more than 100 as written.
      const Wide = DecimalInput({ maxScale: 20, greaterThan: '0', atMost: '100', example: '1', description: 'wide' });
      expect(Number('100.00000000000000001')).to.equal(100);
      expect(rejections(Wide, new JsonNumber('100.00000000000000001'))).to.deep.equal(['must be at most 100']);
    });
  });
});
