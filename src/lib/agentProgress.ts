// A running job's progress on one line, for `status`, the cycle's live table and the job's current details in
// the Web UI: "turn 3 · Bash: npm test · 52.1k tokens · $0.0412 · API overloaded, retry 3 of 10"; and which
// updates are worth telling the job's workflow. Pure, so workflow code can use it too.
import { formatElapsed } from './duration';
import { formatCount, formatUsd } from './amounts';
import type { AgentProgress } from '../temporal/types';

/** Null when there is no progress to show (an agent without an event stream): the caller shows its last line. */
export function progressLine(p: AgentProgress | null, now = Date.now(), max = 120): string | null {
  if (!p) return null;
  const tokens = p.tokens ? p.tokens.input + p.tokens.output + p.tokens.cacheRead + p.tokens.cacheCreation : 0;
  const quietMs = p.lastOutputAt ? now - Date.parse(p.lastOutputAt) : NaN;
  const parts = [
    p.turn ? `turn ${p.turn}` : null,
    p.tool ?? (p.text ? `says: ${p.text}` : null),
    tokens > 0 ? `${formatCount(tokens)} tokens` : null,
    p.costUsd !== undefined ? formatUsd(p.costUsd) : null,
    p.retry ?? null,
    p.rateLimit ?? null,
    // Worth saying only once it is unusual: a minute without a byte of output.
    quietMs >= 60_000 ? `silent ${formatElapsed(quietMs)}` : null,
  ].filter((x): x is string => Boolean(x));
  if (parts.length === 0) return null;
  const line = parts.join(' · ').replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Which of a launch's progress updates its workflow is told of (each one costs a workflow task and a history
 * event, where a heartbeat costs neither): none in the agent's first `everyMs` (a short job costs nothing extra),
 * then at most one per `everyMs`, and only when the turn or the tool in use changed since the last one told.
 */
export class ProgressDetailsThrottle {
  private lastToldAt: number;
  private lastTold: string | null = null;

  constructor(
    private readonly everyMs: number,
    startedAt: number,
  ) {
    this.lastToldAt = startedAt;
  }

  /** True when `p` is to be told now (and it counts as told). */
  take(p: AgentProgress | null, now: number): boolean {
    if (!p || (p.turn === undefined && p.tool === undefined) || now - this.lastToldAt < this.everyMs) return false;
    const key = `${p.turn ?? 0} ${p.tool ?? ''}`;
    if (key === this.lastTold) return false;
    this.lastTold = key;
    this.lastToldAt = now;
    return true;
  }
}
