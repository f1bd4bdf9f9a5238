// What each agent profile runs unless [agent] command/args say otherwise: read from the agent profile table
// (src/agents/profiles.ts), the one home of profile knowledge.
import { INTERACTIVE_AGENT, PROFILES, type AgentProfile } from '../agents/profiles';

/** The profile of an [agent] table that names none. */
export const DEFAULT_PROFILE: AgentProfile = 'claude';

/** What a persistent project's tmux session runs unless interactive_command is set. */
export const DEFAULT_INTERACTIVE_COMMAND = INTERACTIVE_AGENT.command;

export interface ProfileDefaults {
  command: string;
  args: readonly string[];
}

/** The profile's default command and args; null for a profile that has none (custom). */
export function profileDefaults(profile: AgentProfile): ProfileDefaults | null {
  return PROFILES[profile].defaults;
}
