import cc from 'currency-codes';

/**
 * ISO 4217 data comes from the maintained `currency-codes` package: the list of codes and each
 * currency's minor units (EUR 2, JPY 0, KWD 3).
 */
export function isKnownCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && cc.code(code) !== undefined;
}

export function currencyDigits(code: string): number {
  const entry = cc.code(code);
  if (!entry) throw new Error(`unknown currency ${code}`);
  return entry.digits;
}
