import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * A real webhook receiver on 127.0.0.1, as an ERP would run one: every request is verified with
 * the `standardwebhooks` package against the secrets it was given (a request no secret verifies
 * is answered 401 and counted as unverified), and deduplicated by `webhook-id`.
 */
export interface Received {
  id: string;
  timestamp: string;
  signatures: string[];
  body: string;
  event: { id: number; sequence: number; type: string; createdDate: string; bunitIds: number[]; data: Record<string, unknown> };
  /** The secrets (by index in `secrets`) that verify it on their own. */
  verifiedBy: number[];
  receivedAt: number;
}

export interface Receiver {
  url: string;
  /** Secrets the receiver accepts (add the new one after a rotation). */
  secrets: string[];
  /** Every verified request, in the order they came, duplicates included. */
  requests: Received[];
  /** Requests that no secret verified. */
  unverified: { headers: http.IncomingHttpHeaders; body: string; error: string }[];
  /** The verified events, one per webhook-id, in the order they first came. */
  events(): Received[];
  /** How the next request is answered: a status (and body), or a delay first. */
  respond: (req: Received) => { status: number; body?: string; delayMs?: number; headers?: Record<string, string> };
  /** Resolves once `predicate` holds (checked on every request and every 50 ms), or rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(secrets: string[] = []): Promise<Receiver> {
  const receiver = {
    secrets,
    requests: [] as Received[],
    unverified: [] as Receiver['unverified'],
    respond: () => ({ status: 200 }),
  } as unknown as Receiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const verifiedBy: number[] = [];
      let lastError = 'no secret';
      receiver.secrets.forEach((secret, i) => {
        try {
          new Webhook(secret).verify(body, headers);
          verifiedBy.push(i);
        } catch (err) {
          lastError = (err as Error).message;
        }
      });
      if (verifiedBy.length === 0) {
        receiver.unverified.push({ headers: req.headers, body, error: lastError });
        res.writeHead(401).end('unverified');
        return;
      }
      const received: Received = {
        id: headers['webhook-id']!,
        timestamp: headers['webhook-timestamp']!,
        signatures: headers['webhook-signature']!.split(' '),
        body,
        event: JSON.parse(body) as Received['event'],
        verifiedBy,
        receivedAt: Date.now(),
      };
      receiver.requests.push(received);
      const answer = receiver.respond(received);
      const reply = () => res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}/hooks`;
  receiver.events = () => {
    const seen = new Map<string, Received>();
    for (const r of receiver.requests) if (!seen.has(r.id)) seen.set(r.id, r);
    return [...seen.values()];
  };
  receiver.until = async (predicate, timeoutMs = 15_000, what = 'the condition') => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`receiver: ${what} did not happen within ${timeoutMs} ms (${receiver.requests.length} requests, ${receiver.unverified.length} unverified)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
