// What the runner needs of one agent activity attempt (runner/attempt's AttemptContext), from the activity's
// Context: its lease, cancellation and its reasons, the agent slot, and the heartbeat that also tells the job's
// workflow which agent runs and, throttled, what it is doing.
import type { Context } from '@temporalio/activity';
import {
  AGENT_PROGRESS_SIGNAL,
  AGENT_STARTED_SIGNAL,
  FIRST_WAVE_SLOT_SIGNAL,
  agentProgressOf,
  type AgentHeartbeatWriter,
  type AgentProgressed,
  type AgentStarted,
  type BatchRun,
  type FirstWaveSlot,
  type JobPlan,
} from '../temporal/types';
import type { Semaphore } from '../lib/semaphore';
import { ProgressDetailsThrottle } from '../lib/agentProgress';
import type { AttemptContext } from '../runner/attempt';
import { leaseToken } from '../runner/lease';
import { jobClosed } from '../runner/orphans';

/**
 * What the runner needs of this activity attempt. The cancellation's reason tells a user's cancel (the only
 * thing that stops an agent) from a deploy (the agent is left for the next worker) and from the server no
 * longer knowing this attempt (its heartbeat was rejected or timed out after a freeze: the lease is lost).
 */
export function attemptContext(
  deps: { agentSlots: Semaphore },
  ctx: Context,
  plan: Pick<JobPlan, 'project'>,
  job: { announceStart: boolean; firstWaveOf?: BatchRun },
): AttemptContext {
  const execution = ctx.info.workflowExecution;
  return {
    attempt: ctx.info.attempt,
    leaseToken: leaseToken(ctx.info.currentAttemptScheduledTimestampMs, ctx.info.attempt),
    heartbeat: announcingHeartbeat(ctx, plan, job.announceStart),
    cancelSignal: ctx.cancellationSignal,
    isWorkerShutdown: () => ctx.cancellationDetails?.workerShutdown ?? false,
    isLeaseLost: () => {
      const why = ctx.cancellationDetails;
      return !!why && !why.cancelRequested && !why.workerShutdown;
    },
    jobClosed: () =>
      execution ? jobClosed(ctx.client, execution.workflowId, execution.runId) : Promise.resolve(false),
    acquireSlot: agentSlotOf(deps, ctx, plan.project, job.firstWaveOf),
    log: (m) => ctx.log.info(m),
    warn: (m) => ctx.log.warn(m),
  };
}

/**
 * Waits for one of the worker's agent slots. A job of a batch's first wave then tells the batch run it has one
 * (best effort: without it the batch starts its next children once a first-wave job is done, as it always did).
 */
export function agentSlotOf(
  deps: { agentSlots: Semaphore },
  ctx: Pick<Context, 'client' | 'log' | 'cancellationSignal'>,
  project: string,
  firstWaveOf: BatchRun | undefined,
): () => Promise<() => void> {
  return async () => {
    const release = await deps.agentSlots.acquire();
    // A wait that gave up releases its slot at once: it never held it, so it tells nobody.
    if (firstWaveOf && !ctx.cancellationSignal.aborted) tellFirstWaveSlot(ctx, project, firstWaveOf);
    return release;
  };
}

/** Tells a batch run that its first-wave job for `project` has its agent slot. Never waits, never throws. */
export function tellFirstWaveSlot(ctx: Pick<Context, 'client' | 'log'>, project: string, batch: BatchRun): void {
  const slot: FirstWaveSlot = { project };
  ctx.client.workflow
    .getHandle(batch.workflowId, batch.runId)
    .signal(FIRST_WAVE_SLOT_SIGNAL, slot)
    .catch((e: unknown) =>
      ctx.log.warn(
        `${project}: could not tell batch ${batch.workflowId} its agent has a slot (it starts its next jobs once one is done): ${String(e)}`,
      ),
    );
}

/** How often at most a running agent's progress is told to its job's workflow (its Web UI details). */
export const PROGRESS_DETAILS_EVERY_MS = 30_000;

/**
 * The activity's heartbeat. The first one with a pid (a new agent, or one adopted from an earlier worker) also
 * tells a job that ran prepareJob, so the Web UI's current details say which process runs; then, throttled, what
 * it is doing (its turn and tool). Best effort: a lost signal only loses that line. (A job started with its plan
 * is not told the pid alone: it is in the heartbeat, where `status` and the Web UI's pending activity read it,
 * and that signal would cost the job a workflow task.)
 */
function announcingHeartbeat(
  ctx: Context,
  plan: Pick<JobPlan, 'project'>,
  announceStart: boolean,
): AgentHeartbeatWriter {
  let announcedPid: number | null = null;
  let throttle = new ProgressDetailsThrottle(PROGRESS_DETAILS_EVERY_MS, Date.now());
  const tell = (signal: string, payload: AgentStarted | AgentProgressed, what: string) => {
    const execution = ctx.info.workflowExecution;
    if (!execution) return;
    ctx.client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .signal(signal, payload)
      .catch((e: unknown) => ctx.log.debug(`${plan.project}: could not tell the workflow ${what}: ${String(e)}`));
  };
  return (details) => {
    ctx.heartbeat(details);
    const pid = details.pid;
    if (typeof pid !== 'number') return;
    if (pid !== announcedPid) {
      announcedPid = pid;
      throttle = new ProgressDetailsThrottle(PROGRESS_DETAILS_EVERY_MS, Date.now());
      if (announceStart) tell(AGENT_STARTED_SIGNAL, { pid }, "the agent's pid");
      return;
    }
    const progress = agentProgressOf(details);
    if (progress && throttle.take(progress, Date.now())) {
      tell(AGENT_PROGRESS_SIGNAL, { pid, progress }, "the agent's progress");
    }
  };
}
