// Names and types shared by workflows, activities, the worker and the CLI. Workflow-safe: it imports
// nothing but @temporalio/common, so the workflow bundle can use it.
import { defineSearchAttributeKey } from '@temporalio/common';

export const DEFAULT_TASK_QUEUE = 'orchestrate';

/** Why a job runs: an ad-hoc `orchestrate run`, a cycle, the nightly end of day, or the morning rollover. */
export const JOB_KINDS = ['run', 'cycle', 'eod', 'rollover'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** How an agent job ended. Every outcome but `succeeded` comes with a message naming the project and the fix. */
export const OUTCOMES = [
  'succeeded',
  'agent_error',
  'usage_limit',
  'timed_out',
  'cancelled',
  'crashed',
  'setup_error',
  'skipped',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Typed search attributes: they make the Web UI's workflow list filterable by project, kind and outcome. */
export const SearchAttr = {
  project: defineSearchAttributeKey('OrchestrateProject', 'KEYWORD'),
  kind: defineSearchAttributeKey('OrchestrateKind', 'KEYWORD'),
  outcome: defineSearchAttributeKey('OrchestrateOutcome', 'KEYWORD'),
  host: defineSearchAttributeKey('OrchestrateHost', 'KEYWORD'),
} as const;

/** What the dev server must register (`temporal server start-dev --search-attribute name=Keyword`). */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: Record<string, 'Keyword'> = Object.fromEntries(
  Object.values(SearchAttr).map((k) => [k.name, 'Keyword'] as const),
);

/** One running job per project: every trigger (CLI, cycle, schedule) uses this ID. */
export function jobWorkflowId(project: string): string {
  return `job/${project}`;
}
/**
 * The CLI's cycle / EOD / rollover workflow ID: at most one of each kind per orchestrator (task queue).
 * Plain `cycle` on the default queue; `cycle@<queue>` when several orchestrators share a namespace.
 */
export function batchWorkflowId(kind: 'cycle' | 'eod' | 'rollover', taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? kind : `${kind}@${taskQueue}`;
}

/** A job's static details in the Web UI (Temporal markdown): the project folder and the prompt's first line. */
export function jobStaticDetails(path: string, promptFirstLine: string): string {
  return `**project** \`${path}\`\n\n**prompt** ${promptFirstLine || '(empty)'}`;
}

/** Result text kept in workflow history is capped: the full output stays in the run folder. */
export const RESULT_MAX_CHARS = 4000;

export interface AgentJobInput {
  project: string;
  kind: JobKind;
  /** Overrides the project's configured prompt for this kind. */
  prompt?: string;
  /** The job's day (YYYY-MM-DD in the orchestrator's timezone), for `{date}` in EOD/rollover prompts. */
  date?: string;
}

/** What the workflow needs to schedule a job; resolved from config in an activity. Never carries env values. */
export interface JobPlan {
  project: string;
  kind: JobKind;
  path: string;
  /** First line of the prompt, for the Web UI. */
  promptFirstLine: string;
  timeoutMs: number;
  killGraceMs: number;
  heartbeatTimeoutMs: number;
  usageLimitMarginMs: number;
  usageLimitBackoffMs: number;
  /** First back-off after a transient API error (doubles each time). Absent in plans of older runs. */
  transientBackoffMs?: number;
  /** The orchestrator's IANA timezone, for times shown to people. */
  timezone: string;
  persistent: boolean;
  host: string | null;
  /** The full prompt, rendered for this kind and day. */
  prompt: string;
}

/** Input of the runAgentJob activity. */
export interface RunAgentInput {
  plan: JobPlan;
  /** Names this job's run folder; stable across retries of the same workflow run. */
  runKey: string;
  workflowId: string;
  /**
   * How many more times the job runs again after a transient API error (absent in inputs of older runs: none).
   * A transient failure with retries left is not reported as job_failed: the job is not over.
   */
  transientRetriesLeft?: number;
}

/** What one agent execution produced, as the activity reports it. Small: safe for workflow history. */
export interface AgentRunResult {
  outcome: Outcome;
  /** One sentence: what happened, on which project, and what to do. */
  message: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  costUsd: number | null;
  numTurns: number | null;
  sessionId: string | null;
  /** Claude Code's result subtype (`success`, `error_max_turns`, ...), when it printed one. */
  subtype: string | null;
  /** The agent's final text, truncated to RESULT_MAX_CHARS. */
  result: string;
  resultTruncated: boolean;
  /** Run folder holding stdout/stderr in full. */
  logPath: string;
  pid: number | null;
  /** Usage limit: when the agent said it resets (ISO), if the text could be parsed. */
  usageLimitResetsAt: string | null;
  /** Tokens the agent reported in its result (`usage`), when it printed one. */
  tokens?: TokenUsage | null;
  /** agent_error caused by the API and likely to pass (overloaded, 5xx, connection): the job runs again. */
  transient?: boolean;
}

/** Token counts from Claude Code's result object (`usage`). */
export interface TokenUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

export interface JobResult extends AgentRunResult {
  workflowId: string;
  project: string;
  kind: JobKind;
  startedAt: string;
}

/** Error types that must never be retried (ApplicationFailure type). */
export const SETUP_ERROR = 'SetupError';
export const CONFIG_ERROR = 'ConfigError';
/** The agent died from a signal or never printed a result: retried at most once more. */
export const AGENT_CRASHED = 'AgentCrashed';
/** The job's workflow failed with this type; details[0] is the JobResult. */
export const JOB_FAILED = 'AgentJobFailed';

/** A gate's verdict on one project for one cycle. `error` means a gate could not decide: the project is skipped. */
export interface GateDecision {
  project: string;
  decision: 'run' | 'skip' | 'error';
  /** Which gate decided: enabled, paused, path, git, running, working_hours, budget, command, all. */
  gate: string;
  reason: string;
}

/** What workflows may know of the config: no prompts' secrets, no env values. */
export interface ConfigSnapshot {
  timezone: string;
  concurrency: number;
  taskQueue: string;
  /** How long gates wait for a host's worker (absent in snapshots of older runs: 2 minutes). */
  hostWaitMs?: number;
  projects: Array<{
    name: string;
    enabled: boolean;
    host: string | null;
    persistent: boolean;
    /** For the Web UI's static details of the jobs a batch starts (absent in snapshots of older runs). */
    path?: string;
    /** First line of each kind's prompt template, `{placeholders}` unfilled (never the whole prompt). */
    promptFirstLines?: Record<BatchKind, string>;
    worklogPath?: string;
  }>;
}

/** One line of a cycle / EOD / rollover result table. */
export interface BatchRow {
  project: string;
  decision: 'run' | 'skip' | 'error';
  /** pending/running while in progress; then the job's outcome, or `skipped`. */
  status: 'pending' | 'running' | Outcome;
  reason: string;
  durationMs: number | null;
  costUsd: number | null;
  numTurns: number | null;
  workflowId: string | null;
  logPath: string | null;
  /** EOD: the work log the job was asked to write. */
  worklogPath?: string | null;
  /** When the job's result came back (workflow time; absent in rows of older runs). */
  finishedAt?: string | null;
}

export type BatchKind = 'cycle' | 'eod' | 'rollover';

export interface BatchInput {
  /** Only these projects (default: every project in the config). */
  projects?: string[];
  /** The day to act for (YYYY-MM-DD); default: today in the orchestrator's timezone, from workflow time. */
  date?: string;
  /** Continue as new past this many history events (default 8000; lower only to test or tune). */
  historyEventsLimit?: number;
  /** Carried over continue-as-new: rows already finished and projects still to run. */
  carry?: { rows: BatchRow[]; pending: string[]; date: string; startedAt: string };
}

export interface BatchResult {
  kind: BatchKind;
  date: string;
  startedAt: string;
  finishedAt: string;
  rows: BatchRow[];
  /** EOD: where the day's digest was written. */
  digestPath?: string | null;
  /** Set when the batch did not run at all (e.g. another cycle was already running). */
  refused?: string | null;
}

/**
 * An orchestrator's schedule IDs: `orchestrate-eod` etc. on the default task queue, `orchestrate-eod@<queue>` on
 * another, so two orchestrators sharing a namespace (say staging and production) never update or delete each
 * other's schedules.
 */
export function scheduleIds(taskQueue: string): Record<BatchKind, string> {
  const suffix = taskQueue === DEFAULT_TASK_QUEUE ? '' : `@${taskQueue}`;
  return {
    eod: `orchestrate-eod${suffix}`,
    rollover: `orchestrate-rollover${suffix}`,
    cycle: `orchestrate-cycle${suffix}`,
  };
}
/** Signal from the agent activity to its job once the agent runs: the Web UI's current details show its pid. */
export const AGENT_STARTED_SIGNAL = 'agentStarted';
export interface AgentStarted {
  pid: number;
}
/** Query name for a batch's live result table. */
export const BATCH_PROGRESS_QUERY = 'progress';
/** The worker stopped while the agent ran (a deploy): retried, and the next worker adopts the agent. */
export const WORKER_SHUTDOWN = 'WorkerShutdown';

/**
 * Where a project's jobs go: its host's own task queue (`orchestrate@<host>`), served by
 * `orchestrate worker --host <host>` on the machine that has its checkout, or the shared queue.
 */
export function taskQueueFor(baseQueue: string, host: string | null | undefined): string {
  return host ? `${baseQueue}@${host}` : baseQueue;
}

/** The result of a job whose agent left nothing to parse (setup error, crash, cancel), with what is known. */
export function bareRunResult(outcome: Outcome, message: string, known: Partial<AgentRunResult> = {}): AgentRunResult {
  return {
    outcome,
    message,
    exitCode: null,
    signal: null,
    durationMs: 0,
    costUsd: null,
    numTurns: null,
    sessionId: null,
    subtype: null,
    result: '',
    resultTruncated: false,
    logPath: '',
    pid: null,
    usageLimitResetsAt: null,
    ...known,
  };
}
