// A running job's progress on one line, for `status` and the cycle's live table: "turn 3 · Bash: npm test ·
// 52.1k tokens · $0.0412 · API overloaded, retry 3 of 10".
import { formatElapsed } from '../../lib/duration';
import type { AgentProgress } from '../../temporal/types';
import { formatCount, formatUsd } from './format';

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
