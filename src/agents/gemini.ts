// Gemini's output (`gemini -p … --output-format json`) as an outcome: one pretty-printed object {session_id,
// response, stats, error?} ({error: {type, message, code}} alone on failure, on stdout or stderr), exit codes 0
// success, 1 general or API error, 41 authentication, 42 bad input, 44 sandbox, 52 config, 53 turn limit.
// `--output-format stream-json` (JSONL ending in a `result` event) and plain text are read too. Pure: no I/O,
// no clock reads (the caller passes `now`).
import type { TokenUsage } from '../temporal/types';
import {
  emptyParsed,
  exitDescription,
  plainOutputOutcome,
  stderrNote,
  succeededMessage,
  usageLimitMessage,
  type ParserContext,
  type UsageLimit,
} from './outcome';
import type { ParseInput, ParsedOutput } from './result';
import {
  decodeOutput,
  errorText,
  isObject,
  lineAt,
  num,
  oneLine,
  str,
  stripAnsi,
  tryParse,
  truncateText,
  type Json,
} from './text';
import { parseSpokenDuration } from './usageLimit';

const GEMINI_LIMIT_RE =
  /quota|RESOURCE_EXHAUSTED|\b429\b|rate\s+limit|exhausted\s+your\s+(?:capacity|quota)|usage\s+limit|too\s+many\s+requests/i;
const GEMINI_AUTH_RE =
  /auth(?:entication)?\s+method|not\s+authenticated|login\s+required|sign\s+in|credentials|GEMINI_API_KEY|API\s+key\s+not\s+valid|invalid\s+api\s+key|\b401\b|UNAUTHENTICATED|PERMISSION_DENIED/i;

/** Gemini's quota messages: "Your quota will reset after 15h42m29s.", "Please retry in 41.2s", retryDelay "41s". */
export function parseGeminiUsageLimit(text: string, now: Date): UsageLimit | null {
  const clean = stripAnsi(text);
  const match = GEMINI_LIMIT_RE.exec(clean);
  if (!match) return null;
  const line = lineAt(clean, match.index).line.trim();
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

function geminiAuthMessage(project: string, text: string, ctx: ParserContext): string {
  return `${project}: gemini is not authenticated ("${oneLine(text, 120)}") — ${ctx.loginHint}`;
}

/** Why a failed gemini run failed, from its error texts and exit code; null when nothing says. */
function geminiFailure(
  project: string,
  texts: string[],
  exitCode: number | null,
  now: Date,
  ctx: ParserContext,
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
    return {
      outcome: 'agent_error',
      authFailure: true,
      message: geminiAuthMessage(project, auth ?? all[0] ?? 'exit code 41', ctx),
    };
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

/** Decides a job's outcome from gemini's JSON (or stream-json, or text) output, stderr tail and exit status. */
export function parseGeminiOutput(input: ParseInput, ctx: ParserContext): ParsedOutput {
  const { project, exitCode, signal, now } = input;
  const text = decodeOutput(input.stdout);
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
  const explain = (texts: string[]) => geminiFailure(project, texts, exitCode, now, ctx);
  if (!obj) return plainOutputOutcome(input, text, stderrTail, 'gemini', explain);

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
