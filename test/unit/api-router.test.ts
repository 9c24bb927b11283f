import { expect } from 'chai';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { apiRouter, resourceOf } from '../../src/http/api-router';
import type { RouteDef } from '../../src/http/route';

/** The API's routes on Express's router (src/http/api-router.ts), as the route table declares them. */
describe('API router', () => {
  const route = (method: RouteDef['method'], path: string) => ({ method, path }) as RouteDef;
  // Declared parameter first, as a table could: the literal must still win.
  const routes = [
    route('get', '/v1/bunits/{bunitId}/change-requests/{changeRequestId}'),
    route('post', '/v1/bunits/{bunitId}/change-requests/moderate'),
    route('get', '/v1/bunits/{bunitId}'),
    route('put', '/v1/bunits/{bunitId}'),
  ];
  const app = express();
  app.use(apiRouter(routes, (def) => (req, res) => void res.json({ route: `${def.method} ${def.path}`, params: { ...req.params } })));
  app.use((_req: Request, res: Response) => void res.status(404).json({ status: 404 }));
  app.use((err: { status?: number; allow?: string[]; headers?: Record<string, string> }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).set(err.headers ?? {}).json({ status: err.status });
  });

  it('takes a literal segment before a parameter, whatever the order of declaration', async () => {
    expect((await request(app).post('/v1/bunits/1/change-requests/moderate')).body.route).to.equal('post /v1/bunits/{bunitId}/change-requests/moderate');
    const byId = await request(app).get('/v1/bunits/1/change-requests/9');
    expect(byId.body).to.deep.equal({ route: 'get /v1/bunits/{bunitId}/change-requests/{changeRequestId}', params: { bunitId: '1', changeRequestId: '9' } });
  });

  it("answers another method of a known path with 405 and Allow naming the path's own (GET implies HEAD)", async () => {
    const moderate = await request(app).get('/v1/bunits/1/change-requests/moderate');
    expect(moderate.status).to.equal(405);
    expect(moderate.headers.allow).to.equal('POST');
    const bunit = await request(app).delete('/v1/bunits/1');
    expect(bunit.status).to.equal(405);
    expect(bunit.headers.allow).to.equal('GET, HEAD, PUT');
    expect((await request(app).head('/v1/bunits/1')).status).to.equal(200);
  });

  it("keeps Express's defaults: literals case-insensitive, one trailing slash, decoded parameters, 400 for a malformed one", async () => {
    expect((await request(app).get('/V1/BUnits/7/')).body.params).to.deep.equal({ bunitId: '7' });
    expect((await request(app).get('/v1/bunits/a%20b')).body.params).to.deep.equal({ bunitId: 'a b' });
    expect((await request(app).get('/v1/bunits/%E0%A4%A')).status).to.equal(400);
    expect((await request(app).get('/v1/bunits//')).status).to.equal(404);
    expect((await request(app).get('/v1/bunits/1/change-requests')).status).to.equal(404);
  });

  it('mounts each path on the router of its resource: up to the first literal after a parameter', () => {
    expect(resourceOf('/v1/bunits/{bunitId}/referrals/{referralId}/history')).to.equal('/v1/bunits/{bunitId}/referrals');
    expect(resourceOf('/v1/bunits/{bunitId}/referrals')).to.equal('/v1/bunits/{bunitId}/referrals');
    expect(resourceOf('/v1/bunits/{bunitId}')).to.equal('/v1/bunits');
    expect(resourceOf('/v1/bunits')).to.equal('/v1/bunits');
    expect(resourceOf('/v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/retry')).to.equal('/v1/webhook-endpoints/{endpointId}/deliveries');
  });
});
