// Every patch ID the workflows pass to patched() (later deprecatePatch()). An ID is recorded in the history of
// each workflow that took the new branch, so its string never changes. docs/deploy.md lists each one with what
// it guards; a test checks that list against this one. Workflow-safe: constants only.

/** batch: the stale tmux-session reaper runs at the start of a cycle. */
export const REAP_STALE_SESSIONS_PATCH = 'reap-stale-sessions';
/** batch: a scheduled run takes its day from TemporalScheduledStartTime (a catch-up EOD after midnight keeps it). */
export const SCHEDULED_DATE_PATCH = 'scheduled-date';
/** batch: EOD and rollover stand down, like cycles, when another of their kind runs. */
export const BATCH_OVERLAP_ALL_KINDS_PATCH = 'batch-overlap-all-kinds';
/** batch: EOD and rollover skip a host that has no worker after host_wait. */
export const BATCH_HOST_WAIT_PATCH = 'batch-host-wait';
/** batch: the EOD work-log check runs on the project's host queue. */
export const EOD_VERIFY_ON_HOST_PATCH = 'eod-verify-on-host';
/** agentJob: transient API errors run the job again after a durable back-off (jobs before it report them). */
export const TRANSIENT_RETRY_PATCH = 'retry-transient-agent-errors';
/** agentJob: a job cancelled while it waits (usage limit, transient back-off) is marked cancelled. */
export const CANCELLED_WAIT_PATCH = 'cancelled-wait-outcome';
/** agentJob: an EOD job checks its own work log; a missing one fails the job (agent_error). */
export const EOD_WORKLOG_IN_JOB_PATCH = 'eod-worklog-in-job';
/** agentJob: a job's cost is set in OrchestrateCostUsd when it ends. */
export const JOB_COST_ATTRIBUTE_PATCH = 'job-cost-attribute';
/** batch: its outcome attribute says failed or cancelled, and a cancelled batch ends cancelled. */
export const BATCH_OUTCOME_PATCH = 'batch-outcome-failed-cancelled';
/** agentJob: a batch's job reports its usage limit to the batch, which sends the one usage_limit_wait. */
export const ACCOUNT_LIMIT_SIGNAL_PATCH = 'account-limit-signal';
/** agentJob: a run after a usage-limit wait or a transient error resumes the earlier run's agent session. */
export const RESUME_SESSION_PATCH = 'resume-agent-session';
/** batch: jobs of an account at its usage limit wait for the reset; after an auth failure they are skipped. */
export const ACCOUNT_HOLD_PATCH = 'account-hold';
/**
 * agentJob: a job started with its plan in the input runs no prepareJob (the agent activity renders it) and gets
 * no agent-pid signal (the pid is in the heartbeat).
 */
export const LEAN_JOB_PATCH = 'lean-job-plan-in-input';
/** cycle: the config snapshot goes with the "another cycle?" check, the session reaper with the gates. */
export const CYCLE_START_AT_ONCE_PATCH = 'cycle-start-at-once';
/** agentJob: a usage limit holds the account in Temporal (accountHold), and jobs outside its batch wait for it. */
export const ACCOUNT_HOLD_ACROSS_RUNS_PATCH = 'account-hold-across-runs';
/**
 * agentJob: the agent activity reads the account's hold before it launches (a held job gets a not-launched
 * usage_limit result and waits); the workflow runs no local activity before a launch.
 */
export const HOLD_READ_IN_ACTIVITY_PATCH = 'hold-read-in-activity';

/** batch: up to 2 × concurrency children in flight; each worker's agent slots cap the agents. */
export const CHILD_WINDOW_PATCH = 'batch-child-window';
/** cycle: gates go in chunks per host, and each job starts as soon as its own chunk's gates say run. */
export const CYCLE_GATES_IN_CHUNKS_PATCH = 'cycle-gates-in-chunks';

/**
 * agentJob: one marker stands for every agentJob patch before it (AGENT_JOB_MARKED_PATCHES). A patch recorded on
 * its own costs every job a marker and a TemporalChangeVersion upsert (two history events and a visibility
 * write); a job started on this code records this one alone and takes all their branches.
 */
export const AGENT_JOB_ONE_MARKER_PATCH = 'agent-job-one-marker';
/**
 * The agentJob patches AGENT_JOB_ONE_MARKER_PATCH stands for. Never add to it: a job that recorded the one marker
 * before a later patch shipped did not take that patch's branch, so a later patch is asked with patched() alone.
 */
export const AGENT_JOB_MARKED_PATCHES = [
  TRANSIENT_RETRY_PATCH,
  CANCELLED_WAIT_PATCH,
  EOD_WORKLOG_IN_JOB_PATCH,
  JOB_COST_ATTRIBUTE_PATCH,
  ACCOUNT_LIMIT_SIGNAL_PATCH,
  RESUME_SESSION_PATCH,
  LEAN_JOB_PATCH,
  ACCOUNT_HOLD_ACROSS_RUNS_PATCH,
  HOLD_READ_IN_ACTIVITY_PATCH,
] as const;
export type AgentJobMarkedPatch = (typeof AGENT_JOB_MARKED_PATCHES)[number];
/**
 * cycle: one activity reads the config snapshot and checks for another cycle; a host's first gate chunk goes alone,
 * its later chunks and the session reaper start once it is in.
 */
export const CYCLE_FIRST_WAVE_SOONER_PATCH = 'cycle-first-wave-sooner';
/**
 * batch: the 2 × concurrency window opens once every first-wave job's agent has a worker slot (each tells the
 * batch run), not once the first of them is done.
 */
export const WINDOW_AT_FIRST_WAVE_SLOTS_PATCH = 'batch-window-at-first-wave-slots';
/** batch: a job that launched no agent (its worker knew the account held) sends no usage_limit_wait; the one that hit the limit does. */
export const LIMIT_NOTICE_FROM_LAUNCHED_JOB_PATCH = 'usage-limit-wait-from-launched-job';
/** agentJob: a batch's job held by another run's account hold tells its batch (its row shows the wait). */
export const HELD_ACROSS_RUNS_TELLS_BATCH_PATCH = 'held-across-runs-tells-batch';

export const PATCH_IDS = [
  REAP_STALE_SESSIONS_PATCH,
  SCHEDULED_DATE_PATCH,
  BATCH_OVERLAP_ALL_KINDS_PATCH,
  BATCH_HOST_WAIT_PATCH,
  EOD_VERIFY_ON_HOST_PATCH,
  TRANSIENT_RETRY_PATCH,
  CANCELLED_WAIT_PATCH,
  EOD_WORKLOG_IN_JOB_PATCH,
  JOB_COST_ATTRIBUTE_PATCH,
  BATCH_OUTCOME_PATCH,
  ACCOUNT_LIMIT_SIGNAL_PATCH,
  RESUME_SESSION_PATCH,
  ACCOUNT_HOLD_PATCH,
  LEAN_JOB_PATCH,
  CYCLE_START_AT_ONCE_PATCH,
  CHILD_WINDOW_PATCH,
  ACCOUNT_HOLD_ACROSS_RUNS_PATCH,
  HOLD_READ_IN_ACTIVITY_PATCH,
  CYCLE_GATES_IN_CHUNKS_PATCH,
  AGENT_JOB_ONE_MARKER_PATCH,
  CYCLE_FIRST_WAVE_SOONER_PATCH,
  WINDOW_AT_FIRST_WAVE_SLOTS_PATCH,
  LIMIT_NOTICE_FROM_LAUNCHED_JOB_PATCH,
  HELD_ACROSS_RUNS_TELLS_BATCH_PATCH,
] as const;
export type PatchId = (typeof PATCH_IDS)[number];
