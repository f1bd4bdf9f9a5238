// The programs the suite drives for real that no package registry ships as an npm or pip package: tmux (the
// persistent-session tests) and ps. On a fresh Debian/Ubuntu machine where the suite runs as root, the missing
// ones are installed from the distribution's packages, saying so; anywhere else the run stops with the command
// to run. (The Temporal CLI, the real Claude Code CLI and Chromium come in with `npm install`.)
import { execFileSync, spawnSync } from 'node:child_process';

const PROGRAMS: { command: string; debianPackage: string; why: string }[] = [
  { command: 'tmux', debianPackage: 'tmux', why: 'the persistent-session tests' },
  { command: 'ps', debianPackage: 'procps', why: 'the process-table checks' },
];

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function ensureTestPrerequisites(): void {
  const missing = PROGRAMS.filter((p) => !onPath(p.command));
  if (missing.length === 0) return;
  const packages = missing.map((p) => p.debianPackage);
  const canInstall = process.getuid?.() === 0 && onPath('apt-get');
  if (!canInstall) {
    const list = missing.map((p) => `${p.command} (${p.why})`).join(', ');
    throw new Error(
      `the test suite needs ${list}: install it first, e.g. \`sudo apt-get install ${packages.join(' ')}\``,
    );
  }
  process.stderr.write(`[test setup] installing ${packages.join(', ')} from the distribution's packages (apt-get)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
}
