// The agents' event streams (Claude Code's stream-json, Codex's `exec --json`, Gemini's stream-json), one JSON
// object a line, read as one kind of event: what the agent said, which tool it called with what, what came back,
// API retries and rate limits, its usage and its result. Progress (the heartbeat's turn, tool, cost so far) and
// the conversation `orchestrate logs` renders are both read off these events (the progress in ./progress). Pure: no I/O, never throws.
import type { TokenUsage } from '../temporal/types';
import { errorText, isObject, num, oneLine, str, tryParse, type Json } from './text';

export type StreamEvent =
  | { kind: 'init'; model: string | null; cwd: string | null; sessionId: string | null }
  | { kind: 'text'; text: string; error: boolean }
  | { kind: 'tool_use'; id: string | null; name: string; summary: string }
  | { kind: 'tool_result'; id: string | null; text: string; error: boolean }
  /** One assistant message's usage so far (repeated for each block of the same message: the last one counts);
   *  a null messageId is a message of its own. */
  | { kind: 'usage'; messageId: string | null; model: string | null; tokens: TokenUsage }
  | { kind: 'retry'; text: string }
  | { kind: 'rate_limit'; text: string }
  | { kind: 'error'; text: string }
  | {
      kind: 'result';
      text: string;
      error: boolean;
      costUsd: number | null;
      numTurns: number | null;
      tokens: TokenUsage | null;
    };

/**
 * The events of one output line; none for a line that is not an agent event (progress text, a blank line).
 * `cwd` (the agent's working folder, from its init event) shortens the file paths of tool calls.
 */
export function lineEvents(line: string, cwd: string | null = null): StreamEvent[] {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return [];
  const v = tryParse(trimmed);
  if (!isObject(v) || typeof v.type !== 'string') return [];
  return claudeEvents(v, cwd) ?? codexEvents(v) ?? geminiEvents(v, cwd) ?? [];
}

/** "Bash: npm test", "Edit: src/app.ts": a tool call as a person reads it, on one short line. */
export function toolSummary(name: string, input: unknown, cwd: string | null = null): string {
  const arg = toolArgument(name, isObject(input) ? input : {}, cwd);
  return arg ? `${name}: ${oneLine(arg, 100)}` : name;
}

function toolArgument(name: string, input: Json, cwd: string | null): string | null {
  const file = str(input.file_path) ?? str(input.notebook_path) ?? str(input.path);
  if (file) return cwd && file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
  if (name === 'TodoWrite' && Array.isArray(input.todos)) return `${input.todos.length} todos`;
  for (const key of ['command', 'pattern', 'url', 'query', 'description', 'skill', 'prompt']) {
    const value = str(input[key]);
    if (value) return value;
  }
  const first = Object.values(input).find((x) => typeof x === 'string');
  return typeof first === 'string' ? first : null;
}

function tokensOf(usage: unknown, cachedKey = 'cache_read_input_tokens'): TokenUsage | null {
  if (!isObject(usage)) return null;
  const tokens = {
    input: num(usage.input_tokens) ?? 0,
    output: num(usage.output_tokens) ?? 0,
    cacheRead: num(usage[cachedKey]) ?? 0,
    cacheCreation: num(usage.cache_creation_input_tokens) ?? 0,
  };
  return Object.values(tokens).some((n) => n > 0) ? tokens : null;
}

function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((c) => (isObject(c) && typeof c.text === 'string' ? c.text : ''))
    .filter(Boolean)
    .join('\n');
}

const RETRY_ERRORS: Record<string, string> = {
  overloaded: 'API overloaded',
  rate_limit: 'API rate limit',
  server_error: 'API server error',
  authentication_failed: 'API authentication failed',
};

function rateLimitText(v: Json): string {
  const info = isObject(v.rate_limit_info) ? v.rate_limit_info : v;
  const resets = num(info.resetsAt);
  const parts = [
    `rate limit ${str(info.status) ?? 'event'}`,
    str(info.rateLimitType),
    resets === null ? null : `resets ${new Date(resets * (resets < 1e12 ? 1000 : 1)).toISOString()}`,
  ];
  return parts.filter(Boolean).join(', ');
}

/** Claude Code's stream-json; null for a line of another agent. */
function claudeEvents(v: Json, cwd: string | null): StreamEvent[] | null {
  switch (v.type) {
    case 'system': {
      if (v.subtype === 'init') {
        return [{ kind: 'init', model: str(v.model), cwd: str(v.cwd), sessionId: str(v.session_id) }];
      }
      if (v.subtype === 'api_retry') {
        const what = RETRY_ERRORS[str(v.error) ?? ''] ?? `API error${num(v.error_status) ? ` ${v.error_status}` : ''}`;
        const of = num(v.max_retries);
        return [{ kind: 'retry', text: `${what}, retry ${num(v.attempt) ?? '?'}${of === null ? '' : ` of ${of}`}` }];
      }
      return [];
    }
    case 'rate_limit_event':
      return [{ kind: 'rate_limit', text: rateLimitText(v) }];
    case 'assistant':
      return assistantEvents(v, cwd);
    case 'user': {
      const message = isObject(v.message) ? v.message : {};
      const content = Array.isArray(message.content) ? message.content : [];
      return content
        .filter(isObject)
        .flatMap((c): StreamEvent[] =>
          c.type === 'tool_result'
            ? [{ kind: 'tool_result', id: str(c.tool_use_id), text: blockText(c.content), error: c.is_error === true }]
            : [],
        );
    }
    case 'result': {
      if (v.status !== undefined && v.subtype === undefined) return null; // Gemini's result event
      const errors = Array.isArray(v.errors) ? v.errors.map((e) => errorText(e) ?? '').join('; ') : '';
      const subtype = str(v.subtype);
      return [
        {
          kind: 'result',
          text: str(v.result) ?? errors,
          error: v.is_error === true || (subtype !== null && subtype.startsWith('error')),
          costUsd: num(v.total_cost_usd),
          numTurns: num(v.num_turns),
          tokens: tokensOf(v.usage),
        },
      ];
    }
    case 'stream_event':
      return [];
    default:
      return null;
  }
}

function assistantEvents(v: Json, cwd: string | null): StreamEvent[] {
  const message = isObject(v.message) ? v.message : {};
  const model = str(message.model);
  const synthetic = model === '<synthetic>';
  const events: StreamEvent[] = [];
  const id = str(message.id);
  const tokens = tokensOf(message.usage);
  if (id && tokens && !synthetic) events.push({ kind: 'usage', messageId: id, model, tokens });
  for (const c of Array.isArray(message.content) ? message.content : []) {
    if (!isObject(c)) continue;
    if (c.type === 'text' && typeof c.text === 'string') events.push({ kind: 'text', text: c.text, error: synthetic });
    else if (c.type === 'tool_use') {
      const name = str(c.name) ?? 'tool';
      events.push({ kind: 'tool_use', id: str(c.id), name, summary: toolSummary(name, c.input, cwd) });
    }
  }
  return events;
}

/** Codex's `exec --json` events; null for a line of another agent. */
function codexEvents(v: Json): StreamEvent[] | null {
  const type = str(v.type) ?? '';
  if (type === 'thread.started') return [{ kind: 'init', model: null, cwd: null, sessionId: str(v.thread_id) }];
  if (type === 'turn.started') return [];
  if (type === 'turn.completed') {
    const tokens = tokensOf(v.usage, 'cached_input_tokens');
    return tokens ? [{ kind: 'usage', messageId: null, model: null, tokens }] : [];
  }
  if (type === 'turn.failed' || type === 'error') {
    return [{ kind: 'error', text: errorText(v.error) ?? str(v.message) ?? type }];
  }
  if (!type.startsWith('item.')) return null;
  const item = isObject(v.item) ? v.item : {};
  const itemType = str(item.type) ?? str(item.item_type);
  const id = str(item.id);
  const done = type === 'item.completed';
  switch (itemType) {
    case 'agent_message':
    case 'assistant_message':
      return done ? [{ kind: 'text', text: str(item.text) ?? '', error: false }] : [];
    case 'command_execution': {
      const use: StreamEvent = { kind: 'tool_use', id, name: 'Bash', summary: toolSummary('Bash', item) };
      if (type === 'item.started') return [use];
      if (!done) return [];
      const code = num(item.exit_code);
      return [{ kind: 'tool_result', id, text: str(item.aggregated_output) ?? '', error: code !== null && code !== 0 }];
    }
    case 'file_change': {
      const changes = Array.isArray(item.changes) ? item.changes.filter(isObject) : [];
      const files = changes.map((c) => str(c.path) ?? '').filter(Boolean);
      return done ? [{ kind: 'tool_use', id, name: 'Edit', summary: `Edit: ${oneLine(files.join(', '), 100)}` }] : [];
    }
    case 'mcp_tool_call':
    case 'web_search': {
      const name = itemType === 'web_search' ? 'WebSearch' : (str(item.tool) ?? 'mcp');
      return type === 'item.started' ? [{ kind: 'tool_use', id, name, summary: toolSummary(name, item) }] : [];
    }
    case 'error':
      return [{ kind: 'error', text: str(item.message) ?? 'error' }];
    default:
      return [];
  }
}

/** Gemini's `--output-format stream-json` events; null for a line of another agent. */
function geminiEvents(v: Json, cwd: string | null): StreamEvent[] | null {
  switch (v.type) {
    case 'init':
      return [{ kind: 'init', model: str(v.model), cwd: null, sessionId: str(v.session_id) }];
    case 'message':
      return v.role === 'assistant' && typeof v.content === 'string'
        ? [{ kind: 'text', text: v.content, error: false }]
        : [];
    case 'tool_use': {
      const name = str(v.tool_name) ?? 'tool';
      return [{ kind: 'tool_use', id: str(v.tool_id), name, summary: toolSummary(name, v.parameters, cwd) }];
    }
    case 'tool_result':
      return [
        {
          kind: 'tool_result',
          id: str(v.tool_id),
          text: str(v.output) ?? errorText(v.error) ?? '',
          error: v.status === 'error',
        },
      ];
    case 'error':
      return [{ kind: 'error', text: str(v.message) ?? errorText(v.error) ?? 'error' }];
    case 'result': {
      const stats = isObject(v.stats) ? v.stats : {};
      const tokens: TokenUsage = {
        input: num(stats.input_tokens) ?? 0,
        output: num(stats.output_tokens) ?? 0,
        cacheRead: num(stats.cached) ?? 0,
        cacheCreation: 0,
      };
      const any = Object.values(tokens).some((n) => n > 0);
      return [
        {
          kind: 'result',
          text: errorText(v.error) ?? '',
          error: v.status === 'error',
          costUsd: null,
          numTurns: null,
          tokens: any ? tokens : null,
        },
      ];
    }
    default:
      return null;
  }
}
