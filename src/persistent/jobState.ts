// The job in progress in a session (`job.json` in the session folder), so that a later attempt of the same job
// (after its worker crashed or was deployed) adopts the prompt already submitted instead of sending it again,
// and counts the sessions that died under the job.
import { Context } from '@temporalio/activity';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface JobState {
  /** workflow ID, run ID and activity ID: the same across the retries of one job, different for every job. */
  jobKey: string;
  nonce: string;
  startedAt: number;
  /** What the input line showed with the prompt typed, before Enter. */
  typedView: string | null;
  /** Enter was pressed: from here on the prompt may have been submitted, so it is never typed again. */
  enterPressed: boolean;
  /** An attempt reported how the job ended: nothing left to adopt. */
  reported: boolean;
  /** Sessions that died under this job: the second is final (not retried). */
  crashes: number;
}

/** Sessions dying under one job before it fails for good (as ephemeral jobs: a crash gets one more try). */
export const MAX_SESSION_CRASHES = 2;

/** The activity attempt running a job. */
export interface ActivityAttempt {
  jobKey: string;
  /** The cancel comes from the worker shutting down, not from the server. */
  workerShutdown: () => boolean;
}

/** The activity attempt running this job, when called inside one; null when called directly. */
export function activityAttempt(): ActivityAttempt | null {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return null;
  }
  const wf = ctx.info.workflowExecution;
  return {
    jobKey: `${wf?.workflowId ?? '-'} ${wf?.runId ?? '-'} ${ctx.info.activityId}`,
    workerShutdown: () => ctx.cancellationDetails?.workerShutdown ?? false,
  };
}

export async function readJobState(dir: string): Promise<JobState | null> {
  try {
    const v = JSON.parse(await fs.readFile(path.join(dir, 'job.json'), 'utf8')) as Partial<JobState> | null;
    return typeof v === 'object' && v !== null && typeof v.jobKey === 'string' && typeof v.nonce === 'string'
      ? (v as JobState)
      : null;
  } catch {
    return null;
  }
}

/** Written to a temporary name and renamed: a reader never sees half a file. */
export async function writeJobState(dir: string, state: JobState): Promise<void> {
  const tmp = path.join(dir, `.job.${process.pid}.json`);
  await fs.writeFile(tmp, JSON.stringify(state));
  await fs.rename(tmp, path.join(dir, 'job.json'));
}

/** How this attempt starts, given what an earlier attempt left in the session folder. */
export interface JobStart {
  state: JobState;
  /** An earlier attempt of this job pressed Enter in this same session: wait for its nonce, send nothing. */
  adopt: boolean;
  /** An earlier attempt of this job ran in this session (its input line may hold part of the prompt). */
  sameJob: boolean;
  /** The session died under an earlier attempt while no worker watched it: counted in state.crashes. */
  crashedUnwatched: boolean;
}

/**
 * Pure: the state of this attempt. `jobKey` null: called outside an activity (nothing is adopted); `created`:
 * the session was just created (so whatever an earlier attempt submitted died with the old one).
 */
export function startJob(
  previous: JobState | null,
  jobKey: string | null,
  created: boolean,
  now: number,
  newId: (bytes: number) => string = (n) => randomBytes(n).toString('hex'),
): JobStart {
  const sameJob = jobKey !== null && previous !== null && previous.jobKey === jobKey;
  const unfinished = sameJob && !previous.reported;
  const adopt = unfinished && previous.enterPressed && !created;
  const crashedUnwatched = unfinished && previous.enterPressed && created;
  const state: JobState = {
    jobKey: jobKey ?? `direct ${newId(6)}`,
    nonce: adopt ? previous.nonce : newId(12),
    startedAt: adopt ? previous.startedAt : now,
    typedView: adopt ? previous.typedView : null,
    enterPressed: adopt,
    reported: false,
    crashes: (sameJob ? previous.crashes : 0) + (crashedUnwatched ? 1 : 0),
  };
  return { state, adopt, sameJob, crashedUnwatched };
}
