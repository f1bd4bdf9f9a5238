// Decides how an agent job ended from what the agent printed. Pure: no I/O, no clock reads (the caller
// passes `now`). Claude Code's output is messy in practice (see /work/shared/reference/claude-headless.md):
// a single JSON object, a JSON array (--verbose with json), NDJSON (stream-json), plain text, ANSI escapes
// in front, invalid UTF-8, a huge stream of which only the tail is available, and `is_error`/exit codes
// that contradict the subtype. Every outcome comes with a one-sentence message naming the project and what
// to do about it.
import { RESULT_MAX_CHARS, type TokenUsage } from '../temporal/types';
import { permissionDenialFailure } from './denials';

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
}

// ---------------------------------------------------------------------------------------------------
// Text helpers

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-character escapes, and the 8-bit CSI.
const ANSI_RE =
  // eslint-disable-next-line no-control-regex
  /(?:\u001B\][^\u0007\u001B]*(?:\u0007|\u001B\\))|(?:[\u001B\u009B]\[[0-?]*[ -/]*[@-~])|(?:\u001B[()#][0-9A-Za-z])|(?:\u001B[@-Z\\-_=>78])/g;

/** Removes ANSI escape sequences (colours, cursor movement, OSC titles/links). */
export function stripAnsi(s: string): string {
  return s.replace(ANSI_RE, '');
}

function cutIndex(s: string, at: number): number {
  // Never split a surrogate pair.
  if (at > 0 && at < s.length) {
    const c = s.charCodeAt(at - 1);
    if (c >= 0xd800 && c <= 0xdbff) return at - 1;
  }
  return at;
}

/** Caps `s` at `max` characters, keeping its beginning and saying how much was cut. */
export function truncateText(s: string, max: number = RESULT_MAX_CHARS): { text: string; truncated: boolean } {
  if (s.length <= max) return { text: s, truncated: false };
  const marker = `\n… [truncated: ${s.length} characters in all]`;
  if (max <= marker.length) return { text: s.slice(0, cutIndex(s, Math.max(0, max))), truncated: true };
  return { text: s.slice(0, cutIndex(s, max - marker.length)) + marker, truncated: true };
}

/** Caps `s` at `max` characters, keeping its end (for plain-text output, where the last lines matter). */
function truncateTail(s: string, max: number): { text: string; truncated: boolean } {
  if (s.length <= max) return { text: s, truncated: false };
  const marker = `[truncated: earlier output omitted] …\n`;
  let start = s.length - (max - marker.length);
  const c = s.charCodeAt(start);
  if (c >= 0xdc00 && c <= 0xdfff) start += 1;
  return { text: marker + s.slice(start), truncated: true };
}

function decode(stdout: Buffer | string): string {
  // Buffer#toString replaces invalid UTF-8 with U+FFFD and never throws.
  const text = typeof stdout === 'string' ? stdout : stdout.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, cutIndex(flat, max - 1))}…` : flat;
}

function lastNonEmptyLine(s: string): string | null {
  const lines = stripAnsi(s)
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length > 0 ? lines[lines.length - 1] : null;
}

// ---------------------------------------------------------------------------------------------------
// Finding the result object

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isResult(v: unknown): v is Json {
  return isObject(v) && v.type === 'result';
}

function tryParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function resultOf(value: unknown): Json | null {
  if (isResult(value)) return value;
  if (Array.isArray(value)) {
    for (let i = value.length - 1; i >= 0; i--) if (isResult(value[i])) return value[i] as Json;
  }
  return null;
}

/**
 * End index (exclusive) of the balanced JSON object/array starting at `start`, string-aware; -1 if it is
 * not closed within `limit` characters. Charges the characters it reads to `budget`.
 */
function balancedEnd(text: string, start: number, limit: number, budget: { left: number }): number {
  let depth = 0;
  let inString = false;
  const end = Math.min(text.length, start + limit, start + Math.max(0, budget.left));
  budget.left -= end - start;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) depth++;
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

const TYPE_RESULT_RE = /"type"\s*:\s*"result"/g;
/** How far back from a `"type":"result"` key its object may start, and how large it may be. */
const OBJECT_WINDOW = 4 * 1024 * 1024;
const MAX_CANDIDATES = 5000;
/** Total characters the fallback may scan, so pathological output cannot stall a worker. */
const SCAN_BUDGET = 64 * 1024 * 1024;

/**
 * Fallback for output where the result object is not on a line of its own (a JSON array whose head was
 * cut off, an object glued to progress text, pretty-printed JSON): from each `"type":"result"` key, last
 * first, find the enclosing object that parses as a result.
 */
function findEmbeddedResult(text: string): Json | null {
  const keys: number[] = [];
  for (const m of text.matchAll(TYPE_RESULT_RE)) keys.push(m.index ?? 0);
  const budget = { left: SCAN_BUDGET };
  for (let k = keys.length - 1; k >= 0 && k >= keys.length - 3; k--) {
    const key = keys[k];
    let tried = 0;
    const floor = Math.max(0, key - OBJECT_WINDOW);
    for (let start = text.lastIndexOf('{', key); start >= floor && tried < MAX_CANDIDATES;) {
      if (budget.left <= 0) return null;
      tried++;
      const end = balancedEnd(text, start, OBJECT_WINDOW, budget);
      if (end > key) {
        const value = tryParse(text.slice(start, end));
        if (isResult(value)) return value;
      }
      if (start === 0) break;
      start = text.lastIndexOf('{', start - 1);
    }
  }
  return null;
}

interface Found {
  result: Json | null;
  /** stream-json messages (system/assistant/user...) were seen: a missing result means a cut-off stream. */
  streamSeen: boolean;
  /** session_id from a system/init line, for when the result line is missing. */
  initSessionId: string | null;
}

const STREAM_TYPES = new Set(['system', 'assistant', 'user', 'stream_event', 'rate_limit_event']);

function findResult(text: string): Found {
  const found: Found = { result: null, streamSeen: false, initSessionId: null };
  const whole = text.trim();
  if (whole.startsWith('{') || whole.startsWith('[')) {
    const value = tryParse(whole);
    const r = resultOf(value);
    if (r) {
      found.result = r;
      return found;
    }
    if (Array.isArray(value)) {
      found.streamSeen = value.some((m) => isObject(m) && STREAM_TYPES.has(String(m.type)));
      const init = value.find((m) => isObject(m) && m.type === 'system' && m.subtype === 'init') as Json | undefined;
      if (init && typeof init.session_id === 'string') found.initSessionId = init.session_id;
    }
  }
  // NDJSON / mixed text: scan lines from the end.
  const lines = text.split(/\r?\n/);
  let checked = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (line.length === 0) continue;
    const first = line[0];
    if (first !== '{' && first !== '[') continue;
    if (line.includes('"result"')) {
      const r = resultOf(tryParse(line));
      if (r) {
        found.result = r;
        break;
      }
    }
    // Only the last few thousand JSON lines are looked at to tell a stream apart from other output.
    if (checked++ < 5000 && line.startsWith('{"type"')) {
      const value = tryParse(line);
      if (isObject(value) && STREAM_TYPES.has(String(value.type))) {
        found.streamSeen = true;
        if (value.type === 'system' && value.subtype === 'init' && typeof value.session_id === 'string') {
          found.initSessionId = value.session_id;
        }
      }
    }
  }
  if (!found.result && text.includes('"result"')) found.result = findEmbeddedResult(text);
  return found;
}

// ---------------------------------------------------------------------------------------------------
// Usage limit

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// "You've hit your limit", "You've hit your session limit", "Claude AI usage limit reached|1753920000",
// "5-hour limit reached ∙ resets 3pm", "You've reached your usage limit".
const USAGE_LIMIT_RE =
  /(?:you(?:'|’)?ve\s+hit\s+your\s+(?:[\w-]+\s+){0,3}limit|you\s+have\s+hit\s+your\s+(?:[\w-]+\s+){0,3}limit|you(?:'|’)?ve\s+reached\s+your\s+(?:[\w-]+\s+){0,3}limit|usage\s+limit\s+reached|\b(?:5-hour|five-hour|session|weekly|daily|opus|sonnet)\s+limit\s+reached)/i;

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function wallClock(instant: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number } {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    hourCycle: 'h23',
  });
  const p = Object.fromEntries(fmt.formatToParts(new Date(instant)).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour) % 24, min: Number(p.minute) };
}

/** The UTC instant at which the wall clock in `timeZone` shows y-m-d h:min (DST-aware, Intl only). */
function zonedInstant(y: number, m: number, d: number, h: number, min: number, timeZone: string): number {
  const target = Date.UTC(y, m - 1, d, h, min);
  let t = target;
  for (let i = 0; i < 3; i++) {
    const w = wallClock(t, timeZone);
    const diff = target - Date.UTC(w.y, w.m - 1, w.d, w.h, w.min);
    if (diff === 0) break;
    t += diff;
  }
  return t;
}

interface ResetSpec {
  hour: number;
  minute: number;
  zone: string;
  month: number | null;
  day: number | null;
}

function parseResetSpec(after: string): ResetSpec | null {
  const m =
    /^(?:at\s+|on\s+)?(?:([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:at\s+)?)?(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?(?=[\s(.,;·∙|-]|$)\s*(?:\(([^)]+)\))?/i.exec(
      after,
    );
  if (!m) return null;
  const [, monthName, dayStr, hourStr, minuteStr, ampm, zoneStr] = m;
  if (!ampm && minuteStr === undefined) return null; // "resets 5" is too ambiguous to act on
  let hour = Number(hourStr);
  const minute = minuteStr === undefined ? 0 : Number(minuteStr);
  if (minute > 59) return null;
  if (ampm) {
    if (hour < 1 || hour > 12) return null;
    const pm = ampm.toLowerCase().startsWith('p');
    hour = (hour % 12) + (pm ? 12 : 0);
  } else if (hour > 23) return null;
  let month: number | null = null;
  let day: number | null = null;
  if (monthName) {
    const idx = MONTHS.indexOf(monthName.slice(0, 3).toLowerCase());
    if (idx < 0) return null;
    month = idx + 1;
    day = Number(dayStr);
    if (day < 1 || day > 31) return null;
  }
  const zone = zoneStr ? zoneStr.trim() : 'UTC';
  return { hour, minute, zone, month, day };
}

// Claude Code prints the reset cut to the minute: a time in the current minute is a reset within the next
// 60 s (waited out to the minute's end), not one a day later.
const MINUTE_MS = 60_000;

function resetInstant(spec: ResetSpec, now: Date): string | null {
  if (!validZone(spec.zone)) return null;
  const nowMs = now.getTime();
  const today = wallClock(nowMs, spec.zone);
  if (spec.month !== null && spec.day !== null) {
    for (const y of [today.y, today.y + 1]) {
      const t = zonedInstant(y, spec.month, spec.day, spec.hour, spec.minute, spec.zone);
      if (t > nowMs - MINUTE_MS) return new Date(t > nowMs ? t : t + MINUTE_MS).toISOString();
    }
    return null;
  }
  // The next occurrence of that wall-clock time, strictly after now.
  for (let offset = 0; offset <= 2; offset++) {
    const day = new Date(Date.UTC(today.y, today.m - 1, today.d + offset));
    const t = zonedInstant(
      day.getUTCFullYear(),
      day.getUTCMonth() + 1,
      day.getUTCDate(),
      spec.hour,
      spec.minute,
      spec.zone,
    );
    if (t > nowMs - MINUTE_MS) return new Date(t > nowMs ? t : t + MINUTE_MS).toISOString();
  }
  return null;
}

/**
 * Recognises Claude's usage-limit message ("You've hit your limit · resets 1pm (Europe/London)", "resets
 * 3:30pm", "resets 13:00", with or without a zone, which defaults to UTC) and computes the next occurrence
 * of the reset time strictly after `now`. Returns null when `text` is not a usage-limit message; resetsAt
 * is null when the reset time cannot be read.
 */
export function parseUsageLimitReset(text: string, now: Date): { resetsAt: string | null; text: string } | null {
  const clean = stripAnsi(text);
  const match = USAGE_LIMIT_RE.exec(clean);
  if (!match) return null;
  // The message is the line holding the match.
  const lineStart = clean.lastIndexOf('\n', match.index) + 1;
  const lineEndAt = clean.indexOf('\n', match.index);
  const line = clean.slice(lineStart, lineEndAt < 0 ? clean.length : lineEndAt).trim();
  const message = oneLine(line, 300);
  const rest = clean.slice(match.index + match[0].length, lineEndAt < 0 ? clean.length : lineEndAt);

  // Old format: "Claude AI usage limit reached|1753920000" (epoch seconds).
  const epoch = /^\s*\|\s*(\d{9,13})\b/.exec(rest);
  if (epoch) {
    const n = Number(epoch[1]);
    const ms = epoch[1].length >= 12 ? n : n * 1000;
    return { resetsAt: new Date(ms).toISOString(), text: message };
  }

  const reset = /\b(?:resets?|will\s+reset|reset\s+at|try\s+again)\b\s*(?:at\s+)?(.*)$/i.exec(rest);
  if (!reset) return { resetsAt: null, text: message };
  const after = reset[1].trim();

  // Relative: "resets in 2h 30m", "resets in 45 minutes".
  const rel = /^in\s+(?:(\d+)\s*h(?:ours?|rs?)?)?\s*(?:(\d+)\s*m(?:in(?:ute)?s?)?)?/i.exec(after);
  if (rel && (rel[1] !== undefined || rel[2] !== undefined)) {
    const ms = (Number(rel[1] ?? 0) * 60 + Number(rel[2] ?? 0)) * 60_000;
    return { resetsAt: new Date(now.getTime() + ms).toISOString(), text: message };
  }

  const spec = parseResetSpec(after);
  if (spec === null) return { resetsAt: null, text: message };
  return { resetsAt: resetInstant(spec, now), text: message };
}

// ---------------------------------------------------------------------------------------------------
// Deciding the outcome

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
  const start = text.lastIndexOf('\n', m.index) + 1;
  const end = text.indexOf('\n', m.index);
  return text.slice(start, end < 0 ? text.length : end).trim() || m[0];
}

function transientMessage(project: string, what: string): string {
  return `${project}: the Claude API failed with a transient error ("${oneLine(what, 200)}") — the job runs again after a back-off; if it keeps failing, check https://status.claude.com and the worker's network`;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
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

function authMessage(project: string, text: string): string {
  return (
    `${project}: agent is not authenticated — an authentication problem ("${oneLine(text, 120)}"): ` +
    'run `claude /login` as the worker user, or set ANTHROPIC_API_KEY in the environment of the worker host'
  );
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

function usageLimitMessage(project: string, limit: { resetsAt: string | null; text: string }): string {
  const when = limit.resetsAt ? `resets at ${limit.resetsAt}` : 'reset time not given';
  return `${project}: Claude usage limit reached ("${oneLine(limit.text, 120)}"; ${when}) — wait for the reset or raise the plan's limit; retrying before then is pointless`;
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

/** Decides a job's outcome from the agent's stdout, stderr tail and exit status. Never throws. */
export function parseAgentOutput(input: ParseInput): ParsedOutput {
  const { project, exitCode, signal, now } = input;
  const text = stripAnsi(decode(input.stdout));
  const stderrTail = stripAnsi(input.stderrTail ?? '');
  const found: Found =
    input.format === 'text' ? { result: null, streamSeen: false, initSessionId: null } : findResult(text);
  const r = found.result;

  const base: ParsedOutput = {
    outcome: 'crashed',
    message: '',
    subtype: null,
    costUsd: null,
    numTurns: null,
    sessionId: found.initSessionId,
    result: '',
    resultTruncated: false,
    usageLimitResetsAt: null,
  };

  if (r) {
    const subtype = str(r.subtype);
    const isError = r.is_error === true;
    const errors = Array.isArray(r.errors) ? r.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))) : [];
    const resultText = str(r.result) ?? errors.join('; ');
    const truncated = truncateText(resultText);
    const costUsd = num(r.total_cost_usd) ?? num(r.cost_usd);
    const numTurns = num(r.num_turns);
    const parsed: ParsedOutput = {
      ...base,
      subtype,
      costUsd,
      numTurns,
      tokens: tokensOf(r.usage),
      sessionId: str(r.session_id) ?? found.initSessionId,
      result: truncated.text,
      resultTruncated: truncated.truncated,
    };

    if (signal) {
      return {
        ...parsed,
        outcome: 'crashed',
        message: `${project}: agent was ${exitDescription(exitCode, signal)} after printing its result (${subtype ?? 'no subtype'}); ${stderrNote(stderrTail)} — see the job's log`,
      };
    }

    const errorSubtype = subtype !== null && subtype.startsWith('error');
    // A clean success: is_error, subtype and the exit code agree. A lost exit status (null) or an older,
    // subtype-less result does not veto it; an error_* subtype always does, whatever is_error says.
    if (!isError && !errorSubtype && (exitCode === 0 || exitCode === null)) {
      const denied = permissionDenialFailure(project, r.permission_denials, input.allowPermissionDenials);
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

    const limit =
      parseUsageLimitReset(str(r.result) ?? '', now) ??
      parseUsageLimitReset(errors.join('\n'), now) ??
      parseUsageLimitReset(stderrTail, now);
    if (limit) {
      return {
        ...parsed,
        outcome: 'usage_limit',
        usageLimitResetsAt: limit.resetsAt,
        message: usageLimitMessage(project, limit),
      };
    }

    if (errorSubtype) {
      return { ...parsed, outcome: 'agent_error', message: errorSubtypeMessage(project, subtype, resultText) };
    }

    if (isError) {
      if (NOT_LOGGED_IN_RE.test(resultText) || r.api_error_status === 401) {
        return { ...parsed, outcome: 'agent_error', message: authMessage(project, resultText || 'HTTP 401') };
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
      message: `${project}: agent ${exitDescription(exitCode, signal)} although its result said ${subtype ?? 'nothing'} (is_error false); ${stderrNote(stderrTail)} — see the job's log`,
    };
  }

  // No result object.
  const trimmed = text.trim();
  const tail = truncateTail(trimmed, RESULT_MAX_CHARS);
  const noResult: ParsedOutput = {
    ...base,
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
    const stdoutTail = trimmed.slice(-16 * 1024);
    const limit = parseUsageLimitReset(stdoutTail, now) ?? parseUsageLimitReset(stderrTail, now);
    if (limit) {
      return {
        ...noResult,
        outcome: 'usage_limit',
        usageLimitResetsAt: limit.resetsAt,
        message: usageLimitMessage(project, limit),
      };
    }
    const auth = NOT_LOGGED_IN_RE.exec(stdoutTail) ?? NOT_LOGGED_IN_RE.exec(stderrTail);
    if (auth) {
      const line = lastNonEmptyLine(NOT_LOGGED_IN_RE.test(stdoutTail) ? stdoutTail : stderrTail) ?? auth[0];
      return { ...noResult, outcome: 'agent_error', message: authMessage(project, line) };
    }
    // Text output ("API Error: 529 ..." on stdout, exit 1), or the error on stderr before any JSON. Only the last
    // line counts: that is where the CLI reports why it gave up, while earlier lines are the agent's own work
    // (which may well mention some API's errors) and must not make a failed job run again.
    const api =
      transientApiLine(lastNonEmptyLine(stdoutTail) ?? '') ?? transientApiLine(lastNonEmptyLine(stderrTail) ?? '');
    if (api && !found.streamSeen) {
      return { ...noResult, outcome: 'agent_error', transient: true, message: transientMessage(project, api) };
    }
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
