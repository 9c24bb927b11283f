import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Router } from 'express';
import { notServed } from './problem';

const require = createRequire(import.meta.url);

/**
 * Human docs at /docs: Swagger UI from node_modules (swagger-ui-dist), no CDN, so the page renders
 * with no internet access. The init script is a file, not inline, so a strict CSP can apply.
 */
export function docsRouter(): Router {
  const assets = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const router = express.Router();
  router
    .route('/docs')
    .get((_req, res) => {
      res.type('html').send(PAGE);
    })
    .all(notServed('/docs', ['GET']));
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  router.use(
    '/docs/assets',
    (_req, res, next) => {
      res.locals.route = '/docs/assets/{file}';
      next();
    },
    express.static(assets, { index: false, maxAge: '1h' }),
  );
  return router;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Referral service API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  tryItOutEnabled: false,
  persistAuthorization: false
});
`;
