// What each agent profile runs unless [agent] command/args say otherwise. Kept apart from the other defaults
// so that the profile knowledge can move into one table of agent profiles without touching the rest of config.
import type { AgentProfile } from './types';

/** The profile of an [agent] table that names none. */
export const DEFAULT_PROFILE: AgentProfile = 'claude';

/** What a persistent project's tmux session runs unless interactive_command is set. */
export const DEFAULT_INTERACTIVE_COMMAND = 'claude';

export interface ProfileDefaults {
  command: string;
  args: readonly string[];
}

/** What each profile runs unless command/args are set explicitly. `custom` has no defaults: both are required. */
export const PROFILE_DEFAULTS: Record<Exclude<AgentProfile, 'custom'>, ProfileDefaults> = {
  claude: { command: 'claude', args: ['-p', '{prompt}', '--output-format', 'json'] },
  codex: { command: 'codex', args: ['exec', '--json', '{prompt}'] },
  gemini: { command: 'gemini', args: ['-p', '{prompt}', '--output-format', 'json'] },
};

/** The profile's default command and args; null for a profile that has none (custom). */
export function profileDefaults(profile: AgentProfile): ProfileDefaults | null {
  return profile === 'custom' ? null : PROFILE_DEFAULTS[profile];
}
