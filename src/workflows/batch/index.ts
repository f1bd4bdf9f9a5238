// The three batches, each read top to bottom as the process it runs. A cycle gates every project and runs
// those with work; an EOD runs every enabled project's end-of-day prompt, checks each work log and writes
// the day's digest; a rollover runs every enabled project's morning prompt. All three run their jobs the
// same way (runJobs) and carry on over continue-as-new with their rows.
import {
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import {
  SearchAttr,
  type BatchInput,
  type BatchOutcome,
  type BatchResult,
  type GateDecision,
} from '../../temporal/types';
import { batchRowFailed } from '../../lib/outcomes';
import { decideCycle } from './decideCycle';
import { decideDaily } from './decideDaily';
import { gateInChunks } from './gateInChunks';
import {
  anotherBatchRunning,
  openBatch,
  openCycleAtOnce,
  standDownFor,
  standDownIfAnotherRuns,
  type Batch,
} from './open';
import { finishedHeadline, progressDetails, rowsFor } from './progress';
import { reapStaleSessions, writeDigest } from './proxies';
import { runJobs } from './runJobs';
import { verifyWorklog } from './worklog';
import {
  BATCH_OUTCOME_PATCH,
  BATCH_OVERLAP_ALL_KINDS_PATCH,
  CYCLE_FIRST_WAVE_SOONER_PATCH,
  CYCLE_GATES_IN_CHUNKS_PATCH,
  CYCLE_START_AT_ONCE_PATCH,
  REAP_STALE_SESSIONS_PATCH,
} from '../../temporal/patches';

export { batchProgressQuery } from './open';

export async function cycle(input: BatchInput = {}): Promise<BatchResult> {
  if (!input.carry && patched(CYCLE_START_AT_ONCE_PATCH)) {
    // Nothing here waits for what it does not need: the config snapshot and the "another cycle?" check go
    // together, then the reaper and the gates (two round trips before the first job, not four). A cycle that
    // stands down reaps nothing. (patched: cycles that ran them one after another replay so.) With `sooner`,
    // the snapshot and the check are one activity (two would often take two workflow tasks to be seen), and
    // the first gate chunk goes alone. (patched: cycles that ran them as two activities replay so.)
    const sooner = patched(CYCLE_FIRST_WAVE_SOONER_PATCH);
    const [batch, other] = sooner
      ? await openCycleAtOnce(input)
      : await Promise.all([openBatch('cycle', input), anotherBatchRunning('cycle')]);
    const refused = standDownFor(batch, other);
    if (refused) return refused;
    if (patched(CYCLE_GATES_IN_CHUNKS_PATCH)) {
      // Each job starts as soon as its own gates say run, not once every project's gates are in. (patched:
      // cycles that gated every project first replay so.)
      if (sooner) {
        // The first wave's gates go alone: the later chunks and the reaper (best effort, and never in a job's
        // way: it keeps every session a running job uses) start once they are in.
        const gates = gateInChunks(batch, selectedProjects(batch), true);
        const reaped = gates.firstChunks.then(() => reapSessionsSafely({ showing: false }));
        await Promise.all([reaped, gates.done, runJobs(batch, gates.jobs)]);
        return close(batch);
      }
      const reaped = reapSessionsSafely();
      const gates = gateInChunks(batch, selectedProjects(batch));
      await Promise.all([reaped, gates.done, runJobs(batch, gates.jobs)]);
      return close(batch);
    }
    const [, decisions] = await Promise.all([reapSessionsSafely(), decideCycle(batch, selectedProjects(batch))]);
    await runJobs(batch, plan(batch, decisions));
    return close(batch);
  }
  const batch = await openBatch('cycle', input);
  let pending = input.carry?.pending;
  if (!pending) {
    const refused = await standDownIfAnotherRuns(batch);
    if (refused) return refused;
    // (patched: cycles already running when the reaper shipped replay unchanged.)
    if (patched(REAP_STALE_SESSIONS_PATCH)) await reapSessionsSafely();
    pending = plan(batch, await decideCycle(batch, selectedProjects(batch)));
  }
  await runJobs(batch, pending);
  return close(batch);
}

/**
 * Persistent sessions no longer in orchestrator.persistent and not in use go at a cycle's start. Best effort: a
 * reaper failure never fails the cycle; a cycle cancelled before it starts reaps nothing. `showing: false` once
 * the batch's table is in current details (the reaper must not replace it).
 */
async function reapSessionsSafely({ showing = true } = {}): Promise<void> {
  if (!showing && CancellationScope.current().consideredCancelled) return;
  if (showing) setCurrentDetails('reaping stale tmux sessions');
  try {
    await reapStaleSessions();
  } catch (err) {
    if (isCancellation(err)) throw err;
  }
}

export async function eod(input: BatchInput = {}): Promise<BatchResult> {
  const batch = await openBatch('eod', input);
  let pending = input.carry?.pending;
  if (!pending) {
    const refused = await dailyStandsDown(batch);
    if (refused) return refused;
    pending = plan(batch, await decideDaily(batch, selectedProjects(batch)));
  }
  await runJobs(batch, pending, verifyWorklog);
  setCurrentDetails('writing the digest');
  batch.state.digestPath = await writeDigest({ date: batch.date, rows: batch.state.rows, kind: 'eod' });
  return close(batch);
}

export async function rollover(input: BatchInput = {}): Promise<BatchResult> {
  const batch = await openBatch('rollover', input);
  let pending = input.carry?.pending;
  if (!pending) {
    const refused = await dailyStandsDown(batch);
    if (refused) return refused;
    pending = plan(batch, await decideDaily(batch, selectedProjects(batch)));
  }
  await runJobs(batch, pending);
  return close(batch);
}

/**
 * EOD and rollover stand down like cycles when another of their kind runs: two EODs at once would both write
 * the digest. (patched: EODs and rollovers already running when this shipped replay without the check.)
 */
async function dailyStandsDown(batch: Batch): Promise<BatchResult | null> {
  return patched(BATCH_OVERLAP_ALL_KINDS_PATCH) ? standDownIfAnotherRuns(batch) : null;
}

/** The projects asked for (default: every project in the config). */
function selectedProjects({ input, snap }: Batch): string[] {
  return input.projects ?? snap.projects.map((p) => p.name);
}

/** Fills in the result table from the decisions; the projects to run. */
function plan(batch: Batch, decisions: GateDecision[]): string[] {
  batch.state.rows = rowsFor(decisions);
  return decisions.filter((d) => d.decision === 'run').map((d) => d.project);
}

/**
 * Every job has finished: the batch's outcome in the Web UI's list (OrchestrateOutcome: succeeded, failed with
 * any failed row, cancelled), its counts and final table in current details. A batch that was cancelled (its
 * jobs were cancelled with it and it carried on to here) ends Cancelled, not Completed. (patched: batches before
 * it said agent_error for failed and completed when cancelled.)
 */
function close({ kind, date, state }: Batch): BatchResult {
  state.finishedAt = new Date().toISOString();
  const failed = state.rows.some(batchRowFailed);
  const current = patched(BATCH_OUTCOME_PATCH);
  const cancelled = current && CancellationScope.current().consideredCancelled;
  const outcome: BatchOutcome | 'agent_error' = cancelled
    ? 'cancelled'
    : failed
      ? current
        ? 'failed'
        : 'agent_error'
      : 'succeeded';
  upsertSearchAttributes([{ key: SearchAttr.outcome, value: outcome }]);
  setCurrentDetails(
    progressDetails(kind, date, state.rows, 0, new Map(), finishedHeadline(state.rows, cancelled)) +
      (state.digestPath ? `\n\n**digest** \`${state.digestPath}\`` : ''),
  );
  if (cancelled) throw new CancelledFailure(`${kind} ${date} cancelled`);
  return state;
}
