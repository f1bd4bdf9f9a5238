// How a run used its agent slots, from the agents' own clocks: the sleep agent (fixtures/sleep-agent.sh) writes
// its start and its end to $BENCH_AGENT_TRACE. Whatever spawns it (the product's worker, the floor's activity, the
// bare pool) passes the bench process's environment on, so one variable traces ours, the floor and the pool alike,
// and the three are split the same way: before the first agent, between one agent's end and the next agent's
// start on the freed slot, and after the last agent.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, percentile, round } from './lib';

export const AGENT_TRACE_VAR = 'BENCH_AGENT_TRACE';

/** Where the slots' time went in one run (ms). */
export interface SlotLanes {
  /** The run's start → its first agent's start. */
  beforeFirstAgentMs: number;
  /** One agent's end → the next agent's start on the slot it freed. */
  agentToAgentMs: { p50: number; p95: number };
  /** An agent's own run time (its clock: start → end). */
  agentMs: { p50: number };
  /** The last agent's end → the run's end. */
  afterLastAgentMs: number;
}

/**
 * Runs `fn` with the agents it starts tracing themselves; the run's slot lanes at `concurrency` slots (null when
 * its agents do not trace: the Node fake).
 */
export async function traced<T>(
  concurrency: number,
  fn: () => Promise<T>,
  /** The run's own start and end (epoch ms), when `fn` does more than the run (ours reads its histories after). */
  span?: (out: T) => { t0: number; t1: number },
): Promise<{ out: T; lanes: SlotLanes | null }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-trace-'));
  const file = path.join(dir, 'agents.log');
  const before = process.env[AGENT_TRACE_VAR];
  process.env[AGENT_TRACE_VAR] = file;
  try {
    const called = Date.now();
    const out = await fn();
    const { t0, t1 } = span?.(out) ?? { t0: called, t1: Date.now() };
    const trace = existsSync(file) ? readFileSync(file, 'utf8') : '';
    return { out, lanes: trace ? slotLanes(trace, concurrency, t0, t1) : null };
  } finally {
    if (before === undefined) delete process.env[AGENT_TRACE_VAR];
    else process.env[AGENT_TRACE_VAR] = before;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The trace's lines are `<agent id> start|end <epoch ms>`. Once the first `concurrency` agents run, the k-th start
 * after them is paired with the k-th end, in time order: with the FIFO slots of all three designs, the end that freed
 * the slot it took. An agent with no end (stopped) counts in neither list.
 */
export function slotLanes(trace: string, concurrency: number, t0: number, t1: number): SlotLanes {
  const starts = new Map<string, number>();
  const ends = new Map<string, number>();
  for (const line of trace.split('\n')) {
    const [id, what, ms] = line.trim().split(' ');
    if (what === 'start') starts.set(id, Number(ms));
    else if (what === 'end') ends.set(id, Number(ms));
  }
  for (const id of starts.keys()) if (!ends.has(id)) starts.delete(id);
  const startTimes = [...starts.values()].sort((a, b) => a - b);
  const endTimes = [...ends.values()].sort((a, b) => a - b);
  const gaps = startTimes.slice(concurrency).map((s, k) => s - endTimes[k]);
  const own = [...starts].map(([id, s]) => (ends.get(id) ?? s) - s);
  return {
    beforeFirstAgentMs: round(startTimes[0] - t0),
    agentToAgentMs: gaps.length
      ? { p50: round(median(gaps), 1), p95: round(percentile(gaps, 95), 1) }
      : { p50: 0, p95: 0 },
    agentMs: { p50: round(median(own)) },
    afterLastAgentMs: round(t1 - endTimes[endTimes.length - 1]),
  };
}
