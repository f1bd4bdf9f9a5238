// EOD's check after each job, for jobs that did not check their own work log (see ../jobWorklog.ts): exit 0 is
// no proof of work (an unknown slash command exits 0), the day's work log must be there, written by this job.
import { patched } from '@temporalio/workflow';
import { taskQueueFor } from '../../temporal/ids';
import type { WorklogCheck } from '../../temporal/activities';
import type { AfterSuccess } from './runJobs';
import { isNoWorker, noWorkerReason, verifyWorklogOf, verifyWorklogOn } from './proxies';
import { EOD_VERIFY_ON_HOST_PATCH } from '../../temporal/patches';

export const verifyWorklog: AfterSuccess = async ({ snap, date, hostWaitMs, projectNamed }, row, job, setPhase) => {
  // The job checked its own work log (jobs that did not, started before that, carry no worklogPath).
  if (job.worklogPath !== undefined) {
    row.worklogPath = job.worklogPath;
    return;
  }
  setPhase('verifying work log');
  const host = projectNamed(row.project)?.host ?? null;
  // (patched: EODs already running when this shipped verify on the shared queue, as they did.)
  const verify = patched(EOD_VERIFY_ON_HOST_PATCH)
    ? verifyWorklogOn(taskQueueFor(snap.taskQueue, host), row.project, host, hostWaitMs)
    : verifyWorklogOf(row.project);
  let check: WorklogCheck;
  try {
    check = await verify({ project: row.project, date, since: job.startedAt });
  } catch (err) {
    if (!host || !isNoWorker(err)) throw err;
    Object.assign(row, { status: 'agent_error', reason: `work log not verified: ${noWorkerReason(host)}` });
    return;
  }
  row.worklogPath = check.path;
  if (!check.ok) Object.assign(row, { status: 'agent_error', reason: check.reason });
};
