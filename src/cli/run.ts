import { ConfigError } from '../config';
import { ApiError } from '../domain/errors';

/** Runs a command body and turns failures into a message and a non-zero exit code. */
export function runCommand(body: () => Promise<number | void>): void {
  body()
    .then((code) => {
      process.exitCode = code ?? 0;
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) console.error(err.message);
      else if (err instanceof ApiError) {
        console.error(`${err.code}: ${err.detail}`);
        for (const e of err.errors ?? []) console.error(`  ${e.path}: ${e.message}`);
      }
      else if (err instanceof Error && String((err as { code?: unknown }).code).startsWith('commander.')) console.error(err.message);
      else console.error(err);
      process.exitCode = 1;
    });
}
