// Where the Temporal CLI (which carries the dev server and the Web UI) lives. Never downloads anything:
// scripts/install-temporal.js puts it in ./.tools at install time.
import fs from 'node:fs';
import path from 'node:path';

export const TEMPORAL_BIN_ENV = 'ORCHESTRATE_TEMPORAL_BIN';

function installHint(root: string): string {
  return (
    `Run \`npm run install-temporal\` (node scripts/install-temporal.js) in ${root} to install it into .tools/bin/temporal, ` +
    `or install the Temporal CLI (https://docs.temporal.io/cli) onto your PATH, or set ${TEMPORAL_BIN_ENV} to the path ` +
    'of a `temporal` binary.'
  );
}

/** The nearest ancestor of this file's folder holding a package.json (src/ under ts-jest, dist/ when built). */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(from, '..');
    dir = parent;
  }
}

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    if (process.platform !== 'win32') fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd: string): string | null {
  const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, cmd + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

/**
 * The `temporal` CLI to run: $ORCHESTRATE_TEMPORAL_BIN if set (it must exist), else <repo>/.tools/bin/temporal,
 * else `temporal` on PATH. Throws an Error that says what to run when none is found.
 */
export function findTemporalCli(): string {
  const fromEnv = process.env[TEMPORAL_BIN_ENV];
  if (fromEnv) {
    const resolved = path.resolve(fromEnv);
    if (isExecutableFile(resolved)) return resolved;
    throw new Error(
      `${TEMPORAL_BIN_ENV}=${fromEnv} is not an executable file. Point it at a Temporal CLI binary, or unset it to use ` +
        `the one installed by \`npm run install-temporal\` (node scripts/install-temporal.js).`,
    );
  }
  const exe = process.platform === 'win32' ? 'temporal.exe' : 'temporal';
  const root = repoRoot();
  const bundled = path.join(root, '.tools', 'bin', exe);
  if (isExecutableFile(bundled)) return bundled;
  const found = onPath('temporal');
  if (found) return found;
  throw new Error(
    `The Temporal CLI was not found (looked for ${bundled} and \`temporal\` on PATH). ${installHint(root)}`,
  );
}
