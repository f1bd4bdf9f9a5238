// Running a batch's jobs: one child agentJob per project, at most `concurrency` at once, one project's
// failure never stopping the others; past the history limit the rest goes on in a fresh run.
import {
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  ParentClosePolicy,
  continueAsNew,
  isCancellation,
  defineSignal,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { Semaphore } from '../../lib/semaphore';
import {
  FIRST_WAVE_SLOT_SIGNAL,
  SearchAttr,
  type BatchInput,
  type BatchResult,
  type BatchRow,
  type FirstWaveSlot,
  type JobResult,
} from '../../temporal/types';
import { failedJobResult } from '../../temporal/failures';
import { CHILD_WINDOW_PATCH, WINDOW_AT_FIRST_WAVE_SLOTS_PATCH } from '../../temporal/patches';
import { jobWorkflowId, taskQueueFor } from '../../temporal/ids';
import { jobPromptLine, jobStartPlan } from '../../temporal/jobPlan';
import { jobStaticDetails } from '../../temporal/ui';
import { agentJob } from '../agentJob';
import { AccountHolds } from './account';
import type { Batch } from './open';
import { firstLineOf, progressDetails } from './progress';

/** Past this many history events, finish the running children and continue as new. */
const HISTORY_EVENTS_LIMIT = 8000;

const firstWaveSlotSignal = defineSignal<[FirstWaveSlot]>(FIRST_WAVE_SLOT_SIGNAL);

/** A batch run's first `size` jobs, until each has its agent's worker slot or is done; then `onSettled`. */
class FirstWave {
  private readonly unsettled = new Set<string>();
  private joined = 0;

  constructor(
    private readonly size: number,
    private readonly onSettled: () => void,
  ) {}

  join(project: string): boolean {
    if (this.joined >= this.size) return false;
    this.joined++;
    this.unsettled.add(project);
    return true;
  }

  settled(project: string): void {
    if (this.unsettled.delete(project) && this.joined === this.size && this.unsettled.size === 0) this.onSettled();
  }
}

/** A started job's phase in the batch's table. */
const RUNNING_AGENT = 'running agent';

/** Shows what a job is doing in the batch's current details (null: it is done). */
export type SetPhase = (phase: string | null) => void;

/** A step after a job succeeded (EOD: check its work log); it may turn the row into a failure. */
export type AfterSuccess = (batch: Batch, row: BatchRow, job: JobResult, setPhase: SetPhase) => Promise<void>;

/** A project still at its gates: `runs` is true once they say run, false when its row says why it does not. */
export interface GatedJob {
  project: string;
  runs: Promise<boolean>;
}

/**
 * Runs the pending projects' jobs into the batch's rows; returns when every one has finished. A project still at
 * its gates queues for a slot once they say run: the batch's order, as far as the decisions' arrival allows.
 * Past the history limit, it continues as new only once every gate has decided (the carry has only decided rows).
 */
export async function runJobs(
  batch: Batch,
  pending: Array<string | GatedJob>,
  afterSuccess?: AfterSuccess,
): Promise<void> {
  const { kind, date, state, input } = batch;
  // A child spends part of its life outside its agent (started, prepared, reporting back): twice as many children
  // as agents keep the agent slots busy, and each worker's own agent slots (orchestrator.concurrency) cap the
  // agents. The first wave is exactly `concurrency` children in the batch's order, alone until each of their
  // agents has a worker slot (the agent activity tells this run) or is done: the first jobs run first, and a
  // later job of their account waits for a slot behind them, so their usage limit or auth failure is known
  // before it launches (a worker starts no agent for an account it knows to be held: runner/accountHolds.ts).
  // Runs before that patch widen once the first job is done. The semaphore is FIFO and deterministic.
  const concurrency = batch.snap.concurrency;
  const slots = new Semaphore(concurrency);
  let widen = patched(CHILD_WINDOW_PATCH) ? () => slots.grow(concurrency) : null;
  const widenOnce = () => {
    widen?.();
    widen = null;
  };
  const firstWave = widen && patched(WINDOW_AT_FIRST_WAVE_SLOTS_PATCH) ? new FirstWave(concurrency, widenOnce) : null;
  setHandler(firstWaveSlotSignal, ({ project }) => firstWave?.settled(project));
  let running = 0;
  let gating = pending.filter((p) => typeof p !== 'string').length;
  let stopStarting = false;
  const left: string[] = [];
  const phases = new Map<string, string>();
  // The table is O(rows): rendered once a microtask later, however many rows changed in the same activation.
  let renderQueued = false;
  const showProgress = () => {
    if (renderQueued) return;
    renderQueued = true;
    void Promise.resolve().then(() => {
      renderQueued = false;
      setCurrentDetails(progressDetails(kind, date, state.rows, running, phases, undefined, gating));
    });
  };
  const rows = new Map<string, BatchRow>();
  for (const row of state.rows) if (!rows.has(row.project)) rows.set(row.project, row);
  const rowOf = (project: string): BatchRow => {
    const row = rows.get(project);
    if (!row) throw ApplicationFailure.nonRetryable(`internal: no row for ${project}`);
    return row;
  };
  if (gating > 0) showProgress();
  // With the early window, a started job of a held account often waits in its own workflow: its row says so (the
  // table, `status`) until the reset, when its agent runs again; then its row says what it said before.
  const waits = new Map<string, { reason: string }>();
  const accounts = new AccountHolds(batch, (project, note, until) => {
    phases.set(project, note);
    const row = rows.get(project);
    if (firstWave && row?.status === 'running') {
      const wait = { reason: waits.get(project)?.reason ?? row.reason };
      waits.set(project, wait);
      row.reason = note;
      sleep(Math.max(0, until - Date.now())).then(
        () => {
          if (waits.get(project) !== wait) return; // a later signal's timer ends that wait
          waits.delete(project);
          if (row.status !== 'running') return;
          row.reason = wait.reason;
          phases.set(project, RUNNING_AGENT);
          showProgress();
        },
        () => undefined, // the batch was cancelled
      );
    }
    showProgress();
  });
  await Promise.all(
    pending.map(async (job) => {
      const project = typeof job === 'string' ? job : job.project;
      if (typeof job !== 'string') {
        const runs = await job.runs;
        gating--;
        if (!runs) return showProgress();
      }
      const release = await startSlot(slots, accounts, rowOf(project), (note) => {
        if (note) phases.set(project, note);
        else phases.delete(project);
        showProgress();
      });
      if (!release) return;
      if (stopStarting || workflowInfo().historyLength > (input.historyEventsLimit ?? HISTORY_EVENTS_LIMIT)) {
        stopStarting = true;
        left.push(project);
        release();
        return;
      }
      // Joined before widening: this job is in the first wave.
      const first = widen !== null && (firstWave?.join(project) ?? false);
      running++;
      showProgress();
      const setPhase: SetPhase = (phase) => {
        if (phase) phases.set(project, phase);
        else phases.delete(project);
        showProgress();
      };
      try {
        await runOne(batch, rowOf(project), setPhase, afterSuccess, accounts, first);
      } finally {
        running--;
        setPhase(null);
        release();
        widenOnce();
      }
    }),
  );
  if (left.length > 0) {
    // Keep one history bounded over hundreds of projects: the rest goes on in a fresh run.
    await continueAsNew<(input: BatchInput) => Promise<BatchResult>>({
      projects: input.projects,
      historyEventsLimit: input.historyEventsLimit,
      carry: { rows: state.rows, pending: left, date, startedAt: state.startedAt, accounts: accounts.carry() },
    });
  }
}

/**
 * A slot for the project's job once its agent account allows it to start: while the account is at its usage
 * limit the job waits for the reset without holding a slot (other accounts' jobs go on); after the account's
 * auth failure the row is skipped. Null: skipped, the row says why.
 */
async function startSlot(
  slots: Semaphore,
  accounts: AccountHolds,
  row: BatchRow,
  show: (note: string | null) => void,
): Promise<(() => void) | null> {
  for (;;) {
    const release = await slots.acquire();
    const verdict = accounts.verdict(row.project);
    if (verdict.start) return release;
    release();
    if ('skip' in verdict) {
      Object.assign(row, { status: 'skipped', reason: verdict.skip, finishedAt: new Date().toISOString() });
      show(null);
      return null;
    }
    const reason = row.reason;
    row.reason = verdict.note;
    show(verdict.note);
    await accounts.waitFor(verdict.waitUntil);
    // Past the reset the row says what it said before (its gate's reason), not a wait that is over.
    row.reason = reason;
    show(null);
  }
}

async function runOne(
  batch: Batch,
  row: BatchRow,
  setPhase: SetPhase,
  afterSuccess: AfterSuccess | undefined,
  accounts: AccountHolds,
  firstWave: boolean,
): Promise<void> {
  row.status = 'running';
  setPhase(RUNNING_AGENT);
  const job = await runChildJob(batch, row, firstWave);
  if (!job) return;
  if (job.notLaunched && job.authFailure) {
    // Started in the window before this batch learnt its account is not logged in; its worker started no agent.
    Object.assign(row, { status: 'skipped', reason: job.message, finishedAt: new Date().toISOString() });
    return;
  }
  Object.assign(row, {
    status: job.outcome,
    reason: job.outcome === 'succeeded' ? firstLineOf(job.result) : job.message,
    durationMs: job.durationMs,
    costUsd: job.costUsd,
    numTurns: job.numTurns,
    logPath: job.logPath || null,
    finishedAt: new Date().toISOString(),
  });
  if (job.authFailure) accounts.authFailed(row.project, row);
  if (afterSuccess && job.outcome === 'succeeded') await afterSuccess(batch, row, job, setPhase);
}

/**
 * Starts the project's agentJob as a child and waits for it: its result, failed or not. Null when there is no
 * result to record and the row already says why (a job already running, cancelled, crashed).
 */
async function runChildJob(
  { kind, date, snap, projectNamed }: Batch,
  row: BatchRow,
  firstWave: boolean,
): Promise<JobResult | null> {
  const project = projectNamed(row.project);
  // The job's plan from the snapshot, so it runs no prepareJob of its own (none from snapshots of older runs).
  const snapPlan = project ? jobStartPlan(snap, project, { kind, date }) : null;
  const { workflowId, runId } = workflowInfo();
  const plan = snapPlan && firstWave ? { ...snapPlan, firstWaveOf: { workflowId, runId } } : snapPlan;
  try {
    const child = await startChild(agentJob, {
      taskQueue: taskQueueFor(snap.taskQueue, project?.host),
      workflowId: jobWorkflowId(row.project),
      args: [{ project: row.project, kind, date, ...(plan ? { plan } : {}) }],
      typedSearchAttributes: [
        { key: SearchAttr.project, value: row.project },
        { key: SearchAttr.kind, value: kind },
        ...(project?.host ? [{ key: SearchAttr.host, value: project.host }] : []),
      ],
      staticSummary: `${kind} · ${row.project}`,
      ...(project?.path
        ? {
            staticDetails: jobStaticDetails(
              project.path,
              plan?.promptFirstLine ?? jobPromptLine(project, { kind, date }),
            ),
          }
        : {}),
      // Cancelling the batch cancels its jobs, and waits until their agents are stopped.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
    row.workflowId = child.workflowId;
    return await child.result();
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      Object.assign(row, {
        decision: 'skip',
        status: 'skipped',
        reason: `a job is already running (${jobWorkflowId(row.project)})`,
      });
      return null;
    }
    if (err instanceof ChildWorkflowFailure) {
      const cause = err.cause;
      const failed = failedJobResult(cause);
      if (failed) {
        return failed;
      }
      if (cause instanceof CancelledFailure) {
        Object.assign(row, { status: 'cancelled', reason: 'job cancelled', finishedAt: new Date().toISOString() });
        return null;
      }
      Object.assign(row, {
        status: 'crashed',
        reason: cause?.message ?? err.message,
        finishedAt: new Date().toISOString(),
      });
      return null;
    }
    if (isCancellation(err)) {
      row.status = 'cancelled';
      row.reason = 'batch cancelled';
    }
    throw err;
  }
}
