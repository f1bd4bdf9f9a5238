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

/** batch: up to 2 × concurrency children in flight; each worker's agent slots cap the agents. */
export const CHILD_WINDOW_PATCH = 'batch-child-window';

export const PATCH_IDS = [
  REAP_STALE_SESSIONS_PATCH,
  SCHEDULED_DATE_PATCH,
  BATCH_OVERLAP_ALL_KINDS_PATCH,
  BATCH_HOST_WAIT_PATCH,
  EOD_VERIFY_ON_HOST_PATCH,
  TRANSIENT_RETRY_PATCH,
  CANCELLED_WAIT_PATCH,
  CHILD_WINDOW_PATCH,
] as const;
export type PatchId = (typeof PATCH_IDS)[number];
