// The agent activity's heartbeat: its one shape, written by the runner and read by the CLI (status, the
// cycle's live table) and the job's progress signals. Workflow-safe: it imports only types.
import type { TokenUsage } from './types';

/**
 * The runAgentJob activity's heartbeat details: what `orchestrate status` and `logs` show of a running job. Each
 * heartbeat carries the fields its step knows: a phase while there is no agent to watch yet (waiting for a slot,
 * a persistent session starting), then the agent's pid and its output so far.
 */
export interface AgentHeartbeat {
  /** What the activity is doing, when it is not simply running the agent. */
  phase?: string;
  pid?: number;
  /** Bytes of stdout and stderr so far. */
  bytes?: number;
  /** The agent's last output line. */
  lastLine?: string;
  /** Persistent projects: the tmux session and socket the agent runs in. */
  session?: string;
  socket?: string;
  /** From the agent's event stream (stream-json and the like): its turn so far, */
  turn?: number;
  /** the tool call waiting for its result ("Bash: npm test"), */
  tool?: string;
  /** its last line of text, */
  text?: string;
  /** tokens and cost so far (the cost estimated from list prices until the result gives it), */
  tokens?: TokenUsage;
  costUsd?: number;
  /** the API retry it is in ("API overloaded, retry 3 of 10"), the last rate-limit event, */
  retry?: string;
  rateLimit?: string;
  /** and its last event ("tool_use Bash: npm run dev"). */
  lastEvent?: string;
  /** When the agent last wrote output (ISO): stall_timeout counts from here. */
  lastOutputAt?: string;
}

/** The part of the heartbeat read off the agent's event stream: what `status` and the cycle's table show. */
export const AGENT_PROGRESS_FIELDS = [
  'turn',
  'tool',
  'text',
  'tokens',
  'costUsd',
  'retry',
  'rateLimit',
  'lastEvent',
  'lastOutputAt',
] as const;
export type AgentProgress = Pick<AgentHeartbeat, (typeof AGENT_PROGRESS_FIELDS)[number]>;

/** The progress fields of a heartbeat; null when it has none (no stream read yet, or a persistent session). */
export function agentProgressOf(hb: AgentHeartbeat | null): AgentProgress | null {
  if (!hb) return null;
  const picked = Object.fromEntries(AGENT_PROGRESS_FIELDS.filter((k) => hb[k] !== undefined).map((k) => [k, hb[k]]));
  return Object.keys(picked).length > 0 ? (picked as AgentProgress) : null;
}

/** How the agent activity's steps report progress: one call, one heartbeat. */
export type AgentHeartbeatWriter = (details: AgentHeartbeat) => void;

/** An AgentHeartbeat from decoded heartbeat details, keeping only fields of the expected type. */
export function readAgentHeartbeat(details: unknown): AgentHeartbeat | null {
  if (!details || typeof details !== 'object') return null;
  const d = details as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const count = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const read: AgentHeartbeat = {
    phase: text(d.phase),
    pid: count(d.pid),
    bytes: count(d.bytes),
    lastLine: text(d.lastLine),
    session: text(d.session),
    socket: text(d.socket),
    turn: count(d.turn),
    tool: text(d.tool),
    text: text(d.text),
    tokens: readTokens(d.tokens),
    costUsd: count(d.costUsd),
    retry: text(d.retry),
    rateLimit: text(d.rateLimit),
    lastEvent: text(d.lastEvent),
    lastOutputAt: text(d.lastOutputAt),
  };
  return Object.fromEntries(Object.entries(read).filter(([, v]) => v !== undefined)) as AgentHeartbeat;
}

function readTokens(v: unknown): TokenUsage | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const t = v as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === 'number' ? x : 0);
  return { input: n(t.input), output: n(t.output), cacheRead: n(t.cacheRead), cacheCreation: n(t.cacheCreation) };
}
