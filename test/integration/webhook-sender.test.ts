import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import { postWebhook } from '../../src/services/webhook/sender';

/**
 * One POST to a receiver (src/services/webhook/sender.ts), against a real HTTP server: connections
 * are kept between deliveries, a kept connection the receiver had closed costs no failed attempt,
 * and the endpoints of one host never wait for one another.
 */
describe('webhook sender: connections to receivers', function () {
  this.timeout(20_000);
  const options = { timeoutMs: 3000, policy: { allowHttp: true, allowPrivate: true } };
  let server: http.Server;
  let base: string;
  let connections: Socket[];
  /** Requests per connection, in the order the connections were opened. */
  let served: Map<Socket, number>;
  let onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeEach(async () => {
    connections = [];
    served = new Map();
    onRequest = (_req, res) => res.end('ok');
    server = http.createServer((req, res) => {
      served.set(req.socket, (served.get(req.socket) ?? 0) + 1);
      req.resume();
      req.on('end', () => onRequest(req, res));
    });
    server.on('connection', (socket: Socket) => connections.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = (path: string) => postWebhook(`${base}${path}`, { 'webhook-id': '1' }, '{"type":"test"}', options);

  it('sends consecutive deliveries to one receiver over one kept connection', async () => {
    for (let i = 0; i < 5; i++) expect((await send('/hooks')).ok).to.equal(true);
    expect(connections).to.have.length(1);
    expect([...served.values()]).to.deep.equal([5]);
  });

  it('a kept connection the receiver closes as the next delivery arrives is replaced: the delivery succeeds, sent once more on a new connection', async () => {
    expect((await send('/hooks')).ok).to.equal(true);
    // From now on the first connection is cut as soon as a request comes in on it (a receiver
    // that closed an idle connection just as it was reused).
    const first = connections[0]!;
    onRequest = (req, res) => (req.socket === first ? req.socket.destroy() : res.end('ok'));
    const result = await send('/hooks');
    expect(result).to.include({ ok: true, httpStatus: 200, error: null });
    expect(connections).to.have.length(2);
    expect(served.get(connections[1]!)).to.equal(1);
  });

  it('a connection that fails an answer halfway is not taken for a closed idle one: the attempt fails, and is not sent again', async () => {
    onRequest = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    };
    const result = await send('/hooks');
    expect(result.ok).to.equal(false);
    expect([...served.values()].reduce((a, b) => a + b, 0)).to.equal(1);
  });

  it('an endpoint whose receiver hangs does not hold up another endpoint of the same host', async () => {
    onRequest = (req, res) => {
      if (req.url !== '/hang') res.end('ok');
    };
    const hanging = Array.from({ length: 20 }, () => send('/hang'));
    const started = Date.now();
    const healthy = await send('/ok');
    expect(healthy.ok).to.equal(true);
    expect(Date.now() - started).to.be.below(1000);
    const hung = await Promise.all(hanging);
    expect(hung.every((r) => !r.ok && /no answer within 3 s/.test(r.error ?? ''))).to.equal(true);
  });
});
