import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { apiRoutes } from '../../src/http/routes';
import { openApiYaml } from '../../src/openapi/document';
import { describeApi } from '../helpers/api';

describe('openapi.yaml', () => {
  it('is what `npm run openapi` generates from the route schemas (run it after changing a route)', () => {
    const committed = fs.readFileSync(path.resolve(import.meta.dirname, '../../openapi.yaml'), 'utf8');
    expect(committed === openApiYaml(), 'openapi.yaml is out of date: run npm run openapi').to.equal(true);
  });

  it('documents every operation the server mounts, with its problem responses', () => {
    const doc = parse(openApiYaml());
    for (const route of apiRoutes) {
      const op = doc.paths[route.path]?.[route.method];
      expect(op, `${route.method} ${route.path}`).to.be.an('object');
      expect(op.responses['500'].content).to.have.property('application/problem+json');
    }
  });
});

describeApi('served API documents', (ctx) => {
  it('serves the document as JSON and YAML and the docs page without a key', async () => {
    const json = await ctx.anonymous.get('/openapi.json');
    expect(json.status).to.equal(200);
    expect(json.body.openapi).to.match(/^3\.1/);
    const yaml = await ctx.anonymous.get('/openapi.yaml');
    expect(yaml.status).to.equal(200);
    expect(parse(yaml.text)).to.deep.equal(json.body);
    const docs = await ctx.anonymous.get('/docs');
    expect(docs.status).to.equal(200);
    expect(docs.text).to.include('/docs/assets/swagger-ui-bundle.js');
    expect(docs.text).not.to.match(/https?:\/\//);
    const bundle = await ctx.anonymous.get('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.status).to.equal(200);
  });
});
