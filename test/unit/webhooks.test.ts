import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, retryDelaySeconds, subscribes } from '../../src/domain/events';
import { newWebhookSecret, signatureHeader, signingSecrets } from '../../src/services/webhook/signing';
import { whyNotPublic, whyUnsafe } from '../../src/services/webhook/url-safety';

describe('webhooks, the pure parts', () => {
  describe('which addresses are public', () => {
    // The embedding forms with a public IPv4 address inside are as public as it (NAT64: an IPv6-only network's way to an IPv4 host).
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '::808:808']) {
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
      // Every IPv6 form that embeds an IPv4 address is judged by the address it embeds.
      ['::127.0.0.1', /::7f00:1 is IPv4-compatible: 127\.0\.0\.1 is a loopback/],
      ['::7f00:1', /127\.0\.0\.1 is a loopback/],
      ['::a9fe:a9fe', /IPv4-compatible: 169\.254\.169\.254 is a link-local/],
      ['::10.1.2.3', /10\.1\.2\.3 is a private/],
      ['::ffff:0:7f00:1', /IPv4-translated: 127\.0\.0\.1 is a loopback/],
      ['64:ff9b::7f00:1', /NAT64: 127\.0\.0\.1 is a loopback/],
      ['64:ff9b::a9fe:a9fe', /NAT64: 169\.254\.169\.254 is a link-local/],
      ['64:ff9b:1::a00:1', /not a public one/],
      ['2002:7f00:1::1', /6to4: 127\.0\.0\.1 is a loopback/],
      ['2002:a9fe:a9fe::', /6to4: 169\.254\.169\.254 is a link-local/],
      ['2001:0:808:808::80ff:fffe', /Teredo: 127\.0\.0\.1 is a loopback/],
      ['2001:0:a00:1::f7f7:f7f7', /Teredo: 10\.0\.0\.1 is a private/],
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
    // A URL spells [::127.0.0.1] as [::7f00:1]: still the loopback address it embeds.
    expect(new URL('http://[::127.0.0.1]/').hostname).to.equal('[::7f00:1]');
    expect(await whyUnsafe('http://[::127.0.0.1]/', { ...strict, allowHttp: true })).to.match(/127\.0\.0\.1 is a loopback/);
    expect(await whyUnsafe('https://[::a9fe:a9fe]/latest/meta-data', strict)).to.match(/169\.254\.169\.254 is a link-local/);
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
