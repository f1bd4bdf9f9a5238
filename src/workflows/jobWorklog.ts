// An EOD job's last step once its agent succeeded: exit 0 is no proof of work (an unknown slash command exits
// 0), the day's work log must be there, written by this job. A missing one fails the job itself, so its
// workflow status, outcome attribute, ledger line, batch row and digest all say the same thing.
import { isCancellation, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { BatchActivities } from '../temporal/activities';
import type { AgentJobInput, AgentRunResult, JobPlan } from '../temporal/types';
import { localDate } from '../lib/dates';
import { EOD_WORKLOG_IN_JOB_PATCH } from '../temporal/patches';
import { jobPatched } from './jobPatched';

const checkJobWorklogOf = (project: string) =>
  proxyActivities<BatchActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 3 },
    summary: `verify work log · ${project}`,
  }).checkJobWorklog;

/**
 * The job's result after the work-log check: unchanged for other kinds and failed runs; agent_error when the
 * work log is missing (the activity also corrects the job's ledger line). Runs on the job's own task queue,
 * the host that has the checkout. (patched: EOD jobs already running when this shipped leave the check to
 * their batch, as before; their results carry no worklogPath, which tells the batch to check.)
 */
export async function withWorklogVerdict(
  input: AgentJobInput,
  plan: Pick<JobPlan, 'timezone'>,
  startedAt: string,
  result: AgentRunResult,
): Promise<AgentRunResult> {
  if (input.kind !== 'eod' || result.outcome !== 'succeeded' || !jobPatched(EOD_WORKLOG_IN_JOB_PATCH)) return result;
  setCurrentDetails('verifying work log');
  const date = input.date ?? localDate(new Date(), plan.timezone);
  try {
    const check = await checkJobWorklogOf(input.project)({ project: input.project, date, since: startedAt, result });
    if (check.ok) return { ...result, worklogPath: check.path };
    return { ...result, outcome: 'agent_error', message: `${input.project}: ${check.reason}`, worklogPath: null };
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The check itself failed three times (config unreadable, worker gone): no proof of work either.
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    return {
      ...result,
      outcome: 'agent_error',
      message: `${input.project}: work log not verified: ${why}`,
      worklogPath: null,
    };
  }
}
