// Whether an agent's output so far already holds its complete result, the point after which its work is over even
// if its process does not exit (an MCP server or a background shell it started can keep it alive). Per profile:
// Claude Code (and a custom agent read like it) its result object, a whole `--output-format json` object or the
// `result` line of stream-json; gemini its result line or its whole JSON output object; codex its turn's closing
// event. Plain text has no such mark: only the exit ends a text run. Pure, never throws.
import { findResult } from './claudeResult';
import type { AgentProfile } from './profiles';
import type { ResultFormat } from './result';
import { decodeOutput, isObject, tryParse } from './text';

/** Cheap test of an output's tail, so the parse below only runs once a result can be there. */
const RESULT_HINT: Readonly<Record<AgentProfile, RegExp>> = {
  claude: /"type"\s*:\s*"result"/,
  custom: /"type"\s*:\s*"result"/,
  gemini: /"type"\s*:\s*"result"|"response"\s*:|"error"\s*:/,
  codex: /"type"\s*:\s*"turn\.(?:completed|failed)"/,
};

/** True when a hint of the result is in `tail` (the last few KB of the output): worth calling hasPrintedResult. */
export function mayHoldResult(profile: AgentProfile, tail: string): boolean {
  return (RESULT_HINT[profile] ?? RESULT_HINT.claude).test(tail);
}

/** True once `stdout` (the whole output, or its tail) holds the agent's complete result. */
export function hasPrintedResult(profile: AgentProfile, format: ResultFormat, stdout: Buffer | string): boolean {
  try {
    const text = decodeOutput(stdout);
    if (profile === 'codex') return lastEventCloses(text);
    if (format === 'text') return false;
    if (findResult(text).result !== null) return true;
    if (profile !== 'gemini') return false;
    const whole = tryParse(text.trim());
    return isObject(whole) && ('response' in whole || 'error' in whole);
  } catch {
    return false;
  }
}

/** codex --json: the last event closes its turn (turn.completed or turn.failed). */
function lastEventCloses(text: string): boolean {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1, looked = 0; i >= 0 && looked < 50; i--) {
    const line = lines[i].trim();
    if (!line.startsWith('{')) continue;
    looked++;
    const event = tryParse(line);
    if (!isObject(event)) continue;
    return event.type === 'turn.completed' || event.type === 'turn.failed';
  }
  return false;
}
