import cc from 'currency-codes';

/**
 * ISO 4217 data comes from the maintained `currency-codes` package: the list of codes and each
 * currency's minor units (EUR 2, JPY 0, KWD 3).
 *
 * ISO 4217 gives some codes no minor unit at all ("N.A."): precious metals, bond-market units, the
 * SDR, the testing code and "no currency". The package reports them as 0 digits, which would make
 * a statement round gold to whole troy ounces; they are not currencies revenue is invoiced in, so
 * contracts refuse them.
 */
const NO_MINOR_UNIT = new Set(['XAG', 'XAU', 'XBA', 'XBB', 'XBC', 'XBD', 'XDR', 'XPD', 'XPT', 'XSU', 'XTS', 'XUA', 'XXX']);

export function isKnownCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && cc.code(code) !== undefined && !NO_MINOR_UNIT.has(code);
}

const digitsByCode = new Map<string, number>();

export function currencyDigits(code: string): number {
  const known = digitsByCode.get(code);
  if (known !== undefined) return known;
  const entry = cc.code(code);
  if (!entry) throw new Error(`unknown currency ${code}`);
  digitsByCode.set(code, entry.digits);
  return entry.digits;
}
