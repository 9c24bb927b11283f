import { preconditionFailed } from './errors';

/** Strong ETag of a versioned resource (SPEC §7.3): changes whenever the stored version does. */
export const etagOf = (kind: string, id: number, version: number) => `"${kind}-${id}-v${version}"`;

/**
 * A referral shows its contract's number and its referrer's code and name: its ETag changes with
 * the versions of those two as well, so that it changes whenever the representation can.
 */
export const referralEtag = (r: { id: number; version: number; contractVersion: number; referrerVersion: number }) =>
  `"referral-${r.id}-v${r.version}.${r.contractVersion}.${r.referrerVersion}"`;

/** If-Match: absent passes; `*` passes for an existing resource; otherwise one of the tags must match. */
export function assertIfMatch(ifMatch: string | undefined, currentEtag: string): void {
  if (ifMatch === undefined) return;
  const tags = ifMatch.split(',').map((t) => t.trim());
  if (tags.includes('*') || tags.includes(currentEtag)) return;
  throw preconditionFailed(`If-Match ${ifMatch} does not match the current version ${currentEtag}; read the resource again.`);
}
