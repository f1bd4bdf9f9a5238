// argv → exit code. Every error a command throws is mapped to its exit code here, and only here.
import { CommanderError } from 'commander';
import { EXIT, UserError } from './errors';
import { buildProgram } from './program';

export async function main(argv: string[]): Promise<number> {
  const state = { exitCode: EXIT.ok as number };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv);
    return state.exitCode;
  } catch (e) {
    return exitCodeOfError(e);
  }
}

/** Prints what failed (one line for an expected error) and returns its exit code. */
async function exitCodeOfError(e: unknown): Promise<number> {
  // Help and version exit 0; usage errors were already printed by commander.
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (e instanceof UserError) {
    process.stderr.write(`${e.message}\n`);
    return e.exitCode;
  }
  // Loaded here, not at start-up: a config error can only come from a command that already loaded it.
  const { ConfigError } = await import('../config');
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    return EXIT.usage;
  }
  process.stderr.write(`error: ${(e as Error).message}\n`);
  return EXIT.failed;
}
