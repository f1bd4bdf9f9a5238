// A running job's progress, folded from its stream's events: turn, tool in use, last text, tokens and cost
// so far, API retries, rate limits, and the last event (for a stall's message). Pure.
import type { TokenUsage } from '../temporal/types';
import { estimateCostUsd } from './pricing';
import { lineEvents, type StreamEvent } from './stream';
import { oneLine } from './text';

/** What a running job is doing, read off its events so far. */
export interface StreamProgress {
  /** Assistant messages so far (Codex: turns). */
  turn: number;
  /** The tool call still waiting for its result, e.g. "Bash: npm test". */
  tool: string | null;
  /** The agent's last line of text. */
  text: string | null;
  tokens: TokenUsage | null;
  /** The result's cost once it is there; before, estimated from the usage and the model's list price. */
  costUsd: number | null;
  /** The last API retry, until the agent speaks again: "API overloaded, retry 3 of 10". */
  retry: string | null;
  rateLimit: string | null;
  /** The last event, for a stall's message: "tool_use Bash: npm run dev". */
  lastEvent: string | null;
  /** The result line was seen. */
  done: boolean;
  /** The session the stream's init named (Claude Code's session, Codex's thread): a relaunch can continue it. */
  sessionId: string | null;
}

export function emptyProgress(): StreamProgress {
  return {
    turn: 0,
    tool: null,
    text: null,
    tokens: null,
    costUsd: null,
    retry: null,
    rateLimit: null,
    lastEvent: null,
    done: false,
    sessionId: null,
  };
}

const ZERO: TokenUsage = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };

function addTokens(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cacheRead: a.cacheRead + b.cacheRead,
    cacheCreation: a.cacheCreation + b.cacheCreation,
  };
}

function lastLine(text: string): string | null {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length > 0 ? oneLine(lines[lines.length - 1], 200) : null;
}

/** Folds events into a job's progress, message by message (a message's usage counts once, its last value). */
export class ProgressTracker {
  private readonly state = emptyProgress();
  private model: string | null = null;
  private cwd: string | null = null;
  private counted: TokenUsage = ZERO;
  private countedCost = 0;
  private costKnown = true;
  private current: { id: string | null; tokens: TokenUsage; model: string | null } | null = null;
  private resultCost: number | null = null;
  private resultTokens: TokenUsage | null = null;

  add(events: StreamEvent[]): void {
    for (const e of events) this.apply(e);
  }

  addLine(line: string): void {
    this.add(lineEvents(line, this.cwd));
  }

  private apply(e: StreamEvent): void {
    const s = this.state;
    switch (e.kind) {
      case 'init':
        this.model = e.model ?? this.model;
        this.cwd = e.cwd ?? this.cwd;
        s.sessionId = e.sessionId ?? s.sessionId;
        s.lastEvent = 'system init';
        break;
      case 'usage':
        if (e.messageId === null || this.current?.id !== e.messageId) {
          this.commit();
          s.turn++;
          s.retry = null;
        }
        this.current = { id: e.messageId, tokens: e.tokens, model: e.model ?? this.model };
        break;
      case 'text':
        s.text = lastLine(e.text) ?? s.text;
        s.lastEvent = `text: ${oneLine(e.text, 120)}`;
        if (!e.error) s.retry = null;
        break;
      case 'tool_use':
        s.tool = e.summary;
        s.lastEvent = `tool_use ${e.summary}`;
        break;
      case 'tool_result':
        s.tool = null;
        s.lastEvent = `tool_result${e.error ? ' (error)' : ''}: ${oneLine(e.text, 120)}`;
        break;
      case 'retry':
        s.retry = e.text;
        s.lastEvent = `system api_retry (${e.text})`;
        break;
      case 'rate_limit':
        s.rateLimit = e.text;
        s.lastEvent = e.text;
        break;
      case 'error':
        s.lastEvent = `error: ${oneLine(e.text, 120)}`;
        break;
      case 'result':
        s.done = true;
        s.tool = null;
        s.lastEvent = `result${e.error ? ' (error)' : ''}`;
        this.resultCost = e.costUsd;
        this.resultTokens = e.tokens;
        if (e.numTurns !== null) s.turn = Math.max(s.turn, e.numTurns);
        break;
    }
  }

  private commit(): void {
    if (!this.current) return;
    this.counted = addTokens(this.counted, this.current.tokens);
    const cost = estimateCostUsd(this.current.model, this.current.tokens);
    if (cost === null) this.costKnown = false;
    else this.countedCost += cost;
    this.current = null;
  }

  snapshot(): StreamProgress {
    const pending = this.current;
    const tokens = pending ? addTokens(this.counted, pending.tokens) : this.counted;
    const pendingCost = pending ? estimateCostUsd(pending.model, pending.tokens) : 0;
    const estimate = this.costKnown && pendingCost !== null ? this.countedCost + pendingCost : null;
    const anyTokens = Object.values(tokens).some((n) => n > 0);
    return {
      ...this.state,
      tokens: this.resultTokens ?? (anyTokens ? tokens : null),
      costUsd: this.resultCost ?? (anyTokens ? estimate : null),
    };
  }
}
