import { expect } from 'chai';
import { RouteTable } from '../../src/http/route-table';

/** The API's path table matches as Express's router did with its defaults (src/http/route-table.ts). */
describe('route table', () => {
  const table = new RouteTable<string>();
  for (const template of [
    '/v1/bunits',
    '/v1/bunits/{bunitId}',
    '/v1/bunits/{bunitId}/referrals/{referralId}',
    '/v1/change-requests/{changeRequestId}',
    '/v1/change-requests/moderate',
    '/v1/x/{a}/tail',
    '/v1/x/lit/other',
  ]) {
    table.add(template, template);
  }

  it('finds a path and names its parameters', () => {
    expect(table.match('/v1/bunits/12/referrals/345')).to.deep.equal({
      value: '/v1/bunits/{bunitId}/referrals/{referralId}',
      params: { bunitId: '12', referralId: '345' },
    });
    expect(table.match('/v1/bunits')).to.deep.equal({ value: '/v1/bunits', params: {} });
  });

  it('compares literal segments case-insensitively and ignores one trailing slash, not two', () => {
    expect(table.match('/V1/BUnits/7')?.value).to.equal('/v1/bunits/{bunitId}');
    expect(table.match('/v1/bunits/')?.value).to.equal('/v1/bunits');
    expect(table.match('/v1/bunits/7/')?.params).to.deep.equal({ bunitId: '7' });
    expect(table.match('/v1/bunits//')).to.equal(null);
  });

  it('takes a literal before a parameter, and the parameter when no path goes on from the literal', () => {
    expect(table.match('/v1/change-requests/moderate')?.value).to.equal('/v1/change-requests/moderate');
    expect(table.match('/v1/change-requests/9')?.params).to.deep.equal({ changeRequestId: '9' });
    expect(table.match('/v1/x/lit/tail')).to.deep.equal({ value: '/v1/x/{a}/tail', params: { a: 'lit' } });
    expect(table.match('/v1/x/lit/other')?.value).to.equal('/v1/x/lit/other');
  });

  it('matches no empty parameter, no extra or missing segment, no other path', () => {
    for (const path of ['/v1/bunits//referrals/1', '/v1/bunits/1/referrals', '/v1/bunits/1/referrals/2/3', '/v2/bunits', '/', '']) {
      expect(table.match(path), path).to.equal(null);
    }
  });

  it('percent-decodes parameters, and refuses a malformed encoding as Express does (URIError, status 400)', () => {
    expect(table.match('/v1/bunits/a%20b%2Fc')?.params).to.deep.equal({ bunitId: 'a b/c' });
    expect(() => table.match('/v1/bunits/%E0%A4%A')).to.throw(URIError).with.property('status', 400);
  });

  it('refuses a second route for the same path', () => {
    expect(() => table.add('/v1/bunits/{other}', 'again')).to.throw(/two routes for one path/);
  });
});
