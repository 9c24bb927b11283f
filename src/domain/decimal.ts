import Decimal from 'decimal.js';

/**
 * The single string <-> Decimal codec. Money and percentages are Decimal inside, canonical
 * strings outside (no exponent, no trailing zeros unless a currency's minor units ask for them),
 * and exact TEXT/NUMERIC columns in the database.
 */
export const Dec = Decimal.clone({
  precision: 80,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpNeg: -1000,
  toExpPos: 1000,
});
export type Dec = Decimal;

export const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

/** Digits after the decimal point as written (trailing zeros count: "1.50" has 2). */
export function writtenScale(text: string): number {
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

export function toDec(value: string | number | Decimal): Decimal {
  return new Dec(value);
}

/** Canonical form: "12.5", "100", "-0.25". */
export function formatDecimal(value: Decimal): string {
  return value.isZero() ? '0' : value.toFixed();
}

/** Money in a currency: at least the currency's minor digits ("1234.50"), more only if present. */
export function formatMoney(value: Decimal, minorDigits: number): string {
  return value.toFixed(Math.max(minorDigits, value.decimalPlaces()));
}
