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

/** What each IPv4 range that is not public unicast is called in a refusal. */
const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  uniqueLocal: 'a private (unique local) address',
  linkLocal: 'a link-local address',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  carrierGradeNat: 'a carrier-grade NAT address',
};

const v4 = (hi: number, lo: number) => ipaddr.fromByteArray([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]) as ipaddr.IPv4;

/**
 * The IPv4 addresses an IPv6 address carries, by the form that embeds them, or null for an
 * address of none of these forms: IPv4-compatible (::a.b.c.d, RFC 4291, deprecated but still
 * routed to the IPv4 host by some stacks), IPv4-mapped (::ffff:a.b.c.d), IPv4-translated
 * (::ffff:0:a.b.c.d, RFC 6145), NAT64 (64:ff9b::a.b.c.d, RFC 6052), 6to4 (2002:aabb:ccdd::/48,
 * RFC 3056) and Teredo (2001:0::/32, RFC 4380: the server, and the client's address inverted).
 */
export function embeddedIPv4(address: ipaddr.IPv6): { form: string; addresses: ipaddr.IPv4[] } | null {
  const p = address.parts;
  const zeros = (from: number, to: number) => p.slice(from, to).every((x) => x === 0);
  if (zeros(0, 6) && !(p[6] === 0 && (p[7] === 0 || p[7] === 1))) return { form: 'IPv4-compatible', addresses: [v4(p[6]!, p[7]!)] };
  if (zeros(0, 5) && p[5] === 0xffff) return { form: 'IPv4-mapped', addresses: [v4(p[6]!, p[7]!)] };
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return { form: 'IPv4-translated', addresses: [v4(p[6]!, p[7]!)] };
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(2, 6)) return { form: 'NAT64', addresses: [v4(p[6]!, p[7]!)] };
  if (p[0] === 0x2002) return { form: '6to4', addresses: [v4(p[1]!, p[2]!)] };
  if (p[0] === 0x2001 && p[1] === 0) return { form: 'Teredo', addresses: [v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff)] };
  return null;
}

/**
 * Public unicast only: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
 * (169.254/16 with the cloud metadata address 169.254.169.254, fe80::/10), carrier-grade NAT,
 * multicast, unspecified, reserved and documentation ranges are not. An IPv6 address that embeds
 * an IPv4 address (see embeddedIPv4) is judged by the address it embeds: `[::127.0.0.1]`, which
 * a URL spells `[::7f00:1]`, is a loopback address, as `[::ffff:127.0.0.1]` is; one whose
 * embedded address is public is as public as that address (NAT64 is how an IPv6-only network
 * reaches an IPv4 host). The local-use NAT64 prefix 64:ff9b:1::/48 is refused whole: where it
 * carries its IPv4 address depends on the network's prefix length.
 */
export function whyNotPublic(address: string): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const parsed = ipaddr.parse(net.isIPv6(address) ? withoutDottedQuad(address) : address);
  if (parsed.kind() === 'ipv6') {
    const embedded = embeddedIPv4(parsed as ipaddr.IPv6);
    if (embedded) {
      for (const inner of embedded.addresses) {
        const why = whyNotPublicIPv4(inner);
        if (why) return `${parsed.toString()} is ${embedded.form}: ${why}`;
      }
      return null;
    }
  }
  const range = parsed.range();
  if (range === 'unicast') return null;
  return `${parsed.toString()} is ${RANGE_NAMES[range] ?? `a ${range} address, not a public one`}`;
}

/**
 * An IPv6 address whose last 32 bits are written as a dotted quad, with them in hex instead:
 * ipaddr.js reads `::a.b.c.d` (IPv4-compatible) as `::ffff:a.b.c.d` (IPv4-mapped).
 */
function withoutDottedQuad(address: string): string {
  return address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
}

function whyNotPublicIPv4(address: ipaddr.IPv4): string | null {
  const range = address.range();
  return range === 'unicast' ? null : `${address.toString()} is ${RANGE_NAMES[range] ?? `a ${range} address, not a public one`}`;
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
