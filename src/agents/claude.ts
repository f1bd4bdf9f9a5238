// Claude Code's output (`claude -p … --output-format json|stream-json|text`) as an outcome. It is messy in
// practice: a single JSON object, a JSON array (--verbose with json), NDJSON (stream-json), plain text, ANSI
// escapes in front, invalid UTF-8, a huge stream of which only the tail is available, and `is_error`/exit codes
// that contradict the subtype. Every outcome comes with a one-sentence message naming the project and what to
// do about it. Pure: no I/O, no clock reads (the caller passes `now`), and it never throws.
import type { TokenUsage } from '../temporal/types';
import { findResult, type Found } from './claudeResult';
import {
  emptyParsed,
  exitDescription,
  stderrNote,
  usageLimitMessage,
  type ParserContext,
  type UsageLimit,
} from './outcome';
import type { ParseInput, ParsedOutput } from './result';
import {
  decodeOutput,
  isObject,
  lastNonEmptyLine,
  lineAt,
  num,
  oneLine,
  str,
  stripAnsi,
  truncateText,
  truncateTail,
  type Json,
} from './text';
import { parseUsageLimitReset } from './usageLimit';
import { permissionDenialFailure } from './denials';

const NOT_LOGGED_IN_RE =
  /not\s+logged\s+in|please\s+run\s+\/login|invalid\s+api\s+key|missing\s+api\s+key|authentication_error|oauth\s+token\s+(?:has\s+)?(?:expired|been\s+revoked)/i;

// What Claude Code prints once its own retries of an API call are spent: "API Error: 529 {"type":"error",
// "error":{"type":"overloaded_error",...}}", "API Error: 529 Overloaded. This is a server-side issue, usually
// temporary", "API Error: Repeated 529 Overloaded errors", "API Error: 500 {..."api_error"...}", "API Error:
// Connection error.", "API Error: Request timed out.", "API Error (Connection error.)".
const TRANSIENT_API_RE =
  /^\s*request\s+timed\s+out\b|API\s+Error\b[:\s(]*(?:(?:408|429|5\d\d)\b|repeated\s+\d{3}|connection\s+error|request\s+timed\s+out|.*\b(?:overloaded|fetch\s+failed|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket\s+hang\s+up|internal\s+server\s+error|service\s+unavailable|bad\s+gateway|gateway\s+timeout)\b)|"type"\s*:\s*"(?:overloaded_error|api_error|rate_limit_error|timeout_error)"/i;

/** HTTP statuses worth another try later: timeouts, rate limits, server errors and 529 (overloaded). */
function transientStatus(status: number | null): boolean {
  return status !== null && (status === 408 || status === 429 || (status >= 500 && status <= 599));
}

/** The line of `text` that names a transient API error, or null. */
function transientApiLine(text: string): string | null {
  const m = TRANSIENT_API_RE.exec(text);
  if (!m) return null;
  return lineAt(text, m.index).line.trim() || m[0];
}

function transientMessage(project: string, what: string): string {
  return `${project}: the Claude API failed with a transient error ("${oneLine(what, 200)}") — the job runs again after a back-off; if it keeps failing, check https://status.claude.com and the worker's network`;
}

function authMessage(project: string, text: string, ctx: ParserContext): string {
  return `${project}: agent is not authenticated — an authentication problem ("${oneLine(text, 120)}"): ${ctx.loginHint}`;
}

function errorSubtypeMessage(project: string, subtype: string, detail: string): string {
  const why = detail ? `: ${oneLine(detail, 200)}` : '';
  switch (subtype) {
    case 'error_max_turns':
      return `${project}: agent hit max turns (error_max_turns) — raise --max-turns in [agent] args or split the task`;
    case 'error_max_budget_usd':
      return `${project}: agent hit its spending cap (error_max_budget_usd) — raise --max-budget-usd in [agent] args or split the task`;
    case 'error_during_execution':
      return `${project}: agent failed during execution (error_during_execution)${why} — see the job's log (stdout/stderr in its run folder)`;
    case 'error_max_structured_output_retries':
      return `${project}: agent could not produce output matching its schema (error_max_structured_output_retries)${why} — check or simplify --json-schema in [agent] args`;
    default:
      return `${project}: agent ended with ${subtype}${why} — see the job's log`;
  }
}

function claudeLimitMessage(project: string, limit: UsageLimit): string {
  return usageLimitMessage(project, 'Claude', limit, "wait for the reset or raise the plan's limit", 120);
}

/** Claude Code's `usage` object as token counts; null when absent or without numbers. */
function tokensOf(usage: unknown): TokenUsage | null {
  if (!isObject(usage)) return null;
  const tokens = {
    input: num(usage.input_tokens) ?? 0,
    output: num(usage.output_tokens) ?? 0,
    cacheRead: num(usage.cache_read_input_tokens) ?? 0,
    cacheCreation: num(usage.cache_creation_input_tokens) ?? 0,
  };
  return Object.values(tokens).some((n) => n > 0) ? tokens : null;
}

/**
 * Output that is (the start of) JSON: with output_format json anything opening with { or [; with auto only
 * what cannot be prose, e.g. `{"` or `[{` (a text answer may well start with "[link]" or "{braces}").
 */
function looksLikeJson(trimmed: string, strict: boolean): boolean {
  if (strict) return trimmed.startsWith('{') || trimmed.startsWith('[');
  return /^(?:\{\s*(?:"|\}|$)|\[\s*(?:[{["\]]|$))/.test(trimmed);
}

/** One run's input as the deciding functions below read it. */
interface Run {
  input: ParseInput;
  ctx: ParserContext;
  stderrTail: string;
  found: Found;
}

/** Decides a job's outcome from Claude Code's stdout, stderr tail and exit status. Never throws. */
export function parseClaudeOutput(input: ParseInput, ctx: ParserContext): ParsedOutput {
  const text = decodeOutput(input.stdout);
  const stderrTail = stripAnsi(input.stderrTail ?? '');
  const found: Found =
    input.format === 'text' ? { result: null, streamSeen: false, initSessionId: null } : findResult(text);
  const run: Run = { input, ctx, stderrTail, found };
  return found.result ? fromResultObject(run, found.result) : withoutResultObject(run, text);
}

/** The run printed its result object: it decides, unless a signal or the exit code contradicts it. */
function fromResultObject(run: Run, r: Json): ParsedOutput {
  const { project, exitCode, signal } = run.input;
  const subtype = str(r.subtype);
  const isError = r.is_error === true;
  const errors = Array.isArray(r.errors) ? r.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))) : [];
  const resultText = str(r.result) ?? errors.join('; ');
  const truncated = truncateText(resultText);
  const costUsd = num(r.total_cost_usd) ?? num(r.cost_usd);
  const numTurns = num(r.num_turns);
  const parsed: ParsedOutput = {
    ...emptyParsed(),
    subtype,
    costUsd,
    numTurns,
    tokens: tokensOf(r.usage),
    sessionId: str(r.session_id) ?? run.found.initSessionId,
    result: truncated.text,
    resultTruncated: truncated.truncated,
  };

  if (signal) {
    return {
      ...parsed,
      outcome: 'crashed',
      message: `${project}: agent was ${exitDescription(exitCode, signal)} after printing its result (${subtype ?? 'no subtype'}); ${stderrNote(run.stderrTail)} — see the job's log`,
    };
  }

  const errorSubtype = subtype !== null && subtype.startsWith('error');
  // A clean success: is_error, subtype and the exit code agree. A lost exit status (null) or an older,
  // subtype-less result does not veto it; an error_* subtype always does, whatever is_error says.
  if (!isError && !errorSubtype && (exitCode === 0 || exitCode === null)) {
    const denied = permissionDenialFailure(project, r.permission_denials, run.input.allowPermissionDenials);
    if (denied) return { ...parsed, ...denied };
    const turns = numTurns === null ? '' : `${numTurns} turn${numTurns === 1 ? '' : 's'}`;
    const details = [turns, costUsd === null ? '' : `$${costUsd.toFixed(4)}`].filter(Boolean).join(', ');
    const empty = resultText.trim() === '' ? ' with an empty result (check that the work was done)' : '';
    return {
      ...parsed,
      outcome: 'succeeded',
      message: `${project}: agent succeeded${details ? ` (${details})` : ''}${empty}`,
    };
  }
  return failedResultObject(run, r, parsed, { errors, resultText });
}

/** A result object of a run that did not succeed: why, from the result, its errors and stderr. */
function failedResultObject(
  run: Run,
  r: Json,
  parsed: ParsedOutput,
  { errors, resultText }: { errors: string[]; resultText: string },
): ParsedOutput {
  const { project, exitCode, signal, now } = run.input;
  const subtype = parsed.subtype;
  const limit =
    parseUsageLimitReset(str(r.result) ?? '', now) ??
    parseUsageLimitReset(errors.join('\n'), now) ??
    parseUsageLimitReset(run.stderrTail, now);
  if (limit) {
    return {
      ...parsed,
      outcome: 'usage_limit',
      usageLimitResetsAt: limit.resetsAt,
      message: claudeLimitMessage(project, limit),
    };
  }

  if (subtype !== null && subtype.startsWith('error')) {
    return { ...parsed, outcome: 'agent_error', message: errorSubtypeMessage(project, subtype, resultText) };
  }

  if (r.is_error === true) {
    if (NOT_LOGGED_IN_RE.test(resultText) || r.api_error_status === 401) {
      return {
        ...parsed,
        outcome: 'agent_error',
        authFailure: true,
        message: authMessage(project, resultText || 'HTTP 401', run.ctx),
      };
    }
    const status = num(r.api_error_status);
    if (transientStatus(status) || transientApiLine(resultText)) {
      const what = transientApiLine(resultText) ?? `API status ${status}`;
      return { ...parsed, outcome: 'agent_error', transient: true, message: transientMessage(project, what) };
    }
    const api = status === null ? '' : ` (API status ${status})`;
    return {
      ...parsed,
      outcome: 'agent_error',
      message: `${project}: agent reported an error${api}: "${oneLine(resultText || 'no text', 200)}" — see the job's log; retry once the cause is fixed`,
    };
  }

  // is_error false, yet a non-zero exit: do not take the word "success" for it.
  return {
    ...parsed,
    outcome: 'agent_error',
    message: `${project}: agent ${exitDescription(exitCode, signal)} although its result said ${subtype ?? 'nothing'} (is_error false); ${stderrNote(run.stderrTail)} — see the job's log`,
  };
}

/** No result object: a signal, a failure the text explains, a cut-off stream or JSON, or text output. */
function withoutResultObject(run: Run, text: string): ParsedOutput {
  const { input, stderrTail, found } = run;
  const { project, exitCode, signal } = input;
  const trimmed = text.trim();
  const tail = truncateTail(trimmed);
  const noResult: ParsedOutput = {
    ...emptyParsed(),
    sessionId: found.initSessionId,
    result: tail.text,
    resultTruncated: tail.truncated || (input.headTruncated && trimmed.length > 0),
  };

  if (signal) {
    return {
      ...noResult,
      outcome: 'crashed',
      message: `${project}: agent was ${exitDescription(exitCode, signal)} before printing a result; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  // A failed run without a result object (text format, or it failed before its JSON) may still say why.
  if (exitCode !== 0) {
    const why = explainFailedText(run, trimmed.slice(-16 * 1024));
    if (why) return { ...noResult, ...why };
  }

  if (found.streamSeen || input.format === 'stream-json') {
    return {
      ...noResult,
      outcome: 'crashed',
      message: `${project}: agent's stream-json output ended before its result line (${exitDescription(exitCode, signal)}); ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  if (exitCode !== 0) {
    return {
      ...noResult,
      outcome: 'crashed',
      message: `${project}: agent ${exitDescription(exitCode, signal)} without printing a result; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  // JSON that never became a result object (cut off, or the CLI died mid-write) is no success, even with exit 0,
  // from an agent that always prints one (Claude Code, or any agent whose output_format says json). A custom
  // agent on "auto" may print JSON of its own: that is its text output.
  const expectsResult = input.format === 'json' || input.resultObjectExpected !== false;
  if (input.format !== 'text' && expectsResult && looksLikeJson(trimmed, input.format === 'json')) {
    return {
      ...noResult,
      outcome: 'crashed',
      message: `${project}: agent ${exitDescription(exitCode, signal)} but its JSON output holds no result object (truncated or malformed); ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  return {
    ...noResult,
    outcome: 'succeeded',
    message:
      trimmed === ''
        ? `${project}: agent exited 0 with no output (check that the work was done)`
        : `${project}: agent succeeded (exit 0, text output)`,
  };
}

/** Why a run that failed without a result object failed, from its stdout's tail and stderr; null if unsaid. */
function explainFailedText(run: Run, stdoutTail: string): Partial<ParsedOutput> | null {
  const { project, now } = run.input;
  const { stderrTail } = run;
  const limit = parseUsageLimitReset(stdoutTail, now) ?? parseUsageLimitReset(stderrTail, now);
  if (limit) {
    return { outcome: 'usage_limit', usageLimitResetsAt: limit.resetsAt, message: claudeLimitMessage(project, limit) };
  }
  const auth = NOT_LOGGED_IN_RE.exec(stdoutTail) ?? NOT_LOGGED_IN_RE.exec(stderrTail);
  if (auth) {
    const line = lastNonEmptyLine(NOT_LOGGED_IN_RE.test(stdoutTail) ? stdoutTail : stderrTail) ?? auth[0];
    return { outcome: 'agent_error', authFailure: true, message: authMessage(project, line, run.ctx) };
  }
  // Text output ("API Error: 529 ..." on stdout, exit 1), or the error on stderr before any JSON. Only the last
  // line counts: that is where the CLI reports why it gave up, while earlier lines are the agent's own work
  // (which may well mention some API's errors) and must not make a failed job run again.
  const api =
    transientApiLine(lastNonEmptyLine(stdoutTail) ?? '') ?? transientApiLine(lastNonEmptyLine(stderrTail) ?? '');
  if (api && !run.found.streamSeen) {
    return { outcome: 'agent_error', transient: true, message: transientMessage(project, api) };
  }
  return null;
}

/** The usage limit `text` names (Claude Code's words for it), as an outcome; null when it names none. */
export function claudeUsageLimit(
  project: string,
  text: string,
  now: Date,
): Pick<ParsedOutput, 'outcome' | 'message' | 'usageLimitResetsAt'> | null {
  const limit = parseUsageLimitReset(text, now);
  if (!limit) return null;
  return { outcome: 'usage_limit', usageLimitResetsAt: limit.resetsAt, message: claudeLimitMessage(project, limit) };
}

/** The `error` values of Claude Code's StopFailure hook that mean the credentials were refused. */
const AUTH_TURN_ERRORS = new Set(['authentication_failed', 'oauth_org_not_allowed']);
/** …and those that may well pass on their own: the job runs again after a back-off. */
const TRANSIENT_TURN_ERRORS = new Set(['rate_limit', 'overloaded', 'server_error']);

/**
 * An interactive turn that an API error ended (Claude Code's StopFailure hook: its `error` category and the
 * message the TUI showed, e.g. "Please run /login · API Error: 401 authentication_error"), as an outcome: a
 * usage limit the text names first (a subscriber's limit is also a `rate_limit`), then by category.
 */
export function claudeTurnFailure(
  project: string,
  error: string,
  text: string,
  ctx: ParserContext,
  now: Date,
): Pick<ParsedOutput, 'outcome' | 'message' | 'usageLimitResetsAt' | 'transient' | 'authFailure'> {
  const what = text.trim() || `API error ${error}`;
  const limited = claudeUsageLimit(project, what, now);
  if (limited) return limited;
  if (AUTH_TURN_ERRORS.has(error) || NOT_LOGGED_IN_RE.test(what)) {
    return {
      outcome: 'agent_error',
      usageLimitResetsAt: null,
      authFailure: true,
      message: authMessage(project, what, ctx),
    };
  }
  if (TRANSIENT_TURN_ERRORS.has(error)) {
    return {
      outcome: 'agent_error',
      usageLimitResetsAt: null,
      transient: true,
      message: transientMessage(project, what),
    };
  }
  return {
    outcome: 'agent_error',
    usageLimitResetsAt: null,
    message: `${project}: an API error (${error}) ended the agent's turn: "${oneLine(what, 200)}" — see the job's pane.log; retry once the cause is fixed`,
  };
}
