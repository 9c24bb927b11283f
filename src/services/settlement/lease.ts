import crypto from 'node:crypto';
import os from 'node:os';

/**
 * Who holds a running run (SPEC §6.5): `host:pid:nonce`. A lease is renewed while its holder
 * works; an expired one may be taken over. A holder on this machine whose process is gone, or an
 * executor of this process that ended, has given its lease up already: the next settle need not
 * wait for it to expire (a killed settle command is resumed at once).
 */
export const LEASE_MS = 30_000;
export const RENEW_EVERY_MS = 5_000;

const host = os.hostname().replace(/:/g, '_');
const liveInThisProcess = new Set<string>();

export function newLeaseOwner(): string {
  const owner = `${host}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  liveInThisProcess.add(owner);
  return owner;
}

/** The owner's work ended (finished or failed) in this process. */
export function leaseOwnerGone(owner: string): void {
  liveInThisProcess.delete(owner);
}

/** Whether a lease still stands: not expired, and its holder is not known to be gone. */
export function leaseIsLive(owner: string | null, until: string | null, nowMs: number): boolean {
  if (owner === null || until === null || Date.parse(until) <= nowMs) return false;
  const [ownerHost, pidText] = owner.split(':');
  if (ownerHost !== host) return true;
  const pid = Number(pidText);
  if (pid === process.pid) return liveInThisProcess.has(owner);
  return processAlive(pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
