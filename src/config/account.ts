// Which agent account a project's jobs use: projects that share one share its usage limit and its login, so a
// batch holds or skips them together. The key names the profile, the host and the credential variables the
// agent sees, with a hash of their values: never a secret itself, since the key is kept in workflow history.
import type { ProjectConfig } from './types';

/**
 * The variables that decide which account an agent CLI logs in with (an API key, an OAuth token, the folder
 * holding the CLI's stored login). Any profile's: a project's env rarely sets another agent's key.
 */
export const CREDENTIAL_ENV_VARS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'CLAUDE_CONFIG_DIR',
  'OPENAI_API_KEY',
  'CODEX_API_KEY',
  'CODEX_HOME',
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'HOME',
] as const;

/**
 * The project's agent account key: `account:<name>` when [agent] account names it, else
 * `<profile>@<host>:<VAR,VAR>#<hash>` over the credential variables the agent would see (the worker's
 * environment, filtered by env_allow, under [agent] env). `workerEnv` is the environment of the worker that
 * computes it: for a project on another host, that host's own login may differ — name the account there.
 */
export function agentAccountKey(
  project: Pick<ProjectConfig, 'agent' | 'host'>,
  workerEnv: Record<string, string | undefined>,
): string {
  const { agent } = project;
  if (agent.account) return `account:${agent.account}`;
  const seen = (name: string): string | undefined =>
    agent.env[name] ?? (agent.envAllow === null || agent.envAllow.includes(name) ? workerEnv[name] : undefined);
  const present = CREDENTIAL_ENV_VARS.filter((name) => seen(name) !== undefined);
  // Required here, not at the top: every command that reads the config loads this module, and only the ones that
  // start jobs need a hash (node:crypto is a few ms of every CLI start otherwise).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const hash = createHash('sha256');
  for (const name of present) hash.update(`${name}=${seen(name)}\0`);
  return `${agent.profile}@${project.host ?? 'local'}:${present.join(',')}#${hash.digest('hex').slice(0, 12)}`;
}
