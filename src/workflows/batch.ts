// The seed's run_cycle(), run_eod() and run_rollover(): one child agentJob per project, at most
// `concurrency` at once, one project's failure never stopping the others.
import {
  ActivityCancellationType,
  ApplicationFailure,
  ChildWorkflowFailure,
  CancelledFailure,
  ChildWorkflowCancellationType,
  ActivityFailure,
  ParentClosePolicy,
  TimeoutFailure,
  continueAsNew,
  defineQuery,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  SearchAttributeType,
  WorkflowExecutionAlreadyStartedError,
  defineSearchAttributeKey,
} from '@temporalio/common';
import type { Activities } from '../activities';
import { localDate } from '../lib/dates';
import { fillTemplate, firstLine, promptVars } from '../lib/prompts';
import {
  BATCH_PROGRESS_QUERY,
  SearchAttr,
  type BatchInput,
  type BatchKind,
  type BatchResult,
  type BatchRow,
  type ConfigSnapshot,
  type GateDecision,
  type JobResult,
} from '../temporal/types';
import { failedJobResult } from '../temporal/failures';
import { jobWorkflowId, taskQueueFor } from '../temporal/ids';
import {
  BATCH_HOST_WAIT_PATCH,
  BATCH_OVERLAP_ALL_KINDS_PATCH,
  EOD_VERIFY_ON_HOST_PATCH,
  REAP_STALE_SESSIONS_PATCH,
  SCHEDULED_DATE_PATCH,
} from '../temporal/patches';
import { jobStaticDetails } from '../temporal/ui';
import { Semaphore } from '../lib/semaphore';
import { agentJob } from './agentJob';

/** Live progress of a cycle / EOD / rollover: the result table as it fills in. */
export const batchProgressQuery = defineQuery<BatchResult>(BATCH_PROGRESS_QUERY);

// Every activity carries a summary, so the Web UI's event history reads as what happened.
const SHORT_ACTIVITY = { startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 3 } } as const;
const { snapshotConfig } = proxyActivities<Activities>({ ...SHORT_ACTIVITY, summary: 'read config' });
const { otherRunningBatch } = proxyActivities<Activities>({
  ...SHORT_ACTIVITY,
  summary: 'check that no other cycle is running',
});
/** The same check for EOD and rollover (patched: BATCH_OVERLAP_ALL_KINDS_PATCH). */
const otherRunningBatchOf = (kind: BatchKind) =>
  proxyActivities<Activities>({ ...SHORT_ACTIVITY, summary: `check that no other ${kind} is running` })
    .otherRunningBatch;
const { writeDigest } = proxyActivities<Activities>({ ...SHORT_ACTIVITY, summary: "write the day's digest" });
const verifyWorklogOf = (project: string) =>
  proxyActivities<Activities>({ ...SHORT_ACTIVITY, summary: `verify work log · ${project}` }).verifyWorklog;
/** The work log is on the machine that has the checkout: verified on the project's host queue. */
const verifyWorklogOn = (taskQueue: string, project: string, host: string | null, hostWaitMs: number) =>
  proxyActivities<Activities>({
    ...SHORT_ACTIVITY,
    taskQueue,
    ...(host ? { scheduleToStartTimeout: hostWaitMs } : {}),
    summary: host ? `verify work log · ${project} on host ${host}` : `verify work log · ${project}`,
  }).verifyWorklog;
/** EOD / rollover: does a worker serve this host's queue? (Cycles learn it from their gates.) */
const hostReadyOn = (taskQueue: string, host: string, hostWaitMs: number) =>
  proxyActivities<Activities>({
    taskQueue,
    scheduleToStartTimeout: hostWaitMs,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
    summary: `check that host ${host} has a worker`,
  }).hostReady;
/** Gates touch the repo, so they run where its checkout is: on the project's host queue (or the shared one). */
const evaluateGatesOn = (taskQueue: string, host: string | null, hostWaitMs: number) =>
  proxyActivities<Activities>({
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

const { reapStaleSessions } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
  summary: 'reap stale tmux sessions',
});

/** [orchestrator] host_wait for snapshots taken before it existed. */
const DEFAULT_HOST_WAIT_MS = 120_000;

/** Set by the server on workflows a schedule starts: the time the run was due (not when it started). */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

function noWorkerReason(host: string): string {
  return `no worker for host ${host} (start \`orchestrate worker --host ${host}\` on it)`;
}

/** An activity that nobody picked up within its schedule-to-start timeout: no worker polls that queue. */
function isNoWorker(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/** When a schedule started this run, the time it was due; null for runs started by hand. */
function scheduledStartTime(): Date | null {
  const info = workflowInfo();
  const typed = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
  if (typed instanceof Date && !Number.isNaN(typed.getTime())) return typed;
  // Older servers may send it without the type metadata the typed view needs.
  const raw = info.searchAttributes?.TemporalScheduledStartTime?.[0];
  if (raw === undefined) return null;
  const at = raw instanceof Date ? raw : new Date(String(raw));
  return Number.isNaN(at.getTime()) ? null : at;
}

/** Past this many history events, finish the running children and continue as new. */
const HISTORY_EVENTS_LIMIT = 8000;

export async function cycle(input: BatchInput = {}): Promise<BatchResult> {
  return runBatch('cycle', input);
}

export async function eod(input: BatchInput = {}): Promise<BatchResult> {
  return runBatch('eod', input);
}

export async function rollover(input: BatchInput = {}): Promise<BatchResult> {
  return runBatch('rollover', input);
}

async function runBatch(kind: BatchKind, input: BatchInput): Promise<BatchResult> {
  const info = workflowInfo();
  upsertSearchAttributes([{ key: SearchAttr.kind, value: kind }]);
  setCurrentDetails('reading config');
  const snap = await snapshotConfig();
  // A scheduled run's day is the day it was due: an EOD due at 23:00 that runs at 01:00 (catch-up window)
  // is still yesterday's EOD. (patched: runs already going when this shipped keep the day they chose.)
  const scheduledAt = input.carry || input.date ? null : scheduledStartTime();
  const date =
    input.carry?.date ??
    input.date ??
    (scheduledAt && patched(SCHEDULED_DATE_PATCH)
      ? localDate(scheduledAt, snap.timezone)
      : localDate(new Date(), snap.timezone));
  const hostWaitMs = snap.hostWaitMs ?? DEFAULT_HOST_WAIT_MS;
  const startedAt = input.carry?.startedAt ?? new Date().toISOString();
  const state: BatchResult = {
    kind,
    date,
    startedAt,
    finishedAt: '',
    rows: input.carry?.rows ?? [],
    digestPath: null,
    refused: null,
  };
  setHandler(batchProgressQuery, () => state);

  let pending: string[];
  if (input.carry) {
    pending = input.carry.pending;
  } else {
    // Two EODs at once would both write the digest: EOD and rollover stand down like cycles.
    // (patched: EODs and rollovers already running when this shipped replay without the check.)
    if (kind === 'cycle' || patched(BATCH_OVERLAP_ALL_KINDS_PATCH)) {
      const check = kind === 'cycle' ? otherRunningBatch : otherRunningBatchOf(kind);
      const other = await check({
        kind,
        selfWorkflowId: info.workflowId,
        selfStartTime: info.startTime.toISOString(),
      });
      if (other) {
        state.refused = `another ${kind} is already running (${other}); this one did nothing`;
        setCurrentDetails(state.refused);
        return { ...state, finishedAt: new Date().toISOString() };
      }
    }
    if (kind === 'cycle') {
      // Persistent sessions no longer in orchestrator.persistent and not in use go first. Best effort: a reaper
      // failure never fails the cycle. (patched: cycles already running when this shipped replay unchanged.)
      if (patched(REAP_STALE_SESSIONS_PATCH)) {
        setCurrentDetails('reaping stale tmux sessions');
        try {
          await reapStaleSessions();
        } catch (err) {
          if (isCancellation(err)) throw err;
        }
      }
    }
    const selected = input.projects ?? snap.projects.map((p) => p.name);
    let decisions: GateDecision[];
    if (kind === 'cycle') {
      setCurrentDetails(`gating: evaluating gates for ${selected.length} projects`);
      const at = new Date().toISOString();
      const hostOf = (name: string) => snap.projects.find((p) => p.name === name)?.host ?? null;
      // Disabled projects are decided here: no need to reach their host for them.
      const disabled = new Set(snap.projects.filter((p) => !p.enabled).map((p) => p.name));
      const toGate = selected.filter((p) => !disabled.has(p));
      const hosts = [...new Set(toGate.map(hostOf))];
      const byHost = await Promise.all(
        hosts.map(async (host): Promise<GateDecision[]> => {
          const projects = toGate.filter((p) => hostOf(p) === host);
          try {
            const queue = taskQueueFor(snap.taskQueue, host);
            return await evaluateGatesOn(queue, host, hostWaitMs)({ projects, at });
          } catch (err) {
            if (!host || isCancellation(err)) throw err;
            const reason = noWorkerReason(host);
            return projects.map((project) => ({ project, decision: 'error' as const, gate: 'host', reason }));
          }
        }),
      );
      const found = new Map(byHost.flat().map((d) => [d.project, d]));
      decisions = selected.map((p): GateDecision => {
        if (disabled.has(p)) {
          return {
            project: p,
            decision: 'skip',
            gate: 'enabled',
            reason: `disabled in config (enabled = false in [projects.${p}])`,
          };
        }
        return found.get(p) ?? { project: p, decision: 'error', gate: 'internal', reason: 'no gate decision' };
      });
    } else {
      decisions = selected.map((name) => {
        const p = snap.projects.find((x) => x.name === name);
        if (!p) return { project: name, decision: 'error', gate: 'config', reason: `unknown project "${name}"` };
        return p.enabled
          ? { project: name, decision: 'run', gate: 'all', reason: `${kind} for every enabled project` }
          : { project: name, decision: 'skip', gate: 'enabled', reason: 'disabled in config (enabled = false)' };
      });
      // A host without a worker would leave its jobs waiting forever: after host_wait they are skipped, saying
      // why, as in cycles. (patched: EODs and rollovers already running when this shipped replay unchanged.)
      const hostOf = (name: string) => snap.projects.find((p) => p.name === name)?.host ?? null;
      const hosts = [...new Set(decisions.filter((d) => d.decision === 'run').flatMap((d) => hostOf(d.project) ?? []))];
      if (hosts.length > 0 && patched(BATCH_HOST_WAIT_PATCH)) {
        setCurrentDetails(`checking that hosts ${hosts.join(', ')} have a worker`);
        const missing = new Set<string>();
        await Promise.all(
          hosts.map(async (host) => {
            try {
              await hostReadyOn(taskQueueFor(snap.taskQueue, host), host, hostWaitMs)();
            } catch (err) {
              if (isCancellation(err)) throw err;
              // Any other failure means a worker answered: its jobs can run.
              if (isNoWorker(err)) missing.add(host);
            }
          }),
        );
        decisions = decisions.map((d) => {
          const host = hostOf(d.project);
          return d.decision === 'run' && host && missing.has(host)
            ? { project: d.project, decision: 'error', gate: 'host', reason: noWorkerReason(host) }
            : d;
        });
      }
    }
    state.rows = decisions.map((d) => ({
      project: d.project,
      decision: d.decision,
      status: d.decision === 'run' ? 'pending' : 'skipped',
      reason: d.reason,
      durationMs: null,
      costUsd: null,
      numTurns: null,
      workflowId: null,
      logPath: null,
    }));
    pending = decisions.filter((d) => d.decision === 'run').map((d) => d.project);
  }

  // At most `concurrency` children at once (the semaphore is FIFO and deterministic).
  const slots = new Semaphore(snap.concurrency);
  let running = 0;
  let stopStarting = false;
  const left: string[] = [];
  const phases = new Map<string, string>();
  const showProgress = () => setCurrentDetails(progressDetails(kind, date, state.rows, running, phases));
  await Promise.all(
    pending.map(async (project) => {
      const release = await slots.acquire();
      if (stopStarting || workflowInfo().historyLength > (input.historyEventsLimit ?? HISTORY_EVENTS_LIMIT)) {
        stopStarting = true;
        left.push(project);
        release();
        return;
      }
      running++;
      showProgress();
      const setPhase = (phase: string | null) => {
        if (phase) phases.set(project, phase);
        else phases.delete(project);
        showProgress();
      };
      try {
        await runOne(kind, date, rowOf(state, project), snap, hostWaitMs, setPhase);
      } finally {
        running--;
        setPhase(null);
        release();
      }
    }),
  );
  if (left.length > 0) {
    // Keep one history bounded over hundreds of projects: the rest goes on in a fresh run.
    await continueAsNew<typeof cycle>({
      projects: input.projects,
      historyEventsLimit: input.historyEventsLimit,
      carry: { rows: state.rows, pending: left, date, startedAt },
    });
  }

  if (kind === 'eod') {
    setCurrentDetails('writing the digest');
    state.digestPath = await writeDigest({ date, rows: state.rows, kind });
  }
  state.finishedAt = new Date().toISOString();
  const failed = state.rows.filter(
    (r) => r.decision === 'error' || (r.status !== 'succeeded' && r.status !== 'skipped'),
  );
  upsertSearchAttributes([{ key: SearchAttr.outcome, value: failed.length ? 'agent_error' : 'succeeded' }]);
  const finished = `finished: ${state.rows.filter((r) => r.status === 'succeeded').length} succeeded, ${failed.length} failed, ${state.rows.filter((r) => r.status === 'skipped').length} skipped`;
  setCurrentDetails(
    progressDetails(kind, date, state.rows, 0, new Map(), finished) +
      (state.digestPath ? `\n\n**digest** \`${state.digestPath}\`` : ''),
  );
  return state;
}

function rowOf(state: BatchResult, project: string): BatchRow {
  const row = state.rows.find((r) => r.project === project);
  if (!row) throw ApplicationFailure.nonRetryable(`internal: no row for ${project}`);
  return row;
}

async function runOne(
  kind: BatchKind,
  date: string,
  row: BatchRow,
  snap: ConfigSnapshot,
  hostWaitMs: number,
  setPhase: (phase: string | null) => void,
): Promise<void> {
  row.status = 'running';
  setPhase('running agent');
  const project = snap.projects.find((p) => p.name === row.project);
  let job: JobResult | undefined;
  try {
    const child = await startChild(agentJob, {
      taskQueue: taskQueueFor(snap.taskQueue, project?.host),
      workflowId: jobWorkflowId(row.project),
      args: [{ project: row.project, kind, date }],
      typedSearchAttributes: [
        { key: SearchAttr.project, value: row.project },
        { key: SearchAttr.kind, value: kind },
        ...(project?.host ? [{ key: SearchAttr.host, value: project.host }] : []),
      ],
      staticSummary: `${kind} · ${row.project}`,
      ...(project?.path ? { staticDetails: jobStaticDetails(project.path, jobPromptLine(project, kind, date)) } : {}),
      // Cancelling the batch cancels its jobs, and waits until their agents are stopped.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
    row.workflowId = child.workflowId;
    job = await child.result();
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      Object.assign(row, {
        decision: 'skip',
        status: 'skipped',
        reason: `a job is already running (${jobWorkflowId(row.project)})`,
      });
      return;
    }
    if (err instanceof ChildWorkflowFailure) {
      const cause = err.cause;
      const failed = failedJobResult(cause);
      if (failed) {
        job = failed;
      } else if (cause instanceof CancelledFailure) {
        Object.assign(row, { status: 'cancelled', reason: 'job cancelled', finishedAt: new Date().toISOString() });
        return;
      } else {
        Object.assign(row, {
          status: 'crashed',
          reason: cause?.message ?? err.message,
          finishedAt: new Date().toISOString(),
        });
        return;
      }
    } else if (isCancellation(err)) {
      row.status = 'cancelled';
      row.reason = 'batch cancelled';
      throw err;
    } else {
      throw err;
    }
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
  if (kind === 'eod' && job.outcome === 'succeeded') {
    // Exit 0 is no proof of work (an unknown slash command exits 0): the work log must be there.
    setPhase('verifying work log');
    const host = project?.host ?? null;
    // (patched: EODs already running when this shipped verify on the shared queue, as they did.)
    const verify = patched(EOD_VERIFY_ON_HOST_PATCH)
      ? verifyWorklogOn(taskQueueFor(snap.taskQueue, host), row.project, host, hostWaitMs)
      : verifyWorklogOf(row.project);
    let check: Awaited<ReturnType<typeof verify>>;
    try {
      check = await verify({ project: row.project, date, since: job.startedAt });
    } catch (err) {
      if (!host || !isNoWorker(err)) throw err;
      Object.assign(row, { status: 'agent_error', reason: `work log not verified: ${noWorkerReason(host)}` });
      return;
    }
    row.worklogPath = check.path;
    if (!check.ok) Object.assign(row, { status: 'agent_error', reason: check.reason });
  }
}

/** The first line of the prompt a batch's job will get (rendered for the day), for the Web UI. */
function jobPromptLine(project: ConfigSnapshot['projects'][number], kind: BatchKind, date: string): string {
  const template = project.promptFirstLines?.[kind] ?? '';
  return firstLine(fillTemplate(template, promptVars(date, project.worklogPath ?? '')));
}

/** The batch's current details in the Web UI: a headline and one table row per project (Temporal markdown). */
function progressDetails(
  kind: BatchKind,
  date: string,
  rows: BatchRow[],
  running: number,
  phases: Map<string, string>,
  headline?: string,
): string {
  const done = rows.filter((r) => r.status !== 'pending' && r.status !== 'running').length;
  const cell = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 100);
  const shown = rows.slice(0, 50);
  const lines = [
    `**${kind} ${date}** · ${headline ?? `${done}/${rows.length} done, ${running} running`}`,
    '',
    '| project | status | detail |',
    '| --- | --- | --- |',
    ...shown.map((r) => `| ${cell(r.project)} | ${cell(phases.get(r.project) ?? r.status)} | ${cell(r.reason)} |`),
  ];
  if (rows.length > shown.length) lines.push('', `… and ${rows.length - shown.length} more (see the progress query)`);
  return lines.join('\n');
}

function firstLineOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}
