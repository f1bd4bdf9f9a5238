// The shapes that cross Temporal: job plans and results, batch rows, the agent activity's heartbeat, signal
// and query names, search attributes. Shared by workflows, activities, the worker and the CLI. Workflow-safe:
// it imports nothing but @temporalio/common and its own heartbeat module, so the workflow bundle can use it.
import { defineSearchAttributeKey } from '@temporalio/common';
import type { AgentProgress } from './heartbeat';

// The heartbeat's shape has its own module (heartbeat.ts); it is re-exported here with the rest of the contract.
export * from './heartbeat';

/** Why a job runs: an ad-hoc `orchestrate run`, a cycle, the nightly end of day, or the morning rollover. */
export const JOB_KINDS = ['run', 'cycle', 'eod', 'rollover'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** How an agent job ended. Every outcome but `succeeded` comes with a message naming the project and the fix. */
export const OUTCOMES = [
  'succeeded',
  'agent_error',
  'usage_limit',
  'timed_out',
  'stalled',
  'cancelled',
  'crashed',
  'setup_error',
  'skipped',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * How a batch (cycle, EOD, rollover) ended, in its OrchestrateOutcome: `failed` when any row failed (the batch
 * itself completes, its jobs' failures are theirs), `cancelled` when it was cancelled.
 */
export const BATCH_OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const;
export type BatchOutcome = (typeof BATCH_OUTCOMES)[number];

/**
 * Typed search attributes: they make the Web UI's workflow list filterable by project, kind and outcome (a job's
 * Outcome, or a batch's BatchOutcome), and a job's cost (set when it ends, when the agent reported one).
 */
export const SearchAttr = {
  project: defineSearchAttributeKey('OrchestrateProject', 'KEYWORD'),
  kind: defineSearchAttributeKey('OrchestrateKind', 'KEYWORD'),
  outcome: defineSearchAttributeKey('OrchestrateOutcome', 'KEYWORD'),
  host: defineSearchAttributeKey('OrchestrateHost', 'KEYWORD'),
  costUsd: defineSearchAttributeKey('OrchestrateCostUsd', 'DOUBLE'),
} as const;

/** A search attribute's type as `temporal` spells it (`--search-attribute name=Keyword`, `--type Double`). */
export type SearchAttributeRegistration = 'Keyword' | 'Double';

/** What the dev server must register (`temporal server start-dev --search-attribute name=Type`). */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: Record<string, SearchAttributeRegistration> = Object.fromEntries(
  Object.values(SearchAttr).map((k) => [k.name, k.type === 'DOUBLE' ? 'Double' : 'Keyword'] as const),
);

export { DEFAULT_TRANSIENT_BACKOFF_MS, RESULT_MAX_CHARS } from './limits';

export interface AgentJobInput {
  project: string;
  kind: JobKind;
  /** Overrides the project's configured prompt for this kind. */
  prompt?: string;
  /** The job's day (YYYY-MM-DD in the orchestrator's timezone), for `{date}` in EOD/rollover prompts. */
  date?: string;
  /**
   * The plan its starter resolved (absent in inputs of older starters, and for a project the starter's config
   * lacks): the job then runs no prepareJob activity of its own.
   */
  plan?: JobStartPlan;
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
  /** The agent account the job uses (see AccountKey); absent in plans of older runs. */
  account?: AccountKey;
  /** A run after a usage-limit wait or a transient error continues the earlier session (absent: no). */
  resume?: boolean;
}

/**
 * A job's plan as its starter passes it in the job's input: the CLI from its config, a batch from its config
 * snapshot. Everything the workflow schedules with, but not the prompt: the agent activity renders it and checks
 * the project (folder, agent command, skills) on the worker that has the checkout, when it runs, so neither the
 * configured prompts nor env values ever enter the job's history.
 */
export interface JobStartPlan extends Omit<JobPlan, 'prompt'> {
  /** The job's day (YYYY-MM-DD in the orchestrator's timezone), for the prompt's `{date}` placeholders. */
  date: string;
  /** The prompt given for this job alone (`orchestrate run --prompt`), rendered instead of the project's. */
  promptOverride?: string;
  /**
   * The batch run whose first wave this job is in: its agent activity tells that run once the agent has a
   * worker slot (FIRST_WAVE_SLOT_SIGNAL). Absent for every other job.
   */
  firstWaveOf?: BatchRun;
}

/** One run of a workflow: a signal to it reaches that run alone, never the run it continued as. */
export interface BatchRun {
  workflowId: string;
  runId: string;
}

/** True for a plan the agent activity still renders (a starter's), false for one prepareJob rendered. */
export function isStartPlan(plan: JobPlan | JobStartPlan): plan is JobStartPlan {
  return typeof (plan as Partial<JobPlan>).prompt !== 'string';
}

/**
 * The orchestrator's settings every job's plan takes from the config ([orchestrator] kill_grace,
 * heartbeat_timeout, usage-limit margin and back-off, transient back-off), as a config snapshot carries them.
 */
export type JobSettings = Pick<
  JobPlan,
  'killGraceMs' | 'heartbeatTimeoutMs' | 'usageLimitMarginMs' | 'usageLimitBackoffMs' | 'transientBackoffMs'
>;

/**
 * Names an agent account (profile, host and a hash of the credentials, or the configured [agent] account):
 * jobs with the same key share one usage limit and one login. Never holds a secret.
 */
export type AccountKey = string;

/** Input of the runAgentJob activity. */
export interface RunAgentInput {
  /** A starter's plan is rendered (prompt, checks) by the activity itself. */
  plan: JobPlan | JobStartPlan;
  /** Names this job's run folder; stable across retries of the same workflow run. */
  runKey: string;
  workflowId: string;
  /**
   * How many more times the job runs again after a transient API error (absent in inputs of older runs: none).
   * A transient failure with retries left is not reported as job_failed: the job is not over.
   */
  transientRetriesLeft?: number;
  /** Continue this session of the agent (`--resume <id>`) with a short continuation prompt, not the task's. */
  resumeSessionId?: string;
  /** The batch that started the job (absent for a job started on its own, and in inputs of older runs). */
  batchId?: string;
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
  /** What could not be recorded about the job (its cost-ledger line, on a full disk); the outcome stands. */
  recordProblem?: string;
  /**
   * EOD: the work log the job itself checked (absent: it did not check, as jobs of older runs did not; their
   * batch checks). A job whose work log is missing failed: its outcome is agent_error.
   */
  worklogPath?: string | null;
  /** agent_error because the agent is not logged in or its key is refused: every job of its account fails so. */
  authFailure?: boolean;
  /**
   * No agent was started: the worker already knew the job's account to be at its usage limit, or (in the same
   * batch) not logged in, when the job's turn came. Nothing was recorded in the ledger and nobody notified.
   */
  notLaunched?: boolean;
  /**
   * notLaunched because the account's hold (a job of another run hit its usage limit) holds it: that job's
   * project and when the hold ends (ISO: the reset plus the margin). The job waits for it, and notifies nobody.
   */
  heldAcrossRuns?: { project: string; until: string };
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
  /** For the plans a batch passes its jobs (absent in snapshots of older runs: their jobs prepare themselves). */
  jobSettings?: JobSettings;
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
    /** The project's agent account (absent in snapshots of older runs: none is held for another's limit). */
    account?: AccountKey;
    /** [agent] timeout and resume, for its jobs' plans (absent in snapshots of older runs). */
    timeoutMs?: number;
    resume?: boolean;
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
  carry?: { rows: BatchRow[]; pending: string[]; date: string; startedAt: string; accounts?: AccountCarry };
}

/** How a batch row held for its account's usage-limit reset begins its reason. */
export const USAGE_LIMIT_WAIT_NOTE = 'waiting for usage-limit reset';

/**
 * A row waiting for its account's usage-limit reset: not started (the batch holds it), or started and waiting in
 * its own job (it hit the limit, or its worker knew the account to be held and launched no agent).
 */
export function waitsForReset(row: BatchRow): boolean {
  return (row.status === 'pending' || row.status === 'running') && row.reason.startsWith(USAGE_LIMIT_WAIT_NOTE);
}

/** A started job that waits for its account's reset in its own workflow: its row says running, yet no agent runs. */
export function waitsInItsJob(row: BatchRow): boolean {
  return row.status === 'running' && waitsForReset(row);
}

/** A row whose job is over (its outcome is in) or that never runs (skipped). */
export function rowFinished(row: BatchRow): boolean {
  return row.status !== 'pending' && row.status !== 'running';
}

/** For `status`: "2 waiting for usage-limit reset at 14:00 (Europe/London)", or null when no row waits. */
export function accountWaitSummary(rows: BatchRow[]): string | null {
  const held = rows.filter(waitsForReset);
  return held.length ? `${held.length} ${held[0].reason}` : null;
}

/** The accounts a batch holds (usage limit) or skips (auth failure), carried over continue-as-new. */
export interface AccountCarry {
  limits: AccountLimited[];
  /** Account and the reason its jobs are skipped. */
  authFailures: Array<[AccountKey, string]>;
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
 * Signal from the agent activity to a job that ran prepareJob, once the agent runs: the Web UI's current details
 * show its pid. A job started with its plan gets none (one workflow task less): its pid is in the heartbeat.
 */
export const AGENT_STARTED_SIGNAL = 'agentStarted';
export interface AgentStarted {
  pid: number;
}

/**
 * Signal from the agent activity of a job in a batch's first wave to that batch run, once its agent has a worker
 * slot. When every first-wave job has one (or is done), the first jobs are sure to run first, and the batch
 * starts more children (up to 2 × concurrency in flight) without waiting for the first of them to finish.
 */
export const FIRST_WAVE_SLOT_SIGNAL = 'firstWaveAgentSlot';
export interface FirstWaveSlot {
  project: string;
}

/**
 * Signal from the agent activity to its job while the agent runs: its progress, for the Web UI's current
 * details. Throttled by the activity (a signal costs the workflow a task, a heartbeat does not); the job's
 * handler only sets its details, so it adds no command to the history.
 */
export const AGENT_PROGRESS_SIGNAL = 'agentProgress';
export interface AgentProgressed {
  pid: number;
  progress: AgentProgress;
}

/**
 * Signal from a batch's job to the batch: the job's agent account hit its usage limit. The batch holds the jobs
 * of that account it has not started until `until`, and notifies once per account and reset.
 */
export const ACCOUNT_LIMITED_SIGNAL = 'accountUsageLimited';
export interface AccountLimited {
  account: AccountKey;
  project: string;
  /** When jobs of the account may start again (ISO): the reset plus the margin, or the back-off's end. */
  until: string;
  /** false: the agent gave no reset time and `until` is a back-off. */
  resetKnown: boolean;
  message: string;
  workflowId: string;
  /**
   * The job launched no agent (its worker knew the account to be held): it waits, and the batch holds the
   * account, but the notification is the job's that hit the limit. Absent in signals of older runs.
   */
  notLaunched?: boolean;
}

/**
 * An agent account's usage limit across jobs that share no batch (separate `orchestrate run`s, a run beside a
 * cycle): the accountHold workflow (ID: accountHoldWorkflowId) runs until the reset. Its memo holds the
 * AccountLimited under this key, which a job reads before it launches its agent; a later limit of the same
 * account extends it with the signal.
 */
export const ACCOUNT_HOLD_MEMO = 'accountHold';
export const EXTEND_ACCOUNT_HOLD_SIGNAL = 'extendAccountHold';

/** Query name for a batch's live result table. */
export const BATCH_PROGRESS_QUERY = 'progress';
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
