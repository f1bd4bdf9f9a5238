// Workflow IDs, schedule IDs and task queues: the names by which every trigger (CLI, cycle, schedule) finds the
// same workflow. Workflow-safe: pure functions, no imports at run time.
import type { BatchKind } from './types';

export const DEFAULT_TASK_QUEUE = 'orchestrate';

/** One running job per project: every trigger (CLI, cycle, schedule) uses this ID. */
export function jobWorkflowId(project: string): string {
  return `job/${project}`;
}

/**
 * The usage-limit hold of one agent account on one orchestrator (task queue): at most one at a time. Workflows
 * get it from the accountHold activity (its result is in their history), never from their own task queue, which
 * a replay does not keep.
 */
export function accountHoldWorkflowId(account: string, taskQueue: string): string {
  return `account-hold/${account}${taskQueue === DEFAULT_TASK_QUEUE ? '' : `@${taskQueue}`}`;
}

/**
 * The CLI's cycle / EOD / rollover workflow ID: at most one of each kind per orchestrator (task queue).
 * Plain `cycle` on the default queue; `cycle@<queue>` when several orchestrators share a namespace.
 */
export function batchWorkflowId(kind: BatchKind, taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? kind : `${kind}@${taskQueue}`;
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

/**
 * Where a project's jobs go: its host's own task queue (`orchestrate@<host>`), served by
 * `orchestrate worker --host <host>` on the machine that has its checkout, or the shared queue.
 */
export function taskQueueFor(baseQueue: string, host: string | null | undefined): string {
  return host ? `${baseQueue}@${host}` : baseQueue;
}

/** The host whose queue this is (the inverse of taskQueueFor), or null for the shared queue or a foreign one. */
export function hostOfTaskQueue(baseQueue: string, taskQueue: string): string | null {
  return taskQueue.startsWith(`${baseQueue}@`) ? taskQueue.slice(baseQueue.length + 1) : null;
}
