// Whether a finished job or a batch row counts as a failure: one rule for exit codes, tables, costs and
// notifications. Pure and import-free at run time, so workflow code can use it too.
import type { BatchRow, Outcome } from '../temporal/types';

/**
 * A job failed when it neither succeeded nor was skipped or cancelled: a cancel is a person's decision,
 * not a failure to report or count against the project.
 */
export function jobFailed(outcome: Outcome | string): boolean {
  return outcome !== 'succeeded' && outcome !== 'skipped' && outcome !== 'cancelled';
}

/**
 * A batch row failed when its gate errored, or its job ended other than succeeded or skipped (a row still
 * pending or running when the batch ended, or cancelled with it, did not do its work).
 */
export function batchRowFailed(row: Pick<BatchRow, 'decision' | 'status'>): boolean {
  return row.decision === 'error' || (row.status !== 'succeeded' && row.status !== 'skipped');
}

/** How many rows succeeded, failed and were skipped; a failed row counts once, as failed. */
export function batchCounts(rows: Array<Pick<BatchRow, 'decision' | 'status'>>): {
  succeeded: number;
  failed: number;
  skipped: number;
} {
  const failed = rows.filter(batchRowFailed).length;
  const succeeded = rows.filter((r) => !batchRowFailed(r) && r.status === 'succeeded').length;
  return { succeeded, failed, skipped: rows.filter((r) => !batchRowFailed(r) && r.status === 'skipped').length };
}
