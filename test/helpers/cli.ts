// The built CLI (dist/cli.js) as a user runs it, in a subprocess with no TTY and no stdin: at once, or in the
// background with its output collected as it comes. Its exit code is the result's: these never reject.
import execa from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './env';

export const BUILT_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Stops a test file at once, saying what to do, when dist/cli.js was not built. */
export function requireBuiltCli(): void {
  if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: run \`npm run build\` first (npm test does)`);
}

/** `env` is the CLI's whole environment when `extendEnv` is false (e.g. without this process's TEMPORAL_*). */
export function runCli(env: NodeJS.ProcessEnv, args: string[], extendEnv = true) {
  return execa('node', [BUILT_CLI, ...args], { env, extendEnv, reject: false, stdin: 'ignore' });
}

/** A long-running command (worker, up, run waiting for its job) in the background. */
export function spawnCli(env: NodeJS.ProcessEnv, args: string[], extendEnv = true) {
  const child = runCli(env, args, extendEnv);
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return { child, out };
}
