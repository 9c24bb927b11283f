import fs from 'node:fs';
import path from 'node:path';
import { openApiYaml } from '../openapi/document';
import { commandLine } from './run';

/** npm run openapi: writes openapi.yaml at the repository root (or checks it with --check). */
const options = commandLine('openapi', 'Regenerate openapi.yaml from the Zod schemas of the routes.')
  .option('--check', 'only check that openapi.yaml is up to date (exit 1 if not); write nothing')
  .parse()
  .opts<{ check?: boolean }>();

const target = path.resolve(import.meta.dirname, '../../openapi.yaml');
const generated = openApiYaml();

if (options.check) {
  const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  if (current !== generated) {
    console.error('openapi.yaml is out of date: run npm run openapi');
    process.exit(1);
  }
  console.log('openapi.yaml is up to date');
} else {
  fs.writeFileSync(target, generated);
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
