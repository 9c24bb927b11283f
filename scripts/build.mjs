// npm run build: the server as one JavaScript file, dist/server.js, which `npm start` runs with
// plain node (SPEC §14: no TypeScript loader in production). Our code and the pure-JavaScript
// packages are bundled: node then reads one file instead of resolving and loading some thousand
// modules at every start (date-fns alone is hundreds), which is most of the time to ready and a
// good part of the idle memory. Left outside, loaded from node_modules at run time:
// - better-sqlite3: a native addon that finds its binary relative to its own folder;
// - swagger-ui-dist: the docs' static files, found with require.resolve (src/http/docs.ts);
// - the drivers of the Knex dialects we do not use, and pg-native, which pg loads only on request.
import { build } from 'esbuild';

const external = [
  'better-sqlite3',
  'swagger-ui-dist',
  'pg-native',
  'pg-query-stream',
  'mariadb',
  'mariadb/*',
  'mysql',
  'mysql2',
  'oracledb',
  'tedious',
  'sqlite3',
];

await build({
  entryPoints: ['src/server.ts'],
  outfile: 'dist/server.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  // dist/server.js.map: `NODE_OPTIONS=--enable-source-maps npm start` makes stack traces point into
  // src/. Not on by default: it holds the map in memory (about 7 MB of RSS).
  sourcemap: true,
  sourcesContent: false,
  legalComments: 'none',
  // Less source for V8 to keep (it is held for lazy compilation): whitespace and syntax only, so
  // that function names, and so stack traces, stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  // Plain ASCII: one character beyond it would make V8 keep the whole source (megabytes, kept for lazy
  // compilation) as a two-byte string, twice the memory.
  charset: 'ascii',
  logLevel: 'warning',
  // The CommonJS packages inside an ES module bundle call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
