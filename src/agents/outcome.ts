// The pieces of a parsed outcome that every agent's parser shares: the empty outcome, how an exit is described,
// the usage-limit and success messages, and the verdict on output with nothing structured in it.
import type { ParseInput, ParsedOutput } from './result';
import { lastNonEmptyLine, oneLine, truncateTail } from './text';

/** A usage limit read from an agent's message: when it resets (ISO instant, null when not given) and the line. */
export type UsageLimit = { resetsAt: string | null; text: string };

/** What an agent's parser is told about its profile. */
export interface ParserContext {
  /** What to do when the agent is not logged in: ends the "not authenticated" message. */
  loginHint: string;
}

export function emptyParsed(): ParsedOutput {
  return {
    outcome: 'crashed',
    message: '',
    subtype: null,
    costUsd: null,
    numTurns: null,
    sessionId: null,
    result: '',
    resultTruncated: false,
    usageLimitResetsAt: null,
  };
}

export function exitDescription(exitCode: number | null, signal: string | null): string {
  if (signal) return `killed by ${signal}`;
  if (exitCode === null) return 'ended without an exit status';
  return `exited with code ${exitCode}`;
}

export function stderrNote(stderrTail: string): string {
  const last = lastNonEmptyLine(stderrTail);
  return last ? `last stderr line: "${oneLine(last, 200)}"` : 'nothing on stderr';
}

/** "<project>: <Agent> usage limit reached (…; resets at …) — <what to do>; retrying before then is pointless". */
export function usageLimitMessage(project: string, agent: string, limit: UsageLimit, what: string, max = 160): string {
  const when = limit.resetsAt ? `resets at ${limit.resetsAt}` : 'reset time not given';
  return `${project}: ${agent} usage limit reached ("${oneLine(limit.text, max)}"; ${when}) — ${what}; retrying before then is pointless`;
}

export function succeededMessage(project: string, turns: number | null, resultText: string, what: string): string {
  const details = turns === null ? '' : ` (${turns} ${what}${turns === 1 ? '' : 's'})`;
  const empty = resultText.trim() === '' ? ' with an empty result (check that the work was done)' : '';
  return `${project}: agent succeeded${details}${empty}`;
}

/**
 * Output with nothing structured in it (no event, no result object): a signal, a failure the text explains, a
 * crash, or a plain-text success. `text` is the decoded stdout; `explain` reads why a failed run failed.
 */
export function plainOutputOutcome(
  input: ParseInput,
  text: string,
  stderrTail: string,
  agent: string,
  explain: (texts: string[]) => Partial<ParsedOutput> | null,
): ParsedOutput {
  const { project, exitCode, signal } = input;
  const trimmed = text.trim();
  const t = truncateTail(trimmed);
  const base: ParsedOutput = {
    ...emptyParsed(),
    result: t.text,
    resultTruncated: t.truncated || (input.headTruncated && trimmed.length > 0),
  };
  if (signal) {
    return {
      ...base,
      outcome: 'crashed',
      message: `${project}: ${agent} was ${exitDescription(exitCode, signal)} before printing a result; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }
  if (exitCode !== 0) {
    const why = explain([trimmed.slice(-16 * 1024), stderrTail]);
    if (why) return { ...base, ...why };
    return {
      ...base,
      outcome: 'crashed',
      message: `${project}: ${agent} ${exitDescription(exitCode, signal)} without printing a result; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }
  return {
    ...base,
    outcome: 'succeeded',
    message:
      trimmed === ''
        ? `${project}: ${agent} exited 0 with no output (check that the work was done)`
        : `${project}: agent succeeded (exit 0, text output)`,
  };
}
