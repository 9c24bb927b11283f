import type { ServiceContext } from '../context';

/**
 * Who holds a running run (SPEC §6.5): a claim through src/db/claim.ts, `host:pid:nonce`, with a
 * lease renewed while its holder works (every third of it). Expiry only: a run whose holder was
 * killed is resumed once its lease has run out by the database's clock (SETTLEMENT_LEASE_SECONDS,
 * 30 by default); a holder that stops or fails hands its lease back, so that the next settle
 * resumes at once.
 */
export const DEFAULT_LEASE_SECONDS = 30;

export const leaseSecondsOf = (ctx: ServiceContext) => ctx.settlementLeaseSeconds ?? DEFAULT_LEASE_SECONDS;
