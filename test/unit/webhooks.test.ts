import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, retryDelaySeconds, subscribes } from '../../src/domain/events';
import { newWebhookSecret, signatureHeader, signingSecrets } from '../../src/services/webhook/signing';
import { whyNotPublic, whyUnsafe } from '../../src/services/webhook/url-safety';

describe('webhooks, the pure parts', () => {
  describe('which addresses are public', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e']) {
      it(`${address} is public`, () => expect(whyNotPublic(address)).to.equal(null));
    }
    const refused: [string, RegExp][] = [
      ['127.0.0.1', /loopback/],
      ['127.255.0.1', /loopback/],
      ['::1', /loopback/],
      ['10.0.0.1', /private/],
      ['172.31.255.255', /private/],
      ['192.168.0.1', /private/],
      ['169.254.169.254', /link-local/],
      ['fe80::1', /link-local/],
      ['fc00::1', /unique local/],
      ['fd12:3456::1', /unique local/],
      ['::ffff:10.0.0.1', /10\.0\.0\.1 is a private/],
      ['::ffff:169.254.169.254', /link-local/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['224.0.0.1', /multicast/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['2001:db8::1', /not a public one/],
      ['64:ff9b::7f00:1', /not a public one/],
      ['2002:7f00:1::1', /not a public one/],
    ];
    for (const [address, why] of refused) it(`${address} is not`, () => expect(whyNotPublic(address)).to.match(why));
  });

  it('allows http and private hosts only when told to', async () => {
    const strict = { allowHttp: false, allowPrivate: false };
    expect(await whyUnsafe('https://93.184.216.34/x', strict)).to.equal(null);
    expect(await whyUnsafe('http://93.184.216.34/x', strict)).to.match(/only https/);
    expect(await whyUnsafe('http://93.184.216.34/x', { ...strict, allowHttp: true })).to.equal(null);
    expect(await whyUnsafe('https://localhost/x', strict)).to.match(/loopback/);
    expect(await whyUnsafe('https://localhost/x', { ...strict, allowPrivate: true })).to.equal(null);
    expect(await whyUnsafe('https://[::ffff:7f00:1]/x', strict)).to.match(/127\.0\.0\.1 is a loopback/);
  });

  it('retries on the schedule of the spec and then gives up', () => {
    expect(DEFAULT_RETRY_SCHEDULE_SECONDS).to.deep.equal([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect([1, 2, 3, 7, 8].map((n) => retryDelaySeconds(DEFAULT_RETRY_SCHEDULE_SECONDS, n))).to.deep.equal([5, 300, 1800, 36000, null]);
  });

  it('sends an endpoint the types and business units it subscribed to', () => {
    const event = { type: 'referral.created', bunitIds: [1, 3] };
    expect(subscribes({ eventTypes: null, bunitIds: null }, event)).to.equal(true);
    expect(subscribes({ eventTypes: ['referral.created'], bunitIds: [3] }, event)).to.equal(true);
    expect(subscribes({ eventTypes: ['referral.updated'], bunitIds: null }, event)).to.equal(false);
    expect(subscribes({ eventTypes: null, bunitIds: [2] }, event)).to.equal(false);
    expect(subscribes({ eventTypes: null, bunitIds: [2] }, { type: 'api_key.created', bunitIds: [] })).to.equal(false);
  });

  it('signs as the Standard Webhooks specification says: the package verifies each signature, and the HMAC is of id.timestamp.body', async () => {
    const secret = newWebhookSecret();
    expect(secret).to.match(/^whsec_/);
    expect(Buffer.from(secret.slice(6), 'base64')).to.have.length(32);
    const previous = newWebhookSecret();
    const at = new Date();
    const body = '{"id":7,"type":"business_unit.created"}';
    const header = signatureHeader([secret, previous], '7', at, body);
    const headers = { 'webhook-id': '7', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': header };
    for (const s of [secret, previous]) expect(new Webhook(s).verify(body, headers)).to.deep.equal(JSON.parse(body));
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).to.throw();
    const crypto = await import('node:crypto');
    const mac = crypto.createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`7.${headers['webhook-timestamp']}.${body}`).digest('base64');
    expect(header.split(' ')[0]).to.equal(`v1,${mac}`);
    const until = new Date(at.getTime() + 1000).toISOString();
    expect(signingSecrets({ secret, previousSecret: previous, previousSecretUntil: until }, at.toISOString())).to.deep.equal([secret, previous]);
    expect(signingSecrets({ secret, previousSecret: previous, previousSecretUntil: until }, until)).to.deep.equal([secret]);
  });
});
