// Reads the output of each agent profile's CLI into the same ParsedOutput as Claude Code's (src/agents/result.ts).
// Pure: no I/O, no clock reads (the caller passes `now`), and it never throws on odd output.
//
// - claude, custom: parseAgentOutput (Claude Code's result object; for custom, `output_format` picks json,
//   stream-json or text).
// - codex (`codex exec --json`): JSONL events, one per line: thread.started {thread_id}, turn.started,
//   item.started / item.updated / item.completed {item: {type: agent_message | reasoning | command_execution |
//   file_change | mcp_tool_call | web_search | todo_list | error, ...}}, then turn.completed {usage} or
//   turn.failed {error: {message}}; `error` {message} events for stream-level failures. Exit 1 on failure.
// - gemini (`gemini -p … --output-format json`): one pretty-printed object {session_id, response, stats, error?}
//   ({error: {type, message, code}} alone on failure, on stdout or stderr), exit codes 0 success, 1 general or
//   API error, 41 authentication, 42 bad input, 44 sandbox, 52 config, 53 turn limit. `--output-format
//   stream-json` (JSONL ending in a `result` event) and plain text are read too.
import type { AgentProfile } from '../config';
import { RESULT_MAX_CHARS, type TokenUsage } from '../temporal/types';
import {
  parseAgentOutput,
  parseUsageLimitReset,
  stripAnsi,
  truncateText,
  type ParseInput,
  type ParsedOutput,
} from './result';

/** Decides a job's outcome from the output of `profile`'s CLI. Never throws. */
export function parseProfileOutput(profile: AgentProfile, input: ParseInput): ParsedOutput {
  try {
    switch (profile) {
      case 'codex':
        return parseCodexOutput(input);
      case 'gemini':
        return parseGeminiOutput(input);
      case 'custom':
        return parseAgentOutput({ ...input, resultObjectExpected: false });
      default:
        return parseAgentOutput(input);
    }
  } catch (err) {
    // A bug here must not lose the job: report it as a crash (retried once) with what went wrong.
    return {
      ...emptyParsed(),
      outcome: 'crashed',
      message: `${input.project}: could not read the ${profile} agent's output (${oneLine(String(err), 200)}) — see the job's log`,
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// Shared helpers

type Json = Record<string, unknown>;
type Limit = { resetsAt: string | null; text: string };

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function tryParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function decode(stdout: Buffer | string): string {
  const text = typeof stdout === 'string' ? stdout : stdout.toString('utf8');
  return stripAnsi(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}

function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function lastNonEmptyLine(s: string): string | null {
  const lines = s
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length > 0 ? lines[lines.length - 1] : null;
}

function tail(s: string, max = RESULT_MAX_CHARS): { text: string; truncated: boolean } {
  if (s.length <= max) return { text: s, truncated: false };
  const marker = '[truncated: earlier output omitted] …\n';
  return { text: marker + s.slice(s.length - (max - marker.length)), truncated: true };
}

function emptyParsed(): ParsedOutput {
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

function exitDescription(exitCode: number | null, signal: string | null): string {
  if (signal) return `killed by ${signal}`;
  if (exitCode === null) return 'ended without an exit status';
  return `exited with code ${exitCode}`;
}

function stderrNote(stderrTail: string): string {
  const last = lastNonEmptyLine(stderrTail);
  return last ? `last stderr line: "${oneLine(last, 200)}"` : 'nothing on stderr';
}

/** "5 days 22 hours 11 minutes", "2h 30m", "15h42m29s", "41.2s" → milliseconds; null when nothing matched. */
export function parseSpokenDuration(s: string): number | null {
  const UNIT_RE = /(\d+(?:\.\d+)?)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])/gi;
  let ms = 0;
  let matched = false;
  for (const m of s.matchAll(UNIT_RE)) {
    const n = Number(m[1]);
    const unit = m[2].toLowerCase();
    const factor = unit.startsWith('d')
      ? 86_400_000
      : unit.startsWith('h')
        ? 3_600_000
        : unit.startsWith('m')
          ? 60_000
          : 1000;
    ms += n * factor;
    matched = true;
  }
  return matched ? Math.round(ms) : null;
}

function usageLimitMessage(project: string, agent: string, limit: Limit, what: string): string {
  const when = limit.resetsAt ? `resets at ${limit.resetsAt}` : 'reset time not given';
  return `${project}: ${agent} usage limit reached ("${oneLine(limit.text, 160)}"; ${when}) — ${what}; retrying before then is pointless`;
}

function succeededMessage(project: string, turns: number | null, resultText: string, what: string): string {
  const details = turns === null ? '' : ` (${turns} ${what}${turns === 1 ? '' : 's'})`;
  const empty = resultText.trim() === '' ? ' with an empty result (check that the work was done)' : '';
  return `${project}: agent succeeded${details}${empty}`;
}

// ---------------------------------------------------------------------------------------------------
// Codex

const CODEX_LIMIT_RE =
  /you(?:'|’)?ve\s+(?:hit|reached)\s+your\s+(?:[\w-]+\s+){0,2}limit|usage\s+limit\s+(?:reached|exceeded)/i;
const CODEX_RATE_RE = /\b429\b|too\s+many\s+requests|rate\s+limit(?:ed|\s+reached|\s+exceeded)/i;
const CODEX_AUTH_RE =
  /\b401\b|unauthorized|not\s+logged\s+in|codex\s+login|invalid[_\s]api[_\s]key|incorrect\s+api\s+key|OPENAI_API_KEY|refresh\s+token|token\s+(?:has\s+)?expired|sign\s+in\s+again/i;
const CODEX_QUOTA_RE = /quota\s+exceeded|insufficient_quota|billing/i;

function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/**
 * Codex's usage-limit line: "You've hit your usage limit. Upgrade to Pro (…) or try again in 5 days 22 hours
 * 11 minutes." or "… or try again at Jul 5th, 2026 8:19 PM." / "try again at 8:19 PM" (the CLI's local time,
 * i.e. this worker's, as the agent runs here). Null when `text` is not a usage-limit message.
 */
export function parseCodexUsageLimit(text: string, now: Date): Limit | null {
  const clean = stripAnsi(text);
  const match = CODEX_LIMIT_RE.exec(clean);
  if (!match) return null;
  const lineStart = clean.lastIndexOf('\n', match.index) + 1;
  const lineEnd = clean.indexOf('\n', match.index);
  const line = clean
    .slice(lineStart, lineEnd < 0 ? clean.length : lineEnd)
    .replace(/^[\s■•*-]+/, '')
    .trim();
  // The message may wrap onto the next line ("… 11\nminutes."): read the reset from here to the end.
  const rest = clean.slice(match.index + match[0].length, match.index + match[0].length + 600);
  const inMatch = /try\s+again\s+in\s+([^.]*)/i.exec(rest.replace(/\s+/g, ' '));
  if (inMatch) {
    const ms = parseSpokenDuration(inMatch[1]);
    if (ms !== null) return { resetsAt: new Date(now.getTime() + ms).toISOString(), text: line };
  }
  const atMatch = /try\s+again\s+at\s+(.+?)(?:\.\s|\.$|$)/i.exec(rest.replace(/\s+/g, ' ').trim());
  if (atMatch) {
    const when = atMatch[1].replace(/,?\s*\d{4}\b,?/, '').trim();
    const parsed = parseUsageLimitReset(`You've hit your limit · resets ${when} (${localZone()})`, now);
    return { resetsAt: parsed?.resetsAt ?? null, text: line };
  }
  return { resetsAt: null, text: line };
}

interface CodexRun {
  eventsSeen: boolean;
  threadId: string | null;
  lastMessage: string | null;
  turnsCompleted: number;
  turnFailed: string | null;
  errors: string[];
  /** The last turn-closing event: turn.completed, turn.failed or error. */
  last: 'turn.completed' | 'turn.failed' | 'error' | null;
  usage: { input: number; cached: number; output: number; seen: boolean };
  commands: number;
}

function errorText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v)) return str(v.message) ?? JSON.stringify(v);
  return null;
}

function readCodexEvents(text: string): CodexRun {
  const run: CodexRun = {
    eventsSeen: false,
    threadId: null,
    lastMessage: null,
    turnsCompleted: 0,
    turnFailed: null,
    errors: [],
    last: null,
    usage: { input: 0, cached: 0, output: 0, seen: false },
    commands: 0,
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line.startsWith('{') || !line.includes('"type"')) continue;
    const e = tryParse(line);
    if (!isObject(e) || typeof e.type !== 'string') continue;
    switch (e.type) {
      case 'thread.started':
        run.eventsSeen = true;
        run.threadId = str(e.thread_id) ?? run.threadId;
        break;
      case 'turn.started':
        run.eventsSeen = true;
        break;
      case 'item.started':
      case 'item.updated':
        run.eventsSeen = true;
        break;
      case 'item.completed': {
        run.eventsSeen = true;
        const item = isObject(e.item) ? e.item : {};
        const type = str(item.type) ?? str(item.item_type);
        if (type === 'agent_message' || type === 'assistant_message')
          run.lastMessage = str(item.text) ?? run.lastMessage;
        else if (type === 'command_execution') run.commands++;
        else if (type === 'error') {
          const m = str(item.message);
          if (m) run.errors.push(m);
        }
        break;
      }
      case 'turn.completed': {
        run.eventsSeen = true;
        run.turnsCompleted++;
        run.last = 'turn.completed';
        const u = isObject(e.usage) ? e.usage : null;
        if (u) {
          run.usage.seen = true;
          run.usage.input += num(u.input_tokens) ?? 0;
          run.usage.cached += num(u.cached_input_tokens) ?? 0;
          run.usage.output += num(u.output_tokens) ?? 0;
        }
        break;
      }
      case 'turn.failed':
        run.eventsSeen = true;
        run.last = 'turn.failed';
        run.turnFailed = errorText(e.error) ?? 'turn failed';
        break;
      case 'error':
        run.eventsSeen = true;
        run.last = 'error';
        run.errors.push(errorText(e.message) ?? errorText(e.error) ?? 'error');
        break;
      default:
        break;
    }
  }
  return run;
}

function codexTokens(u: CodexRun['usage']): TokenUsage | null {
  if (!u.seen) return null;
  const tokens = { input: Math.max(0, u.input - u.cached), output: u.output, cacheRead: u.cached, cacheCreation: 0 };
  return Object.values(tokens).some((n) => n > 0) ? tokens : null;
}

function codexAuthMessage(project: string, text: string): string {
  return `${project}: codex is not authenticated ("${oneLine(text, 120)}") — run \`codex login\` as the worker user, or set OPENAI_API_KEY (or CODEX_API_KEY) in the environment of the worker host`;
}

/** Why a failed codex run failed, from its error texts; null when none of them says. */
function codexFailure(project: string, texts: string[], now: Date): Partial<ParsedOutput> | null {
  const all = texts.filter(Boolean);
  for (const t of all) {
    const limit = parseCodexUsageLimit(t, now);
    if (limit) {
      return {
        outcome: 'usage_limit',
        usageLimitResetsAt: limit.resetsAt,
        message: usageLimitMessage(project, 'Codex', limit, "wait for the reset or raise the ChatGPT plan's limit"),
      };
    }
  }
  const auth = all.find((t) => CODEX_AUTH_RE.test(t));
  if (auth) return { outcome: 'agent_error', message: codexAuthMessage(project, lastNonEmptyLine(auth) ?? auth) };
  const quota = all.find((t) => CODEX_QUOTA_RE.test(t));
  if (quota) {
    return {
      outcome: 'agent_error',
      message: `${project}: codex's API quota is used up ("${oneLine(quota, 160)}") — check the OpenAI account's plan and billing, then run the job again`,
    };
  }
  const rate = all.find((t) => CODEX_RATE_RE.test(t));
  if (rate) {
    return {
      outcome: 'usage_limit',
      usageLimitResetsAt: null,
      message: usageLimitMessage(
        project,
        'Codex',
        { resetsAt: null, text: lastNonEmptyLine(rate) ?? rate },
        'backing off before trying again',
      ),
    };
  }
  return null;
}

function parseCodexOutput(input: ParseInput): ParsedOutput {
  const { project, exitCode, signal, now } = input;
  const text = decode(input.stdout);
  const stderrTail = stripAnsi(input.stderrTail ?? '');
  const run = readCodexEvents(text);

  const resultText = run.lastMessage ?? run.turnFailed ?? run.errors[run.errors.length - 1] ?? '';
  const truncated = truncateText(resultText);
  const parsed: ParsedOutput = {
    ...emptyParsed(),
    subtype: run.last,
    numTurns: run.eventsSeen ? run.turnsCompleted : null,
    sessionId: run.threadId,
    tokens: codexTokens(run.usage),
    result: truncated.text,
    resultTruncated: truncated.truncated,
  };

  if (!run.eventsSeen) return noEvents(input, text, stderrTail, 'codex', (texts) => codexFailure(project, texts, now));

  if (signal) {
    return {
      ...parsed,
      outcome: 'crashed',
      message: `${project}: codex was ${exitDescription(exitCode, signal)} ${run.last === 'turn.completed' ? 'after' : 'before'} finishing its turn; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  const failed = run.last === 'turn.failed' || run.last === 'error' || run.turnFailed !== null;
  if (run.last === 'turn.completed' && !failed && (exitCode === 0 || exitCode === null)) {
    const steps = run.commands > 0 ? `, ${run.commands} command${run.commands === 1 ? '' : 's'}` : '';
    return {
      ...parsed,
      outcome: 'succeeded',
      message: succeededMessage(project, run.turnsCompleted, resultText, 'turn').replace(/\)$/, `${steps})`),
    };
  }

  if (failed || exitCode !== 0) {
    const texts = [run.turnFailed ?? '', ...run.errors, stderrTail];
    const why = codexFailure(project, texts, now);
    if (why) return { ...parsed, ...why };
  }

  if (failed) {
    const detail = run.turnFailed ?? run.errors[run.errors.length - 1] ?? 'no message';
    return {
      ...parsed,
      outcome: 'agent_error',
      message: `${project}: codex reported an error: "${oneLine(detail, 200)}" (${exitDescription(exitCode, signal)}) — see the job's log; retry once the cause is fixed`,
    };
  }

  if (run.last === 'turn.completed') {
    return {
      ...parsed,
      outcome: 'agent_error',
      message: `${project}: codex ${exitDescription(exitCode, signal)} although its turn completed; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  return {
    ...parsed,
    outcome: 'crashed',
    message: `${project}: codex's --json event stream ended before turn.completed (${exitDescription(exitCode, signal)}); ${stderrNote(stderrTail)} — see the job's log`,
  };
}

/** No structured output at all: a signal, a failure explained by the text, a crash, or a plain-text success. */
function noEvents(
  input: ParseInput,
  text: string,
  stderrTail: string,
  agent: string,
  explain: (texts: string[]) => Partial<ParsedOutput> | null,
): ParsedOutput {
  const { project, exitCode, signal } = input;
  const trimmed = text.trim();
  const t = tail(trimmed);
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

// ---------------------------------------------------------------------------------------------------
// Gemini

const GEMINI_LIMIT_RE =
  /quota|RESOURCE_EXHAUSTED|\b429\b|rate\s+limit|exhausted\s+your\s+(?:capacity|quota)|usage\s+limit|too\s+many\s+requests/i;
const GEMINI_AUTH_RE =
  /auth(?:entication)?\s+method|not\s+authenticated|login\s+required|sign\s+in|credentials|GEMINI_API_KEY|API\s+key\s+not\s+valid|invalid\s+api\s+key|\b401\b|UNAUTHENTICATED|PERMISSION_DENIED/i;

/** Gemini's quota messages: "Your quota will reset after 15h42m29s.", "Please retry in 41.2s", retryDelay "41s". */
export function parseGeminiUsageLimit(text: string, now: Date): Limit | null {
  const clean = stripAnsi(text);
  const match = GEMINI_LIMIT_RE.exec(clean);
  if (!match) return null;
  const lineStart = clean.lastIndexOf('\n', match.index) + 1;
  const lineEnd = clean.indexOf('\n', match.index);
  const line = clean.slice(lineStart, lineEnd < 0 ? clean.length : lineEnd).trim();
  const after =
    /(?:reset\s+(?:after|in)|retry\s+in|try\s+again\s+in)\s+([\d.]+\s*[a-z]+(?:[\s,]*[\d.]+\s*[a-z]+)*)/i.exec(clean) ??
    /"retryDelay"\s*:\s*"([\d.]+s)"/i.exec(clean);
  const ms = after ? parseSpokenDuration(after[1]) : null;
  return { resetsAt: ms === null ? null : new Date(now.getTime() + ms).toISOString(), text: line };
}

/** The last top-level JSON object in `text` that looks like gemini's output (pretty-printed or on one line). */
function findGeminiObject(text: string): Json | null {
  const starts: number[] = [];
  if (text.trimStart().startsWith('{')) starts.push(text.indexOf('{'));
  for (const m of text.matchAll(/\n\s*\{/g)) starts.push((m.index ?? 0) + m[0].indexOf('{'));
  const looksRight = (v: unknown): v is Json =>
    isObject(v) && ('response' in v || 'error' in v || 'stats' in v || v.type === 'result');
  // Last first: the final object wins over earlier ones; only the last few start positions are tried.
  for (let i = starts.length - 1, tried = 0; i >= 0 && tried < 50; i--, tried++) {
    const rest = text.slice(starts[i]).trim();
    const whole = tryParse(rest);
    if (looksRight(whole)) return whole;
    const firstLine = rest.split(/\r?\n/, 1)[0];
    const single = tryParse(firstLine);
    if (looksRight(single)) return single;
  }
  return null;
}

interface GeminiStats {
  tokens: TokenUsage | null;
  requests: number | null;
}

function geminiStats(stats: unknown): GeminiStats {
  if (!isObject(stats)) return { tokens: null, requests: null };
  let input = 0;
  let output = 0;
  let cached = 0;
  let requests: number | null = null;
  if (isObject(stats.models)) {
    for (const model of Object.values(stats.models)) {
      if (!isObject(model)) continue;
      const t = isObject(model.tokens) ? model.tokens : {};
      const prompt = num(t.prompt) ?? num(t.input) ?? 0;
      const c = num(t.cached) ?? 0;
      input += Math.max(0, prompt - c);
      cached += c;
      output += (num(t.candidates) ?? num(t.output) ?? 0) + (num(t.thoughts) ?? 0);
      const api = isObject(model.api) ? num(model.api.totalRequests) : null;
      if (api !== null) requests = (requests ?? 0) + api;
    }
  } else {
    // Flat form (stream-json's result stats, older docs): input_tokens / output_tokens / cached.
    input = num(stats.input_tokens) ?? num(stats.inputTokens) ?? 0;
    cached = num(stats.cached) ?? 0;
    input = Math.max(0, input - cached);
    output = num(stats.output_tokens) ?? num(stats.outputTokens) ?? 0;
  }
  const tokens = { input, output, cacheRead: cached, cacheCreation: 0 };
  return { tokens: Object.values(tokens).some((n) => n > 0) ? tokens : null, requests };
}

function geminiAuthMessage(project: string, text: string): string {
  return `${project}: gemini is not authenticated ("${oneLine(text, 120)}") — run \`gemini\` once interactively as the worker user to log in, or set GEMINI_API_KEY in the environment of the worker host`;
}

/** Why a failed gemini run failed, from its error texts and exit code; null when nothing says. */
function geminiFailure(
  project: string,
  texts: string[],
  exitCode: number | null,
  now: Date,
): Partial<ParsedOutput> | null {
  const all = texts.filter(Boolean);
  for (const t of all) {
    const limit = parseGeminiUsageLimit(t, now);
    if (limit) {
      return {
        outcome: 'usage_limit',
        usageLimitResetsAt: limit.resetsAt,
        message: usageLimitMessage(project, 'Gemini', limit, "wait for the quota to reset or raise the plan's limit"),
      };
    }
  }
  const auth = all.find((t) => GEMINI_AUTH_RE.test(t));
  if (exitCode === 41 || auth)
    return { outcome: 'agent_error', message: geminiAuthMessage(project, auth ?? all[0] ?? 'exit code 41') };
  if (exitCode === 53) {
    return {
      outcome: 'agent_error',
      message: `${project}: gemini hit its session turn limit (exit 53) — raise model.maxSessionTurns in its settings.json or split the task`,
    };
  }
  if (exitCode === 42 || exitCode === 52) {
    const what = exitCode === 42 ? 'rejected its input (exit 42)' : 'found its configuration invalid (exit 52)';
    const detail = all[0] ? `: "${oneLine(all[0], 160)}"` : '';
    return {
      outcome: 'agent_error',
      message: `${project}: gemini ${what}${detail} — check [agent] args (or [projects.${project}.agent] args) and gemini's settings.json`,
    };
  }
  return null;
}

function parseGeminiOutput(input: ParseInput): ParsedOutput {
  const { project, exitCode, signal, now } = input;
  const text = decode(input.stdout);
  const stderrTail = stripAnsi(input.stderrTail ?? '');
  // stream-json: the final `result` event; json: the one object (errors may be printed on stderr instead).
  let obj = input.format === 'text' ? null : findGeminiObject(text);
  let fromStderr = false;
  if (!obj && input.format !== 'text') {
    const e = findGeminiObject(stderrTail);
    if (e && 'error' in e) {
      obj = e;
      fromStderr = true;
    }
  }
  const explain = (texts: string[]) => geminiFailure(project, texts, exitCode, now);
  if (!obj) return noEvents(input, text, stderrTail, 'gemini', explain);

  const isStreamResult = obj.type === 'result';
  const response = str(obj.response) ?? '';
  const errorValue = obj.error ?? (isStreamResult && obj.status === 'error' ? 'error' : undefined);
  const errorMessage = errorValue === undefined || errorValue === null ? null : (errorText(errorValue) ?? 'error');
  const errorType = isObject(errorValue) ? str(errorValue.type) : null;
  const stats = geminiStats(obj.stats);
  const resultText = response || errorMessage || '';
  const truncated = truncateText(resultText);
  const parsed: ParsedOutput = {
    ...emptyParsed(),
    subtype: errorMessage !== null ? (errorType ?? 'error') : response !== '' || isStreamResult ? 'success' : null,
    numTurns: stats.requests,
    sessionId: str(obj.session_id) ?? str(obj.sessionId),
    tokens: stats.tokens,
    result: fromStderr ? '' : truncated.text,
    resultTruncated: truncated.truncated,
  };

  if (signal) {
    return {
      ...parsed,
      outcome: 'crashed',
      message: `${project}: gemini was ${exitDescription(exitCode, signal)} after printing its output; ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  if (errorMessage === null && (exitCode === 0 || exitCode === null)) {
    return { ...parsed, outcome: 'succeeded', message: succeededMessage(project, stats.requests, response, 'request') };
  }

  const why = explain([errorMessage ?? '', stderrTail]);
  if (why) return { ...parsed, ...why };

  if (errorMessage !== null) {
    const code = isObject(errorValue) && errorValue.code !== undefined ? ` (code ${String(errorValue.code)})` : '';
    return {
      ...parsed,
      outcome: 'agent_error',
      message: `${project}: gemini reported an error${code}: "${oneLine(errorMessage, 200)}" — see the job's log; retry once the cause is fixed`,
    };
  }

  return {
    ...parsed,
    outcome: 'agent_error',
    message: `${project}: gemini ${exitDescription(exitCode, signal)} although it printed a response without an error; ${stderrNote(stderrTail)} — see the job's log`,
  };
}
