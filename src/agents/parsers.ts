// Each agent profile's output parser (./profiles has the rest of what a profile is): what decides a job's
// outcome from what its CLI printed.
import { parseClaudeOutput } from './claude';
import { parseCodexOutput } from './codex';
import { parseCustomOutput } from './custom';
import { parseGeminiOutput } from './gemini';
import { emptyParsed, type ParserContext } from './outcome';
import { PROFILES, type AgentProfile } from './profiles';
import type { ParseInput, ParsedOutput } from './result';
import { oneLine } from './text';

const PARSERS: Readonly<Record<AgentProfile, (input: ParseInput, ctx: ParserContext) => ParsedOutput>> = {
  claude: parseClaudeOutput,
  codex: parseCodexOutput,
  gemini: parseGeminiOutput,
  custom: parseCustomOutput,
};

/** Decides a job's outcome from the output of `profile`'s CLI. Never throws. */
export function parseProfileOutput(profile: AgentProfile, input: ParseInput): ParsedOutput {
  try {
    const known = Object.hasOwn(PARSERS, profile) ? profile : 'claude';
    return PARSERS[known](input, PROFILES[known]);
  } catch (err) {
    // A bug here must not lose the job: report it as a crash (retried once) with what went wrong.
    return {
      ...emptyParsed(),
      outcome: 'crashed',
      message: `${input.project}: could not read the ${profile} agent's output (${oneLine(String(err), 200)}) — see the job's log`,
    };
  }
}

/** Claude Code's output read with the claude profile's hints (the parser of the default profile). */
export function parseAgentOutput(input: ParseInput): ParsedOutput {
  return parseClaudeOutput(input, PROFILES.claude);
}
