import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { unprocessable } from '../../domain/errors';

/**
 * Where webhooks may go (SPEC §13): https only unless WEBHOOK_ALLOW_HTTP=true, and only to hosts
 * whose addresses are all public unless WEBHOOK_ALLOW_PRIVATE=true. Checked when an endpoint is
 * created or changed, and again at every connection (the address actually connected to), so that
 * a host that later resolves elsewhere (DNS rebinding) is not sent to either.
 */
export interface UrlPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

/**
 * Public unicast only: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
 * (169.254/16 with the cloud metadata address 169.254.169.254, fe80::/10), carrier-grade NAT,
 * multicast, unspecified, reserved and documentation ranges are not. An IPv4-mapped IPv6 address
 * (::ffff:127.0.0.1) counts as the IPv4 address it maps; other IPv6 forms that embed an IPv4
 * address (6to4, Teredo, NAT64) are refused.
 */
export function whyNotPublic(address: string): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (range === 'unicast') return null;
  const names: Record<string, string> = {
    loopback: 'a loopback address',
    private: 'a private address',
    uniqueLocal: 'a private (unique local) address',
    linkLocal: 'a link-local address',
    unspecified: 'the unspecified address',
    multicast: 'a multicast address',
    broadcast: 'the broadcast address',
    carrierGradeNat: 'a carrier-grade NAT address',
  };
  return `${parsed.toString()} is ${names[range] ?? `a ${range} address, not a public one`}`;
}

export class UnsafeUrlError extends Error {}

/** Why a URL may not be sent to, or null; resolves its host (all addresses must be public). */
export async function whyUnsafe(url: string, policy: UrlPolicy): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${url} is not an absolute URL`;
  }
  if (parsed.protocol !== 'https:' && !(policy.allowHttp && parsed.protocol === 'http:')) {
    return policy.allowHttp ? 'only https and http URLs receive webhooks' : 'only https URLs receive webhooks';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'a webhook URL carries no user name or password';
  if (policy.allowPrivate) return null;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(host)) return whyNotPublic(host);
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true, verbatim: true });
  } catch {
    return `${host} does not resolve`;
  }
  for (const a of addresses) {
    const why = whyNotPublic(a.address);
    if (why) return `${host} resolves to ${why}`;
  }
  return addresses.length === 0 ? `${host} does not resolve` : null;
}

/** 422 invalid-webhook-url unless the URL may be sent to. */
export async function assertSafeUrl(url: string, policy: UrlPolicy): Promise<void> {
  const why = await whyUnsafe(url, policy);
  if (why) throw unprocessable('invalid-webhook-url', `${url} cannot receive webhooks: ${why}.`, [{ path: 'body.url', message: policy.allowHttp ? 'must be a public http(s) URL' : 'must be a public https URL' }]);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses to connect to an address that is not public: the
 * check is made on the address the socket will use, not on an earlier answer.
 */
export function publicOnlyLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const why = whyNotPublic(a.address);
      if (why) return callback(Object.assign(new UnsafeUrlError(`${hostname} resolves to ${why}`), { code: 'EUNSAFEADDRESS' }), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
