import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { publicOnlyLookup, whyNotPublic, type UrlPolicy } from './url-safety';

/** What one POST to a receiver came to (an attempt of the delivery log). */
export interface SendResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  /** The first 1 KB of the answer. */
  response: string | null;
}

const RESPONSE_KEPT_BYTES = 1024;
/** More of an answer than this is not read: the connection is closed instead. */
const RESPONSE_READ_BYTES = 64 * 1024;

/**
 * POSTs a body to a receiver, once: a 2xx within `timeoutMs` is a success, anything else (another
 * status, a redirect — never followed —, a timeout, a refused connection or address) is not.
 * Without WEBHOOK_ALLOW_PRIVATE the socket connects only to public addresses (checked on the
 * address resolved for this very connection). Connections are kept open between deliveries
 * (receiverAgent); a request that a kept connection fails before any answer (the receiver closed it
 * while idle) is sent once more on a new one.
 */
export function postWebhook(url: string, headers: Record<string, string>, body: string, options: { timeoutMs: number; policy: UrlPolicy }): Promise<SendResult> {
  return post(url, headers, body, options, process.hrtime.bigint(), false);
}

function post(url: string, headers: Record<string, string>, body: string, options: { timeoutMs: number; policy: UrlPolicy }, started: bigint, again: boolean): Promise<SendResult> {
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: Omit<SendResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: elapsed() });
    };
    const fail = (error: string) => finish({ ok: false, httpStatus: null, error: error.slice(0, 500), response: null });

    let target: URL;
    try {
      target = new URL(url);
    } catch {
      fail('not a URL');
      return;
    }
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!options.policy.allowPrivate && net.isIP(host)) {
      const why = whyNotPublic(host);
      if (why) return fail(`refused: ${why}`);
    }
    if (target.protocol !== 'https:' && !(options.policy.allowHttp && target.protocol === 'http:')) return fail(`refused: ${target.protocol} URLs are not sent to`);

    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(
      target,
      {
        method: 'POST',
        // Sent again: on a new connection, not on another kept one that may be closed as well.
        agent: again ? false : receiverAgent(target, options.policy),
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'referral-service-webhooks/1', ...headers },
        ...(options.policy.allowPrivate ? {} : { lookup: publicOnlyLookup as never }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let read = 0;
        const done = () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).subarray(0, RESPONSE_KEPT_BYTES).toString('utf8');
          finish({ ok: status >= 200 && status < 300, httpStatus: status, error: null, response: text === '' ? null : text });
        };
        res.on('data', (chunk: Buffer) => {
          if (read < RESPONSE_KEPT_BYTES) chunks.push(chunk);
          read += chunk.length;
          if (read >= RESPONSE_READ_BYTES) {
            done();
            // The rest is not read: the connection is closed rather than kept.
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', (err) => fail(err.message));
      },
    );
    timer = setTimeout(() => {
      fail(`no answer within ${options.timeoutMs / 1000} s`);
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!settled && !again && req.reusedSocket && err.code === 'ECONNRESET') {
        // A kept connection the receiver had closed: the request never reached it. Once more, on a new one.
        settled = true;
        clearTimeout(timer);
        resolve(post(url, headers, body, options, started, true));
        return;
      }
      fail(err.code === 'EUNSAFEADDRESS' ? `refused: ${err.message}` : err.code ? `${err.code}: ${err.message}` : err.message);
    });
    req.end(body);
  });
}

/** Idle connections to a receiver are closed after this long (receivers often close theirs after 5 s). */
const IDLE_MS = 4000;
/**
 * Idle connections kept open to one origin at most. The connections in use are not limited: the
 * endpoints of one host must never wait for one another (a hanging one holds its connection until
 * its timeout).
 */
const MAX_FREE_SOCKETS = 8;
/** Receivers' agents kept at most; past that, the oldest is closed. */
const MAX_AGENTS = 1000;
const agents = new Map<string, http.Agent>();

/**
 * The agent of a receiver's origin (and URL policy): its connections are kept open between
 * deliveries, so a busy endpoint does not pay a TCP (and TLS) handshake for each event. A new
 * connection is still made through publicOnlyLookup (the `lookup` of the request), so the address
 * checked is the address of that very socket, and an open socket keeps the address it was checked
 * at. Idle sockets do not keep the process alive and are closed after IDLE_MS.
 */
function receiverAgent(target: URL, policy: UrlPolicy): http.Agent {
  const key = `${target.protocol}//${target.host}|${policy.allowPrivate ? 'private' : 'public'}`;
  let agent = agents.get(key);
  if (!agent) {
    const settings = { keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS, timeout: IDLE_MS };
    agent = target.protocol === 'https:' ? new https.Agent(settings) : new http.Agent(settings);
    if (agents.size >= MAX_AGENTS) {
      const [oldest, old] = agents.entries().next().value as [string, http.Agent];
      agents.delete(oldest);
      old.destroy();
    }
    agents.set(key, agent);
  }
  return agent;
}
