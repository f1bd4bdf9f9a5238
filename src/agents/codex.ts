// Codex's output (`codex exec --json`) as an outcome. JSONL events, one per line: thread.started {thread_id},
// turn.started, item.started / item.updated / item.completed {item: {type: agent_message | reasoning |
// command_execution | file_change | mcp_tool_call | web_search | todo_list | error, ...}}, then turn.completed
// {usage} or turn.failed {error: {message}}; `error` {message} events for stream-level failures. Exit 1 on
// failure. Pure: no I/O, no clock reads (the caller passes `now`).
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
  lastNonEmptyLine,
  lineAt,
  num,
  oneLine,
  str,
  stripAnsi,
  tryParse,
  truncateText,
} from './text';
import { parseSpokenDuration, parseUsageLimitReset } from './usageLimit';
import { systemTimeZone } from '../lib/systemTimeZone';

const CODEX_LIMIT_RE =
  /you(?:'|’)?ve\s+(?:hit|reached)\s+your\s+(?:[\w-]+\s+){0,2}limit|usage\s+limit\s+(?:reached|exceeded)/i;
const CODEX_RATE_RE = /\b429\b|too\s+many\s+requests|rate\s+limit(?:ed|\s+reached|\s+exceeded)/i;
const CODEX_AUTH_RE =
  /\b401\b|unauthorized|not\s+logged\s+in|codex\s+login|invalid[_\s]api[_\s]key|incorrect\s+api\s+key|OPENAI_API_KEY|refresh\s+token|token\s+(?:has\s+)?expired|sign\s+in\s+again/i;
const CODEX_QUOTA_RE = /quota\s+exceeded|insufficient_quota|billing/i;

/**
 * Codex's usage-limit line: "You've hit your usage limit. Upgrade to Pro (…) or try again in 5 days 22 hours
 * 11 minutes." or "… or try again at Jul 5th, 2026 8:19 PM." / "try again at 8:19 PM" (the CLI's local time,
 * i.e. this worker's, as the agent runs here). Null when `text` is not a usage-limit message.
 */
export function parseCodexUsageLimit(text: string, now: Date): UsageLimit | null {
  const clean = stripAnsi(text);
  const match = CODEX_LIMIT_RE.exec(clean);
  if (!match) return null;
  const line = lineAt(clean, match.index)
    .line.replace(/^[\s■•*-]+/, '')
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
    const parsed = parseUsageLimitReset(`You've hit your limit · resets ${when} (${systemTimeZone()})`, now);
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

function codexAuthMessage(project: string, text: string, ctx: ParserContext): string {
  return `${project}: codex is not authenticated ("${oneLine(text, 120)}") — ${ctx.loginHint}`;
}

/** Why a failed codex run failed, from its error texts; null when none of them says. */
function codexFailure(project: string, texts: string[], now: Date, ctx: ParserContext): Partial<ParsedOutput> | null {
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
  if (auth)
    return {
      outcome: 'agent_error',
      authFailure: true,
      message: codexAuthMessage(project, lastNonEmptyLine(auth) ?? auth, ctx),
    };
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

/** Decides a job's outcome from codex's --json events, stderr tail and exit status. */
export function parseCodexOutput(input: ParseInput, ctx: ParserContext): ParsedOutput {
  const { project, exitCode, signal, now } = input;
  const text = decodeOutput(input.stdout);
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

  if (!run.eventsSeen)
    return plainOutputOutcome(input, text, stderrTail, 'codex', (texts) => codexFailure(project, texts, now, ctx));

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
    const why = codexFailure(project, texts, now, ctx);
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
