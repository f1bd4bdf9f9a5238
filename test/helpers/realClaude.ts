// The real Claude Code CLI, from the pinned devDependency @anthropic-ai/claude-code (its native binary ships in a
// platform package), configured for orchestrate jobs that talk to a scripted Messages API on loopback.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PACKAGE = '@anthropic-ai/claude-code';
/** The package's bin/claude.exe is a small placeholder until its postinstall copies the native binary over it. */
const NATIVE_MIN_BYTES = 1024 * 1024;

function platformPackage(): string {
  const musl =
    process.platform === 'linux' &&
    (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
      ?.glibcVersionRuntime === undefined;
  return `${PACKAGE}-${process.platform}-${process.arch}${musl ? '-musl' : ''}`;
}

/** Absolute path of the real `claude` binary; throws a one-line fix when the package is not installed. */
export function claudeBinary(): string {
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve(`${PACKAGE}/package.json`));
  } catch {
    throw new Error(
      `the real Claude Code CLI is missing: the devDependency ${PACKAGE} is not installed — run \`npm install\` in the repository (it needs the npm registry once)`,
    );
  }
  const wrapperBin = path.join(pkgDir, 'bin', 'claude.exe');
  if (existsSync(wrapperBin) && statSync(wrapperBin).size > NATIVE_MIN_BYTES) return wrapperBin;
  // Installed with --ignore-scripts: the native binary is still in its platform package.
  const native = platformPackage();
  try {
    const dir = path.dirname(require.resolve(`${native}/package.json`, { paths: [pkgDir] }));
    const bin = path.join(dir, process.platform === 'win32' ? 'claude.exe' : 'claude');
    if (existsSync(bin)) return bin;
  } catch {
    // reported below
  }
  throw new Error(
    `the real Claude Code CLI is missing: ${PACKAGE} is installed but its native binary (${native}) is not — run \`npm install\` without --omit=optional`,
  );
}

/** The variables every real-CLI job gets: the scripted API, a fake key, a fresh HOME, no traffic elsewhere. */
export interface RealAgentOptions {
  apiUrl: string;
  /** Agent arguments; default: a job that may edit files and commit with git. */
  args?: string[];
  /** Extra variables (e.g. CLAUDE_CODE_OAUTH_TOKEN instead of the API key, TZ, API_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Use a subscriber's OAuth token instead of an API key. */
  oauth?: boolean;
  /** The CLI's own retries of a failed API call. */
  maxRetries?: number;
  timeout?: string;
  /** Extra TOML lines for the project's [agent] table. */
  extra?: string;
  /** The HOME to use (default: a fresh one). */
  home?: string;
}

/** The fake credentials the scripted API accepts (the key is long enough for the TUI's approval list). */
export const TEST_API_KEY = 'sk-ant-api03-test-key-0123456789abcdef';
export const TEST_OAUTH_TOKEN = 'sk-ant-oat01-test-token';

/**
 * What a user settles once on a new machine before the interactive TUI takes input, written into `home`'s
 * ~/.claude.json: onboarding done (theme picked), the API key from the environment approved (the CLI
 * remembers its last 20 characters), and the project folder trusted.
 */
export function settleFirstRun(home: string, ...projectDirs: string[]): void {
  const state = {
    hasCompletedOnboarding: true,
    theme: 'dark',
    customApiKeyResponses: { approved: [TEST_API_KEY.slice(-20)], rejected: [] },
    projects: Object.fromEntries(
      projectDirs.map((dir) => [dir, { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true }]),
    ),
  };
  writeFileSync(path.join(home, '.claude.json'), `${JSON.stringify(state, null, 2)}\n`);
}

/** Args that let a headless job write files and commit, as the starter config suggests. */
export const EDITING_ARGS = [
  '-p',
  '{prompt}',
  '--output-format',
  'json',
  '--permission-mode',
  'acceptEdits',
  '--allowedTools',
  'Bash(git add:*) Bash(git commit:*)',
];

const homes: string[] = [];

/** Removes every HOME freshHome() made (the CLI writes its state, sessions and transcripts there). */
export function removeHomes(): void {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
}

/** A fresh HOME for one CLI run: no login, no settings, no history shared with other tests. */
export function freshHome(): string {
  const home = mkdtempSync(path.join(os.tmpdir(), 'claude-home-'));
  homes.push(home);
  // A git identity for the agent's `git commit`.
  writeFileSync(path.join(home, '.gitconfig'), '[user]\n\temail = agent@example.com\n\tname = agent\n');
  return home;
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** TOML lines for `[projects.<name>.agent]` that run the real CLI against the scripted API. */
export function realAgentToml(project: string, o: RealAgentOptions): string {
  const env: Record<string, string> = {
    HOME: o.home ?? freshHome(),
    ANTHROPIC_BASE_URL: o.apiUrl,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_MAX_RETRIES: String(o.maxRetries ?? 0),
    ...(o.oauth ? { CLAUDE_CODE_OAUTH_TOKEN: TEST_OAUTH_TOKEN } : { ANTHROPIC_API_KEY: TEST_API_KEY }),
    ...(o.env ?? {}),
  };
  const envToml = Object.entries(env)
    .map(([k, v]) => `${k} = ${tomlString(v)}`)
    .join(', ');
  return [
    `[projects.${project}.agent]`,
    `command = ${tomlString(claudeBinary())}`,
    `interactive_command = ${tomlString(`'${claudeBinary()}'`)}`,
    `args = [${(o.args ?? EDITING_ARGS).map(tomlString).join(', ')}]`,
    `timeout = ${tomlString(o.timeout ?? '60s')}`,
    `env = { ${envToml} }`,
    o.extra ?? '',
  ].join('\n');
}
