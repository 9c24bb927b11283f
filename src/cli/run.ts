import { Command, type CommanderError } from 'commander';
import { ConfigError } from '../config';
import { ApiError } from '../domain/errors';

/** Exit code of a command line that does not parse (an unknown option, a bad value): usage error. */
export const USAGE_ERROR = 2;

/**
 * A command line of an npm script: commander's own `--help` (prints the usage and exits 0 before
 * anything is touched), and exit code 2 with a message for an unknown option or a bad value.
 * Subcommands made with `.command()` inherit this.
 */
export function commandLine(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .showHelpAfterError(`(run with --help for the usage)`)
    .exitOverride((err: CommanderError) => {
      process.exit(err.exitCode === 0 ? 0 : USAGE_ERROR);
    });
}

/**
 * The command's own words for a field of the API's (`body.through` → `--through 2027-01-01`), so
 * that an error speaks the language of the command line the operator typed.
 */
export type OptionNames = Record<string, string>;

/** Runs a command body and turns failures into a message and a non-zero exit code. */
export function runCommand(body: () => Promise<number | void>, options: OptionNames = {}): void {
  body()
    .then((code) => {
      process.exitCode = code ?? 0;
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) console.error(err.message);
      else if (err instanceof ApiError) {
        const fields = err.errors ?? [];
        if (fields.length > 0 && fields.every((e) => optionOf(e.path, options) !== undefined)) {
          for (const e of fields) console.error(`${optionOf(e.path, options)}: ${e.message}`);
        } else {
          console.error(`${err.code}: ${err.detail}`);
          for (const e of fields) console.error(`  ${optionOf(e.path, options) ?? e.path}: ${e.message}`);
        }
      }
      else if (err instanceof Error && String((err as { code?: unknown }).code).startsWith('commander.')) console.error(err.message);
      else console.error(err);
      process.exitCode = 1;
    });
}

/** `body.bunitIds.1` is named by the option of `body.bunitIds`. */
function optionOf(path: string, options: OptionNames): string | undefined {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    if (options[p] !== undefined) return options[p];
  }
  return undefined;
}
