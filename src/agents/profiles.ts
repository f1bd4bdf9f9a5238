// The agent profiles: everything orchestrate knows about running each agent CLI, in one table. Adding an agent is
// one entry here and its parser in ./parsers (./claude, ./codex, ./gemini, ./custom, all on ./text and ./outcome).
// The config reads its per-profile defaults from this table; this module never imports the config, nor the
// parsers: every command that reads the config loads it, and only the worker parses agent output.
import path from 'node:path';

/** Which agent CLI runs the jobs: supplies the default command and args and picks the result parser. */
export const AGENT_PROFILES = ['claude', 'codex', 'gemini', 'custom'] as const;
export type AgentProfile = (typeof AGENT_PROFILES)[number];

/** How an agent runs interactively, in a persistent project's tmux session. */
export interface InteractiveSupport {
  /** The interactive command run unless [agent] interactive_command is set. */
  command: string;
  /** The flag (followed by the file) that hands the agent the settings holding orchestrate's Stop hook. */
  settingsFlag: string;
}

export interface ProfileSpec {
  /** What runs unless [agent] command and args are set; null: both must be set. */
  defaults: { command: string; args: readonly string[] } | null;
  /** What to do when the agent says it is not logged in. */
  loginHint: string;
  /** What to do when the profile's default command is not on the PATH; null: the generic hint. */
  installHint: string | null;
  /** How it runs in a persistent project's tmux session; null: it has no Stop hook to wait for. */
  interactive: InteractiveSupport | null;
  /**
   * True: with its `{prompt}` argument left out it reads the prompt from stdin (`claude -p` with nothing after
   * `-p`), the way to pass a prompt no argument can carry (over Linux's 128 KB per argument, or with a NUL byte).
   */
  promptViaStdin: boolean;
}

const CLAUDE_INTERACTIVE: InteractiveSupport = { command: 'claude', settingsFlag: '--settings' };

export const PROFILES: Readonly<Record<AgentProfile, ProfileSpec>> = {
  claude: {
    // stream-json (which needs --verbose) shows the job's progress while it runs; its last line is the same result
    // object json prints.
    defaults: { command: 'claude', args: ['-p', '{prompt}', '--output-format', 'stream-json', '--verbose'] },
    loginHint: 'run `claude /login` as the worker user, or set ANTHROPIC_API_KEY in the environment of the worker host',
    installHint:
      'install Claude Code (npm install -g @anthropic-ai/claude-code) on this worker host, or set [agent] command to its full path',
    interactive: CLAUDE_INTERACTIVE,
    promptViaStdin: true,
  },
  codex: {
    defaults: { command: 'codex', args: ['exec', '--json', '{prompt}'] },
    loginHint:
      'run `codex login` as the worker user, or set OPENAI_API_KEY (or CODEX_API_KEY) in the environment of the worker host',
    installHint: null,
    interactive: null,
    promptViaStdin: false,
  },
  gemini: {
    defaults: { command: 'gemini', args: ['-p', '{prompt}', '--output-format', 'json'] },
    loginHint:
      'run `gemini` once interactively as the worker user to log in, or set GEMINI_API_KEY in the environment of the worker host',
    installHint: null,
    interactive: null,
    promptViaStdin: false,
  },
  custom: {
    defaults: null,
    loginHint:
      "log the agent in as the worker user, or give it its credentials in [agent] env or the worker host's environment",
    installHint: null,
    interactive: null,
    promptViaStdin: false,
  },
};

/**
 * The agent a persistent project's tmux session runs, whatever its headless profile: Claude Code, the one agent
 * with the Stop hook the session's jobs wait for.
 */
export const INTERACTIVE_AGENT: InteractiveSupport = CLAUDE_INTERACTIVE;

/** What to do about an agent command that is not on the worker's PATH: its profile's hint, else a generic one. */
export function installHint(command: string, project: string): string {
  const name = path.basename(command);
  const own = AGENT_PROFILES.map((p) => PROFILES[p]).find((p) => p.defaults?.command === name && p.installHint);
  return (
    own?.installHint ??
    `install it on this worker host, or set [agent] command (or [projects.${project}.agent] command) to its full path`
  );
}
