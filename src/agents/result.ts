// What an agent job's output parser reads (ParseInput) and decides (ParsedOutput), for every agent profile, and
// the agent-output functions other subsystems use: import them from here, not from the parser that holds them.
import type { TokenUsage } from '../temporal/types';

export type ResultFormat = 'auto' | 'json' | 'stream-json' | 'text';

export interface ParseInput {
  /** Full stdout, or only its tail when headTruncated. */
  stdout: Buffer | string;
  headTruncated: boolean;
  stderrTail: string;
  exitCode: number | null;
  signal: string | null;
  project: string;
  format: ResultFormat;
  /**
   * The agent always ends with a result object (Claude Code: the default). false for a custom agent, whose JSON
   * output on "auto" may be its own and is then read as text.
   */
  resultObjectExpected?: boolean;
  /** Tool uses the agent was refused still count as success ([agent] allow_permission_denials). */
  allowPermissionDenials?: boolean;
  /** For the usage-limit reset time. */
  now: Date;
}

export interface ParsedOutput {
  outcome: 'succeeded' | 'agent_error' | 'usage_limit' | 'crashed';
  message: string;
  subtype: string | null;
  costUsd: number | null;
  numTurns: number | null;
  sessionId: string | null;
  result: string;
  resultTruncated: boolean;
  /** ISO instant. */
  usageLimitResetsAt: string | null;
  /** The result's `usage` token counts, when it has them. */
  tokens?: TokenUsage | null;
  /**
   * An agent_error the API caused and that may well pass (overloaded, 5xx, a dropped connection, a request
   * timeout, a rate limit that is not the usage limit): the workflow runs the job again after a back-off.
   */
  transient?: boolean;
  /** An agent_error because the agent is not logged in or its credentials are refused. */
  authFailure?: boolean;
}

export { parseAgentOutput } from './parsers';
export { claudeTurnFailure, claudeUsageLimit } from './claude';
export { permissionDenialFailure } from './denials';
export { stripAnsi, truncateText } from './text';
export { parseUsageLimitReset } from './usageLimit';
