// One immutable agent job: its plan (passed by its starter, or resolved by an activity), run the agent (activity),
// report.
import {
  ActivityCancellationType,
  defineSignal,
  ActivityFailure,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { usageLimitEnd } from '../lib/usageLimit';
import type { AgentJobActivities, NotifyActivities } from '../temporal/activities';
import { localTime } from '../lib/dates';
import { progressLine } from '../lib/agentProgress';
import {
  ACCOUNT_LIMITED_SIGNAL,
  AGENT_PROGRESS_SIGNAL,
  AGENT_STARTED_SIGNAL,
  DEFAULT_TRANSIENT_BACKOFF_MS,
  SearchAttr,
  bareRunResult,
  type AccountLimited,
  type AgentJobInput,
  type AgentProgressed,
  type AgentStarted,
  type AgentRunResult,
  type JobPlan,
  type JobResult,
  type JobStartPlan,
} from '../temporal/types';
import { SETUP_FAILURE_TYPES, isSetupFailure, jobFailed, reportedRunResult } from '../temporal/failures';
import {
  ACCOUNT_HOLD_ACROSS_RUNS_PATCH,
  ACCOUNT_LIMIT_SIGNAL_PATCH,
  CANCELLED_WAIT_PATCH,
  HELD_ACROSS_RUNS_TELLS_BATCH_PATCH,
  HOLD_READ_IN_ACTIVITY_PATCH,
  JOB_COST_ATTRIBUTE_PATCH,
  LEAN_JOB_PATCH,
  RESUME_SESSION_PATCH,
  TRANSIENT_RETRY_PATCH,
} from '../temporal/patches';
import { holdAccount, releaseAccountHold, waitForAccountHold, waitOutAccountHold } from './accountHold';
import { withWorklogVerdict } from './jobWorklog';
import { jobPatched } from './jobPatched';

const prepareJobFor = (project: string) =>
  proxyActivities<AgentJobActivities & NotifyActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...SETUP_FAILURE_TYPES] },
    summary: `prepare job · ${project}`,
  }).prepareJob;
const { sendNotification } = proxyActivities<AgentJobActivities & NotifyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 2 },
  summary: 'notify',
});

const agentStartedSignal = defineSignal<[AgentStarted]>(AGENT_STARTED_SIGNAL);
const agentProgressSignal = defineSignal<[AgentProgressed]>(AGENT_PROGRESS_SIGNAL);
const accountLimitedSignal = defineSignal<[AccountLimited]>(ACCOUNT_LIMITED_SIGNAL);

/** Margin on top of the agent's own timeout and kill grace, for the activity's start-to-close timeout. */
const ACTIVITY_TIMEOUT_MARGIN_MS = 60_000;
/**
 * Usage-limit waits per job before it gives up and reports `usage_limit`. A wait for the account's hold (its agent
 * activity found another run's job had hit the limit) is one of them.
 */
const MAX_USAGE_LIMIT_WAITS = 6;
/** Runs again after a transient API error (overloaded, 5xx, connection) before the job reports agent_error. */
const MAX_TRANSIENT_RETRIES = 3;

/** A notification is a courtesy: its failure (a bad hook, a config error) never fails or changes the job. */
async function notifySafely(event: Parameters<typeof sendNotification>[0]): Promise<void> {
  try {
    await sendNotification(event);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn(`notification ${event.type} failed: ${failureMessage(err)}`);
  }
}

/**
 * One immutable job, as its process: prepare, run the agent, wait out a usage limit or a transient error and run
 * again, finish. Kept as one function over 80 lines on purpose: its order of commands, and of the patched()
 * branches inside it, is what recorded histories replay, and reads best in one place.
 */
export async function agentJob(input: AgentJobInput): Promise<JobResult> {
  const info = workflowInfo();
  const startedAt = new Date().toISOString();
  const identity = { workflowId: info.workflowId, project: input.project, kind: input.kind, startedAt };

  // A job started with its plan runs no prepareJob: its agent activity renders the prompt and checks the project,
  // and a setup error there ends the job as one here would. (patched: jobs that prepared themselves replay so.)
  const startedWithPlan = input.plan !== undefined && jobPatched(LEAN_JOB_PATCH);
  let plan: JobPlan | JobStartPlan;
  if (input.plan && startedWithPlan) {
    plan = input.plan;
  } else {
    setCurrentDetails(`preparing ${input.kind} job for ${input.project}`);
    try {
      plan = await prepareJobFor(input.project)(input);
    } catch (err) {
      const message = failureMessage(err);
      await notifySafely({
        type: 'job_failed',
        project: input.project,
        kind: input.kind,
        outcome: 'setup_error',
        message,
        workflowId: info.workflowId,
        runId: info.runId,
        attempt: 1,
        durationMs: null,
        costUsd: null,
        logPath: null,
        webUrl: '',
      });
      return finish(identity, bareRunResult('setup_error', message));
    }
  }
  if (plan.host) upsertSearchAttributes([{ key: SearchAttr.host, value: plan.host }]);

  const { runAgentJob } = proxyActivities<AgentJobActivities & NotifyActivities>({
    startToCloseTimeout: plan.timeoutMs + plan.killGraceMs + ACTIVITY_TIMEOUT_MARGIN_MS,
    // A dead worker is noticed within this; the next attempt adopts the agent if it still runs.
    heartbeatTimeout: plan.heartbeatTimeoutMs,
    // Agent jobs are not idempotent: the activity itself caps agent launches at two (a crash gets one
    // more), so further attempts only ever adopt or collect a running agent after a worker died or was
    // deployed. Setup errors are never retried.
    retry: {
      maximumAttempts: 6,
      initialInterval: '2 seconds',
      nonRetryableErrorTypes: [...SETUP_FAILURE_TYPES],
    },
    // Wait for the activity to stop the agent's process group before the workflow reports "cancelled".
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: `agent · ${plan.project} · ${plan.promptFirstLine}`,
  });

  // The activity says which process runs (also after adopting one from an earlier worker): current details
  // show its pid, then (throttled) its progress. Setting details issues no command, so histories recorded
  // before this replay unchanged. A signal that arrives after its run ended (it is sent without waiting) must
  // not overwrite a wait's details. A job started with its plan gets no signal when its agent starts (one
  // workflow task less): its pid is in the heartbeat, and in details from its first progress signal on.
  let agentRunning = false;
  const showRunning = (pid: number, progress = '') => {
    if (agentRunning)
      setCurrentDetails(`running agent pid ${pid} in ${plan.path}\n\n${plan.promptFirstLine}${progress}`);
  };
  setHandler(agentStartedSignal, ({ pid }) => showRunning(pid));
  setHandler(agentProgressSignal, ({ pid, progress }) => showRunning(pid, `\n\n${progressLine(progress) ?? ''}`));

  let result: AgentRunResult;
  let usageLimitWaits = 0;
  let transientRetries = 0;
  // The session the last run printed: a run after a wait continues it rather than starting the task over.
  let lastSessionId: string | null = null;
  for (let invocation = 0; ; invocation++) {
    const resumeSessionId =
      invocation > 0 && plan.resume && lastSessionId && jobPatched(RESUME_SESSION_PATCH) ? lastSessionId : undefined;
    // Another job (not of this batch) hit the account's usage limit: wait for its reset before launching. The
    // agent activity reads the hold itself (off the workflow task); jobs of older runs read it here. (The newer
    // patch first: a new job records no marker of the older one until it hits a limit.)
    if (!jobPatched(HOLD_READ_IN_ACTIVITY_PATCH) && jobPatched(ACCOUNT_HOLD_ACROSS_RUNS_PATCH))
      await waitOutAccountHold(plan, waitDurably);
    setCurrentDetails(
      `${resumeSessionId ? `resuming session ${resumeSessionId}` : 'running agent'} in ${plan.path}\n\n${plan.promptFirstLine}`,
    );
    agentRunning = true;
    try {
      const key = invocation === 0 ? runKey() : `${runKey()}-r${invocation}`;
      result = await runAgentJob({
        plan,
        runKey: key,
        workflowId: info.workflowId,
        transientRetriesLeft: MAX_TRANSIENT_RETRIES - transientRetries,
        ...(info.parent ? { batchId: info.parent.workflowId } : {}),
        ...(resumeSessionId ? { resumeSessionId } : {}),
      });
      agentRunning = false;
    } catch (err) {
      agentRunning = false;
      if (isCancellation(err)) {
        upsertSearchAttributes([{ key: SearchAttr.outcome, value: 'cancelled' }]);
        setCurrentDetails(`cancelled; agent stopped`);
        throw err;
      }
      result =
        reportedRunResult(err instanceof ActivityFailure ? err.cause : undefined) ??
        bareRunResult(isSetupFailure(err) ? 'setup_error' : 'crashed', `${input.project}: ${failureMessage(err)}`);
    }
    if (result.sessionId) lastSessionId = result.sessionId;
    if (result.outcome === 'agent_error' && result.transient) {
      if (transientRetries < MAX_TRANSIENT_RETRIES && jobPatched(TRANSIENT_RETRY_PATCH)) {
        // Overloaded, a 5xx, a dropped connection: likely to pass. Wait durably (a timer in Temporal), then
        // run the job again in a new run folder; the back-off doubles each time.
        const delay = (plan.transientBackoffMs ?? DEFAULT_TRANSIENT_BACKOFF_MS) * 2 ** transientRetries;
        transientRetries++;
        setCurrentDetails(
          `transient API error; running again at ${localTime(new Date(Date.now() + delay), plan.timezone)} (${plan.timezone}), retry ${transientRetries} of ${MAX_TRANSIENT_RETRIES}\n\n${result.message}`,
        );
        await waitDurably(delay);
        continue;
      }
      if (transientRetries > 0) {
        result = { ...result, message: `${result.message} (still failing after ${transientRetries} retries)` };
      }
    }
    if (result.outcome !== 'usage_limit' || usageLimitWaits >= MAX_USAGE_LIMIT_WAITS) break;
    usageLimitWaits++;
    // Not launched: the account's hold holds it. The job that hit the limit holds the account and notified.
    if (result.heldAcrossRuns) {
      // Its batch shows the wait on its row and holds the account's jobs it has not started; the hold notified.
      if (workflowInfo().parent && patched(HELD_ACROSS_RUNS_TELLS_BATCH_PATCH)) {
        await toldTheBatch({
          account: plan.account ?? '',
          project: plan.project,
          until: result.heldAcrossRuns.until,
          resetKnown: true,
          message: result.message,
          workflowId: info.workflowId,
          notLaunched: true,
        });
      }
      await waitForAccountHold(result.heldAcrossRuns, plan, waitDurably);
      continue;
    }
    // The usage limit resets at a known time: wait for it durably (a timer in Temporal, not a process),
    // then run again. Waiting spends no retry attempt.
    const { until, resetKnown } = usageLimitEnd(result.usageLimitResetsAt, plan, Date.now());
    upsertSearchAttributes([{ key: SearchAttr.outcome, value: 'usage_limit' }]);
    const limited: AccountLimited = {
      account: plan.account ?? '',
      project: plan.project,
      until: new Date(until).toISOString(),
      resetKnown,
      message: result.message,
      workflowId: info.workflowId,
      ...(result.notLaunched ? { notLaunched: true } : {}),
    };
    // The account's hold in Temporal holds its jobs outside this batch; in a batch, the batch holds the
    // account's other jobs and notifies once for all of them; either notifies once per account and reset. A job
    // the worker did not start (its account was known to be at the limit) is not news: the job that hit it notified.
    const firstToHold =
      !result.notLaunched &&
      (!limited.account || !jobPatched(ACCOUNT_HOLD_ACROSS_RUNS_PATCH) || (await holdAccount(limited)));
    if (!(await toldTheBatch(limited)) && firstToHold) {
      await notifySafely({
        type: 'usage_limit_wait',
        project: plan.project,
        until: limited.until,
        workflowId: info.workflowId,
        message: result.message,
      });
    }
    setCurrentDetails(
      `waiting for usage limit reset until ${localTime(new Date(until), plan.timezone)} (${plan.timezone})${resetKnown ? '' : ' — reset time not given, backing off'}`,
    );
    await waitDurably(Math.max(0, until - Date.now()));
  }
  return finish(identity, await withWorklogVerdict(input, plan, startedAt, result));
}

/**
 * Tells the batch that started this job that its account is at the usage limit. False when there is no batch to
 * tell (an ad-hoc run, a plan without an account, a history from before) or it could not be told.
 */
async function toldTheBatch(limited: AccountLimited): Promise<boolean> {
  const parent = workflowInfo().parent;
  if (!parent || !limited.account || !jobPatched(ACCOUNT_LIMIT_SIGNAL_PATCH)) return false;
  try {
    // The batch's latest run: a batch that continued as new still holds this account's jobs.
    await getExternalWorkflowHandle(parent.workflowId).signal(accountLimitedSignal, limited);
    return true;
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn(`could not tell batch ${parent.workflowId} of the usage limit: ${failureMessage(err)}`);
    return false;
  }
}

/**
 * A durable wait between agent runs. Cancelled there, the job's outcome attribute says `cancelled` (not the
 * `usage_limit` it showed while waiting), as a cancel during the agent run does: the Web UI's filter and
 * `orchestrate status` show what happened last.
 */
async function waitDurably(ms: number): Promise<void> {
  try {
    await sleep(ms);
  } catch (err) {
    if (isCancellation(err) && jobPatched(CANCELLED_WAIT_PATCH)) {
      upsertSearchAttributes([{ key: SearchAttr.outcome, value: 'cancelled' }]);
      setCurrentDetails('cancelled while waiting; no agent was running');
    }
    if (isCancellation(err)) await releaseAccountHold();
    throw err;
  }
}

/** Names the run folder: the same for every attempt of this workflow run, readable by a human. */
function runKey(): string {
  const info = workflowInfo();
  const t = info.startTime
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  // The whole run ID: UUIDv7 run IDs share their leading (timestamp) digits across runs started close together.
  return `${t}-${info.runId}`;
}

function finish(
  identity: Pick<JobResult, 'workflowId' | 'project' | 'kind' | 'startedAt'>,
  result: AgentRunResult,
): JobResult {
  const job: JobResult = { ...identity, ...result };
  // The cost, for the Web UI's Cost column and views. (patched: jobs before it carry none.)
  const cost = job.costUsd !== null && jobPatched(JOB_COST_ATTRIBUTE_PATCH) ? job.costUsd : null;
  upsertSearchAttributes([
    { key: SearchAttr.outcome, value: job.outcome },
    ...(cost !== null ? [{ key: SearchAttr.costUsd, value: cost }] : []),
  ]);
  setCurrentDetails(`${job.outcome}: ${job.message}`);
  if (job.outcome !== 'succeeded') {
    // Failed in the Web UI, and the structured result still reaches callers (CLI, cycle) in the details.
    throw jobFailed(job);
  }
  return job;
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    return cause.timeoutType === 'HEARTBEAT'
      ? 'the worker running the agent stopped responding (heartbeat timeout) — check the worker host; the job was retried at most once'
      : `the agent activity timed out (${cause.timeoutType ?? 'unknown'}) — see the worker log`;
  }
  return cause instanceof Error ? cause.message : String(cause);
}
