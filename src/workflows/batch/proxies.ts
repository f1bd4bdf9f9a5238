// The activities a batch calls, each with its timeouts, retries and the summary the Web UI's event history shows.
import { ActivityCancellationType, ActivityFailure, TimeoutFailure, proxyActivities } from '@temporalio/workflow';
import type { BatchActivities, SessionActivities } from '../../temporal/activities';
import type { BatchKind } from '../../temporal/types';

const SHORT_ACTIVITY = { startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 3 } } as const;

export const { snapshotConfig } = proxyActivities<BatchActivities>({ ...SHORT_ACTIVITY, summary: 'read config' });

/** The cycle's overlap check (its summary predates the check for the other kinds). */
export const { otherRunningBatch: otherRunningCycle } = proxyActivities<BatchActivities>({
  ...SHORT_ACTIVITY,
  summary: 'check that no other cycle is running',
});

/** The cycle's config snapshot and overlap check in one activity. */
export const { openCycle } = proxyActivities<BatchActivities>({
  ...SHORT_ACTIVITY,
  summary: 'read config and check that no other cycle is running',
});

/** The same check for EOD and rollover. */
export const otherRunningBatchOf = (kind: BatchKind) =>
  proxyActivities<BatchActivities>({ ...SHORT_ACTIVITY, summary: `check that no other ${kind} is running` })
    .otherRunningBatch;

export const { writeDigest } = proxyActivities<BatchActivities>({
  ...SHORT_ACTIVITY,
  summary: "write the day's digest",
});

/** The work-log check on the shared queue (EODs started before it moved to the project's host). */
export const verifyWorklogOf = (project: string) =>
  proxyActivities<BatchActivities>({ ...SHORT_ACTIVITY, summary: `verify work log · ${project}` }).verifyWorklog;

/** The work log is on the machine that has the checkout: verified on the project's host queue. */
export const verifyWorklogOn = (taskQueue: string, project: string, host: string | null, hostWaitMs: number) =>
  proxyActivities<BatchActivities>({
    ...SHORT_ACTIVITY,
    taskQueue,
    ...(host ? { scheduleToStartTimeout: hostWaitMs } : {}),
    summary: host ? `verify work log · ${project} on host ${host}` : `verify work log · ${project}`,
  }).verifyWorklog;

/** EOD / rollover: does a worker serve this host's queue? (Cycles learn it from their gates.) */
export const hostReadyOn = (taskQueue: string, host: string, hostWaitMs: number) =>
  proxyActivities<BatchActivities>({
    taskQueue,
    scheduleToStartTimeout: hostWaitMs,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
    summary: `check that host ${host} has a worker`,
  }).hostReady;

/** Gates touch the repo, so they run where its checkout is: on the project's host queue (or the shared one). */
export const evaluateGatesOn = (taskQueue: string, host: string | null, hostWaitMs: number) =>
  proxyActivities<BatchActivities>({
    taskQueue,
    // A host whose worker is down must not hold the whole cycle: its projects are skipped, saying why.
    ...(host ? { scheduleToStartTimeout: hostWaitMs } : {}),
    // Gate commands have their own timeouts; this bounds the whole evaluation of a large registry.
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { maximumAttempts: 2 },
    // A cancelled cycle waits until its gate commands are killed.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: host ? `evaluate gates on host ${host}` : 'evaluate gates',
  }).evaluateGates;

export const { reapStaleSessions } = proxyActivities<SessionActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
  summary: 'reap stale tmux sessions',
});

export function noWorkerReason(host: string): string {
  return `no worker for host ${host} (start \`orchestrate worker --host ${host}\` on it)`;
}

/** An activity that nobody picked up within its schedule-to-start timeout: no worker polls that queue. */
export function isNoWorker(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}
