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
 * address resolved for this very connection). No connection is reused.
 */
export function postWebhook(url: string, headers: Record<string, string>, body: string, options: { timeoutMs: number; policy: UrlPolicy }): Promise<SendResult> {
  const started = process.hrtime.bigint();
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
        agent: false,
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
          res.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (read < RESPONSE_KEPT_BYTES) chunks.push(chunk);
          read += chunk.length;
          if (read >= RESPONSE_READ_BYTES) done();
        });
        res.on('end', done);
        res.on('error', (err) => fail(err.message));
      },
    );
    timer = setTimeout(() => {
      fail(`no answer within ${options.timeoutMs / 1000} s`);
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'EUNSAFEADDRESS' ? `refused: ${err.message}` : err.code ? `${err.code}: ${err.message}` : err.message));
    req.end(body);
  });
}
