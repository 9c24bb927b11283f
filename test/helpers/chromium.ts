import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The browser the docs test drives: Debian's Chromium (`.ci/run` installs it). `CHROMIUM_PATH`
 * points elsewhere (the test of this very rule uses a path that does not exist).
 */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH || '/usr/bin/chromium';
}

export const INSTALL_CHROMIUM = 'apt-get update && apt-get install -y chromium';

/**
 * Whether the browser test runs. Chromium present: it runs. Missing on a developer's machine: it is
 * skipped, with the reason and the install command (so `npm ci && npm test` passes on a fresh
 * machine). Missing where it must run — CI (`CI=true`) or `npm run docs:screenshots` — is an error,
 * so that CI never skips it silently.
 */
export function chromiumVerdict(
  env: NodeJS.ProcessEnv = process.env,
  exists: (file: string) => boolean = fs.existsSync,
): { run: true; executable: string } | { run: false; reason: string } {
  const executable = chromiumPath(env);
  if (exists(executable)) return { run: true, executable };
  const reason = `${executable} is missing: the docs browser test needs Debian's Chromium (${INSTALL_CHROMIUM}; .ci/run installs it)`;
  if (env.CI === 'true') throw new Error(`${reason}. CI=true: the browser test must run here, not be skipped.`);
  if (env.DOCS_SCREENSHOTS_DIR) throw new Error(`${reason}. npm run docs:screenshots cannot take screenshots without it.`);
  return { run: false, reason };
}

/**
 * Where the docs test saves its screenshots: a temporary folder, so that `npm test` leaves the
 * working tree clean; `npm run docs:screenshots` sets DOCS_SCREENSHOTS_DIR=docs to refresh the
 * committed ones.
 */
export function screenshotDir(env: NodeJS.ProcessEnv = process.env, root = path.resolve(import.meta.dirname, '../..')): string {
  const dir = env.DOCS_SCREENSHOTS_DIR;
  return dir ? path.resolve(root, dir) : path.join(os.tmpdir(), 'referral-service-docs-screenshots');
}
