// `npm run bench [-- --quick]`: orchestration overhead, cycle makespan against the seed's sequential loop,
// scale and cancel latency, on a real Temporal dev server with an in-process worker and the fake agent.
// Prints markdown tables, writes JSON to bench/results/, and renders the makespan plot (bench/plot.mjs).
import {
  Client,
  Connection,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import execa from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { groupMembers } from '../src/runner/processGroup';
import { jobResult, startBatch, startJob } from '../src/temporal/client';
import { startDevServer, stopDevServer, type DevServerOptions } from '../src/devserver/server';
import { BATCH_PROGRESS_QUERY, type BatchResult } from '../src/temporal/types';
import { findTemporalCli } from '../src/devserver/temporalBin';
import {
  FAKE_CLAUDE,
  REPO_ROOT,
  SLEEP_AGENT,
  bareAgent,
  eventKind,
  eventMs,
  freePorts,
  groupCpuSeconds,
  historyChain,
  historyEvents,
  makeTemplateRepo,
  median,
  percentile,
  processGroupOf,
  round,
  rssSampler,
  sleep,
  startOrchestrator,
  sum,
  type BenchBase,
  type HistoryEvent,
  type Orchestrator,
} from './lib';

// ---------------------------------------------------------------------------------------------------------------
// Parameters

interface Params {
  mode: 'full' | 'quick';
  p1: { warmup: number; jobs: number };
  /** agent: the sh fake that only sleeps (default), or the Node fake (~130 ms of CPU per start). */
  p2: { projects: number; concurrency: number; jobSeconds: number; repeats: number; agent: 'sh' | 'node' };
  plot: { projects: number[]; measureSequential: number[] };
  p3: { projects: number; concurrency: number };
  p4: { repeats: number };
}

const FULL: Params = {
  mode: 'full',
  p1: { warmup: 5, jobs: 40 },
  p2: { projects: 50, concurrency: 10, jobSeconds: 1, repeats: 3, agent: 'sh' },
  // The sequential loop is N × one job by construction: measured at 10 and 50 projects, extrapolated from its
  // measured per-job mean beyond (--measure-sequential measures every point: ~6 more minutes).
  plot: { projects: [10, 50, 100, 200], measureSequential: [10, 50] },
  p3: { projects: 500, concurrency: 20 },
  p4: { repeats: 8 },
};

const QUICK: Params = {
  mode: 'quick',
  p1: { warmup: 2, jobs: 10 },
  p2: { projects: 10, concurrency: 5, jobSeconds: 0.5, repeats: 1, agent: 'sh' },
  plot: { projects: [5, 10], measureSequential: [10] },
  p3: { projects: 24, concurrency: 20 },
  p4: { repeats: 2 },
};

type Phase = 'p1' | 'p2' | 'p3' | 'p4';
const PHASES: Phase[] = ['p1', 'p2', 'p3', 'p4'];

interface Cli {
  params: Params;
  only: Set<Phase>;
  label: string;
}

function parseCli(argv: string[]): Cli {
  let params = FULL;
  let only = new Set<Phase>(PHASES);
  let label: string | null = null;
  let measureAll = false;
  let p3Projects: number | null = null;
  let p2Agent: 'sh' | 'node' | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') params = QUICK;
    else if (a === '--measure-sequential') measureAll = true;
    else if (a === '--only') only = new Set(argv[++i].split(',') as Phase[]);
    else if (a === '--label') label = argv[++i];
    else if (a === '--p3-projects') p3Projects = Number(argv[++i]);
    else if (a === '--p2-agent') {
      const v = argv[++i];
      if (v !== 'sh' && v !== 'node') throw new Error('--p2-agent takes sh or node');
      p2Agent = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run bench [-- --quick] [--only p1,p2,p3,p4] [--measure-sequential] [--p3-projects N] [--p2-agent sh|node] [--label NAME]\n' +
          '  --quick               smoke run, small N (under a minute)\n' +
          '  --only                run only these phases (the plot comes with p2)\n' +
          '  --measure-sequential  measure the sequential loop at every plot point instead of extrapolating\n' +
          '  --p3-projects N       P3 over N projects instead of 500 (24 with --quick)\n' +
          "  --p2-agent sh|node    P2's fake agent: sh (sleeps, no CPU; default) or the Node fake (~130 ms CPU per start)\n" +
          '  --label NAME          results go to bench/results/NAME.json (default: full / quick)\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  for (const p of only) if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}: one of ${PHASES.join(', ')}`);
  if (measureAll) params = { ...params, plot: { ...params.plot, measureSequential: params.plot.projects } };
  if (p3Projects !== null) {
    if (!Number.isInteger(p3Projects) || p3Projects < 1) throw new Error('--p3-projects takes a positive integer');
    params = { ...params, p3: { ...params.p3, projects: p3Projects } };
  }
  if (p2Agent !== null) params = { ...params, p2: { ...params.p2, agent: p2Agent } };
  return { params, only, label: label ?? params.mode };
}

/** The run a start call created (the SDK's handles carry it; our helpers type them as plain handles). */
function firstRunId(handle: WorkflowHandle): string {
  const id = (handle as Partial<WorkflowHandleWithFirstExecutionRunId>).firstExecutionRunId;
  if (!id) throw new Error(`no run id on the handle of ${handle.workflowId}`);
  return id;
}

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---------------------------------------------------------------------------------------------------------------
// P1: per-job overhead

const QUICK_PROMPT = 'bench: exit at once';

interface JobTiming {
  totalMs: number;
  agentMs: number;
  segments: Record<string, number>;
}

interface SegmentLabels {
  start: string;
  result: string;
}
const CLIENT_LABELS: SegmentLabels = { start: 'client → server: start RPC', result: 'server → client: result' };
const CHILD_LABELS: SegmentLabels = {
  start: 'parent starts child → child started',
  result: 'child closed → parent sees it',
};

/**
 * Splits a workflow's time along its history: where the time goes. `startRef` / `endRef` are when the caller
 * started it and got its result (ms since the epoch; the server runs on this machine, so clocks agree).
 */
function historySegments(
  events: HistoryEvent[],
  startRef: number,
  endRef: number,
  labels: SegmentLabels = CLIENT_LABELS,
): Record<string, number> {
  const seg: Record<string, number> = {};
  const add = (k: string, ms: number) => (seg[k] = (seg[k] ?? 0) + ms);
  add(labels.start, eventMs(events[0]) - startRef);
  const scheduledAct = new Map<number, { name: string; t: number }>();
  const startedAct = new Map<number, number>();
  let wftScheduled = NaN;
  let wftStarted = NaN;
  for (const e of events) {
    const t = eventMs(e);
    switch (eventKind(e)) {
      case 'workflowTaskScheduled':
        wftScheduled = t;
        break;
      case 'workflowTaskStarted':
        wftStarted = t;
        add('workflow task: queue → worker', t - wftScheduled);
        break;
      case 'workflowTaskCompleted':
        add('workflow task: processing', t - wftStarted);
        break;
      case 'activityTaskScheduled':
        scheduledAct.set(Number(e.eventId), {
          name: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
          t,
        });
        break;
      case 'activityTaskStarted': {
        const id = Number(e.activityTaskStartedEventAttributes?.scheduledEventId);
        const s = scheduledAct.get(id);
        startedAct.set(id, t);
        if (s) add(`${s.name}: queue → worker`, t - s.t);
        break;
      }
      case 'activityTaskCompleted':
      case 'activityTaskFailed':
      case 'activityTaskCanceled': {
        const attrs =
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskCanceledEventAttributes;
        const id = Number(attrs?.scheduledEventId);
        const s = scheduledAct.get(id);
        const st = startedAct.get(id);
        if (s && st !== undefined) add(`${s.name}: running`, t - st);
        break;
      }
      default:
    }
  }
  // A workflow task is scheduled in the same instant as the event that triggers it: the gaps above add up.
  add(labels.result, endRef - eventMs(events[events.length - 1]));
  return seg;
}

/** Per segment: the median over workflows (a segment missing from one counts as 0 there). */
function medianSegments(all: Array<Record<string, number>>): Record<string, number> {
  const names = [...new Set(all.flatMap((s) => Object.keys(s)))];
  return Object.fromEntries(names.map((k) => [k, round(median(all.map((s) => s[k] ?? 0)), 1)]));
}

async function p1(base: BenchBase, q: Params['p1']) {
  const orch = await startOrchestrator(base, { name: 'p1', projects: 1, prompt: QUICK_PROMPT, concurrency: 4 });
  try {
    const project = orch.projects[0];
    const cwd = orch.projectPath(project);
    const runJob = async (): Promise<JobTiming & { runId: string; wall0: number; wall1: number }> => {
      const wall0 = Date.now();
      const t0 = performance.now();
      const { handle } = await startJob(base.client, orch.config, { project, kind: 'run' });
      const res = await jobResult(handle, project);
      const totalMs = performance.now() - t0;
      const wall1 = Date.now();
      if (res.outcome !== 'succeeded') throw new Error(`P1 job ${res.outcome}: ${res.message}`);
      return { totalMs, agentMs: res.durationMs, segments: {}, runId: firstRunId(handle), wall0, wall1 };
    };
    for (let i = 0; i < q.warmup; i++) {
      await bareAgent(cwd, QUICK_PROMPT);
      await runJob();
    }
    const bare: number[] = [];
    const jobs: Array<Awaited<ReturnType<typeof runJob>>> = [];
    // Interleaved, so drift (page cache, JIT, SQLite growth) hits both alike.
    for (let i = 0; i < q.jobs; i++) {
      bare.push(await bareAgent(cwd, QUICK_PROMPT));
      jobs.push(await runJob());
    }
    for (const j of jobs) {
      const events = await historyEvents(base.client, `job/${project}`, j.runId);
      j.segments = historySegments(events, j.wall0, j.wall1);
    }
    const bareP50 = median(bare);
    const overhead = jobs.map((j) => j.totalMs - bareP50);
    const breakdown = medianSegments(jobs.map((j) => j.segments));
    // Inside runAgentJob: the agent process itself, and the activity's own work around it.
    breakdown['runAgentJob: agent process (spawn → exit)'] = round(median(jobs.map((j) => j.agentMs)), 1);
    breakdown['runAgentJob: activity work around the agent'] = round(
      median(jobs.map((j) => (j.segments['runAgentJob: running'] ?? 0) - j.agentMs)),
      1,
    );
    return {
      jobs: jobs.length,
      bareSpawnMs: { p50: round(bareP50, 1), p95: round(percentile(bare, 95), 1) },
      jobMs: {
        p50: round(median(jobs.map((j) => j.totalMs)), 1),
        p95: round(
          percentile(
            jobs.map((j) => j.totalMs),
            95,
          ),
          1,
        ),
      },
      overheadMs: { p50: round(median(overhead), 1), p95: round(percentile(overhead, 95), 1) },
      breakdownMedianMs: breakdown,
      raw: { bareMs: bare.map((x) => round(x, 1)), jobMs: jobs.map((j) => round(j.totalMs, 1)) },
    };
  } finally {
    await orch.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// P2 / plot / P3: cycles

interface CycleRun {
  makespanMs: number;
  runs: number;
  maxHistoryEvents: number;
  rows: BatchResult['rows'];
  /** Where a cycle's time goes, from its history (ms). */
  phases: {
    startRpcMs: number;
    beforeFirstJobMs: number;
    afterLastJobMs: number;
    resultDeliveryMs: number;
    /** Per job: time from the parent starting the child to the parent seeing it closed, minus the agent process. */
    jobOverheadMs: { p50: number; p95: number };
    /** A slot freed → the next child started (the parent's workflow task round trip). */
    handoffMs: { p50: number; p95: number };
    /** Agent process time / (concurrency × makespan). */
    slotUtilisation: number;
  };
  /** The cycle workflow's own history split into segments (ms, summed over its workflow tasks and activities). */
  cycleSegmentsMs: Record<string, number>;
  /** A sample of its jobs' histories split into segments (median ms per job). */
  jobSegmentsMs: Record<string, number>;
  /** The cycle workflow's own workflow tasks: how many, and how long one waits and takes. */
  cycleWorkflowTasks: {
    count: number;
    queueMs: { p50: number; max: number };
    processingMs: { p50: number; max: number };
  };
}

function workflowTaskStats(events: HistoryEvent[]): CycleRun['cycleWorkflowTasks'] {
  const queue: number[] = [];
  const processing: number[] = [];
  let scheduled = NaN;
  let started = NaN;
  for (const e of events) {
    const kind = eventKind(e);
    if (kind === 'workflowTaskScheduled') scheduled = eventMs(e);
    else if (kind === 'workflowTaskStarted') {
      started = eventMs(e);
      queue.push(started - scheduled);
    } else if (kind === 'workflowTaskCompleted') processing.push(eventMs(e) - started);
  }
  const stat = (xs: number[]) => ({ p50: round(median(xs), 1), max: round(Math.max(...xs), 1) });
  return { count: processing.length, queueMs: stat(queue), processingMs: stat(processing) };
}

async function runCycle(base: BenchBase, orch: Orchestrator): Promise<CycleRun> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const handle = await startBatch(base.client, orch.config, 'cycle', {});
  // Long cycles say how far they got now and then (a query every 20 s costs nothing measurable).
  const ticker = setInterval(() => {
    handle
      .query<BatchResult>(BATCH_PROGRESS_QUERY)
      .then((p) => {
        const done = p.rows.filter((r) => r.status !== 'pending' && r.status !== 'running').length;
        log(`  ${orch.name}: ${done}/${p.rows.length} jobs done after ${round((performance.now() - t0) / 1000)} s`);
      })
      .catch(() => undefined);
  }, 20_000);
  let result: BatchResult;
  try {
    result = (await handle.result()) as BatchResult;
  } finally {
    clearInterval(ticker);
  }
  const makespanMs = performance.now() - t0;
  const wall1 = Date.now();
  const bad = result.rows.filter((r) => r.status !== 'succeeded');
  if (result.refused || bad.length) {
    throw new Error(
      `cycle ${orch.name}: ${result.refused ?? `${bad.length} jobs did not succeed: ${bad[0].project} ${bad[0].status} ${bad[0].reason}`}`,
    );
  }
  const chain = await historyChain(base.client, handle.workflowId, firstRunId(handle));
  const events = chain.flatMap((r) => r.events);
  const agentMs = new Map(result.rows.map((r) => [`job/${r.project}`, r.durationMs ?? 0]));
  const initiated = new Map<string, number>();
  const closedAt = new Map<string, number>();
  const childRunIds = new Map<string, string>();
  const jobOverhead: number[] = [];
  const handoff: number[] = [];
  let lastClosed: number | null = null;
  let firstInitiated = NaN;
  for (const e of events) {
    const kind = eventKind(e);
    const t = eventMs(e);
    if (kind === 'startChildWorkflowExecutionInitiated') {
      const id = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '?';
      initiated.set(id, t);
      if (Number.isNaN(firstInitiated)) firstInitiated = t;
      if (lastClosed !== null) {
        handoff.push(t - lastClosed);
        lastClosed = null;
      }
    } else if (kind === 'childWorkflowExecutionStarted') {
      const ex = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (ex?.workflowId && ex.runId) childRunIds.set(ex.workflowId, ex.runId);
    } else if (kind.startsWith('childWorkflowExecution')) {
      const attrs = (e as Record<string, { workflowExecution?: { workflowId?: string | null } | null } | null>)[
        `${kind}EventAttributes`
      ];
      const id = attrs?.workflowExecution?.workflowId ?? '?';
      const start = initiated.get(id);
      if (start !== undefined) jobOverhead.push(t - start - (agentMs.get(id) ?? 0));
      closedAt.set(id, t);
      lastClosed = t;
    }
  }
  const lastChildClosed = Math.max(...closedAt.values());
  // Where a job's time goes inside a cycle: a sample of the children's own histories.
  const ids = [...childRunIds.keys()];
  const sample = ids.filter((_, i) => i % Math.ceil(ids.length / 20) === 0);
  const jobSegments: Array<Record<string, number>> = [];
  for (const id of sample) {
    const childEvents = await historyEvents(base.client, id, childRunIds.get(id));
    const seg = historySegments(childEvents, initiated.get(id) ?? NaN, closedAt.get(id) ?? NaN, CHILD_LABELS);
    seg['runAgentJob: agent process (spawn → exit)'] = agentMs.get(id) ?? 0;
    jobSegments.push(seg);
  }
  const first = eventMs(events[0]);
  const closed = eventMs(events[events.length - 1]);
  return {
    makespanMs,
    runs: chain.length,
    maxHistoryEvents: Math.max(...chain.map((r) => r.events.length)),
    rows: result.rows,
    phases: {
      startRpcMs: round(first - wall0, 1),
      beforeFirstJobMs: round(firstInitiated - first, 1),
      afterLastJobMs: round(closed - lastChildClosed, 1),
      resultDeliveryMs: round(wall1 - closed, 1),
      jobOverheadMs: { p50: round(median(jobOverhead), 1), p95: round(percentile(jobOverhead, 95), 1) },
      handoffMs: { p50: round(median(handoff), 1), p95: round(percentile(handoff, 95), 1) },
      slotUtilisation: round(sum([...agentMs.values()]) / (orch.config.orchestrator.concurrency * makespanMs), 3),
    },
    cycleSegmentsMs: Object.fromEntries(
      Object.entries(historySegments(chain[0].events, wall0, wall1)).map(([k, v]) => [k, round(v, 1)]),
    ),
    jobSegmentsMs: medianSegments(jobSegments),
    cycleWorkflowTasks: workflowTaskStats(events),
  };
}

/** The same jobs with no orchestrator at all: `concurrency` plain execa loops sharing one queue. */
async function processPool(orch: Orchestrator, prompt: string, concurrency: number): Promise<number> {
  const queue = [...orch.projects];
  const t0 = performance.now();
  const lane = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift())
      await bareAgent(orch.projectPath(p), prompt, orch.agent);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return performance.now() - t0;
}

async function sequentialLoop(orch: Orchestrator, prompt: string): Promise<{ totalMs: number; perJobMs: number[] }> {
  const t0 = performance.now();
  const perJobMs: number[] = [];
  for (const project of orch.projects) perJobMs.push(await bareAgent(orch.projectPath(project), prompt, orch.agent));
  return { totalMs: performance.now() - t0, perJobMs };
}

const slowPrompt = (seconds: number) => `[scenario:slow:${seconds}] bench: work for ${seconds} s`;

async function p2(base: BenchBase, q: Params['p2'], plot: Params['plot']) {
  const prompt = slowPrompt(q.jobSeconds);
  const series: Array<{
    projects: number;
    oursMs: number;
    poolMs: number;
    sequentialMs: number;
    sequentialMeasured: boolean;
  }> = [];
  let main: {
    ours: CycleRun[];
    pool: number[];
    sequential: { totalMs: number; perJobMs: number[] };
  } | null = null;
  let perJobSequentialMs = NaN;
  const points = [...new Set([q.projects, ...plot.projects])].sort((a, b) =>
    a === q.projects ? -1 : b === q.projects ? 1 : a - b,
  );
  for (const n of points) {
    const orch = await startOrchestrator(base, {
      name: `p2-${n}`,
      projects: n,
      prompt,
      concurrency: q.concurrency,
      agent: q.agent === 'sh' ? SLEEP_AGENT : FAKE_CLAUDE,
    });
    try {
      const repeats = n === q.projects ? q.repeats : 1;
      const ours: CycleRun[] = [];
      const pool: number[] = [];
      for (let i = 0; i < repeats; i++) {
        log(`P2: cycle over ${n} projects, and the same jobs in a bare process pool (run ${i + 1}/${repeats})`);
        pool.push(await processPool(orch, prompt, q.concurrency));
        ours.push(await runCycle(base, orch));
      }
      let sequential: { totalMs: number; perJobMs: number[] } | null = null;
      if (n === q.projects || plot.measureSequential.includes(n)) {
        log(`P2: sequential loop over ${n} projects (~${Math.round(n * q.jobSeconds * 1.2)} s)`);
        sequential = await sequentialLoop(orch, prompt);
      }
      if (n === q.projects && sequential) {
        main = { ours, pool, sequential };
        perJobSequentialMs = sequential.totalMs / n;
      }
      if (plot.projects.includes(n)) {
        series.push({
          projects: n,
          oursMs: median(ours.map((c) => c.makespanMs)),
          poolMs: median(pool),
          sequentialMs: sequential ? sequential.totalMs : n * perJobSequentialMs,
          sequentialMeasured: sequential !== null,
        });
      }
    } finally {
      await orch.stop();
    }
  }
  if (!main) throw new Error('P2: the main point was not measured');
  const oursMs = median(main.ours.map((c) => c.makespanMs));
  const poolMs = median(main.pool);
  const waves = Math.ceil(q.projects / q.concurrency);
  const idealMs = waves * q.jobSeconds * 1000;
  const bareJobMs = median(main.sequential.perJobMs);
  const idealBareMs = waves * bareJobMs;
  return {
    projects: q.projects,
    concurrency: q.concurrency,
    jobSeconds: q.jobSeconds,
    repeats: q.repeats,
    agent: q.agent,
    oursMs: { median: round(oursMs), runs: main.ours.map((c) => round(c.makespanMs)) },
    idealMs,
    /** The ideal with the fake agent's real run time (node start-up included) instead of exactly jobSeconds. */
    idealWithMeasuredJobMs: round(idealBareMs),
    /** The same jobs in a plain pool of `concurrency` execa calls: what this machine can do with no orchestration. */
    poolMs: { median: round(poolMs), runs: main.pool.map((x) => round(x)) },
    ratioToPool: round(oursMs / poolMs, 3),
    sequentialMs: round(main.sequential.totalMs),
    sequentialPerJobMs: { p50: round(bareJobMs, 1), p95: round(percentile(main.sequential.perJobMs, 95), 1) },
    ratioToIdeal: round(oursMs / idealMs, 3),
    ratioToMeasuredIdeal: round(oursMs / idealBareMs, 3),
    speedupVsSequential: round(main.sequential.totalMs / oursMs, 2),
    ...(({ phases, cycleSegmentsMs, jobSegmentsMs, cycleWorkflowTasks }) => ({
      phasesOfMedianRun: phases,
      cycleSegmentsOfMedianRunMs: cycleSegmentsMs,
      jobSegmentsOfMedianRunMs: jobSegmentsMs,
      cycleWorkflowTasksOfMedianRun: cycleWorkflowTasks,
    }))([...main.ours].sort((a, b) => a.makespanMs - b.makespanMs)[Math.floor(main.ours.length / 2)]),
    plot: series.map((s) => ({
      projects: s.projects,
      concurrency: q.concurrency,
      jobSeconds: q.jobSeconds,
      oursS: round(s.oursMs / 1000, 2),
      poolS: round(s.poolMs / 1000, 2),
      sequentialS: round(s.sequentialMs / 1000, 2),
      sequentialMeasured: s.sequentialMeasured,
      idealS: Math.ceil(s.projects / q.concurrency) * q.jobSeconds,
    })),
  };
}

async function p3(base: BenchBase, q: Params['p3'], serverPid: number | null) {
  const orch = await startOrchestrator(base, {
    name: 'p3',
    projects: q.projects,
    prompt: QUICK_PROMPT,
    concurrency: q.concurrency,
  });
  try {
    const serverCpu0 = serverPid ? groupCpuSeconds(serverPid) : NaN;
    const benchCpu0 = process.cpuUsage();
    const rss = rssSampler();
    log(`P3: cycle over ${q.projects} projects, concurrency ${q.concurrency}`);
    const cycle = await runCycle(base, orch);
    const mem = rss.stop();
    const benchCpu = process.cpuUsage(benchCpu0);
    const serverCpu = serverPid ? groupCpuSeconds(serverPid) - serverCpu0 : NaN;
    // Every job history has the same shape: the largest of a sample stands for all.
    const sample = cycle.rows.filter((_, i) => i % Math.ceil(cycle.rows.length / 20) === 0);
    let maxJobEvents = 0;
    for (const row of sample) {
      maxJobEvents = Math.max(maxJobEvents, (await historyEvents(base.client, row.workflowId ?? '')).length);
    }
    return {
      projects: q.projects,
      concurrency: q.concurrency,
      wallS: round(cycle.makespanMs / 1000, 2),
      jobsPerSecond: round(q.projects / (cycle.makespanMs / 1000), 1),
      peakRssMb: round(mem.peakMb),
      rssAtStartMb: round(mem.startMb),
      mainThreadMemoryAtPeakMb: mem.atPeak,
      cycleRuns: cycle.runs,
      maxCycleHistoryEvents: cycle.maxHistoryEvents,
      maxJobHistoryEvents: maxJobEvents,
      maxHistoryEvents: Math.max(cycle.maxHistoryEvents, maxJobEvents),
      serverCpuS: round(serverCpu, 1),
      workerProcessCpuS: round((benchCpu.user + benchCpu.system) / 1e6, 1),
      phases: cycle.phases,
      cycleSegmentsMs: cycle.cycleSegmentsMs,
      jobSegmentsMs: cycle.jobSegmentsMs,
      cycleWorkflowTasks: cycle.cycleWorkflowTasks,
    };
  } finally {
    await orch.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// P4: cancel latency

/** The fake agent's pid, from the marker file it writes once it runs (`[marker]` in the prompt). */
async function agentPid(marker: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      // The file can exist before its content is written: retry until it parses.
      return (JSON.parse(readFileSync(marker, 'utf8')) as { pid: number }).pid;
    } catch {
      if (Date.now() > deadline) throw new Error(`P4: the agent never started (no ${marker})`);
      await sleep(5);
    }
  }
}

async function p4(base: BenchBase, q: Params['p4']) {
  const orch = await startOrchestrator(base, { name: 'p4', projects: 1, prompt: QUICK_PROMPT, concurrency: 4 });
  try {
    const project = orch.projects[0];
    const cwd = orch.projectPath(project);
    const marker = path.join(cwd, '.fake-claude-marker');
    const variants = [
      { name: 'agent exits on SIGTERM', prompt: '[marker] [scenario:slow:600] bench: cancel me' },
      { name: 'agent ignores SIGTERM (SIGKILL after grace)', prompt: '[marker] [scenario:hang] bench: cancel me' },
    ];
    const out = [];
    for (const v of variants) {
      const goneMs: number[] = [];
      const reportedMs: number[] = [];
      for (let i = 0; i < q.repeats; i++) {
        rmSync(marker, { force: true });
        const { handle } = await startJob(base.client, orch.config, { project, kind: 'run', prompt: v.prompt });
        const pid = await agentPid(marker);
        // The job's process group: led by the agent itself, or by a wrapper around it.
        const pgid = processGroupOf(pid);
        if (pgid === null) throw new Error(`P4: agent ${pid} is already gone before the cancel`);
        // Spread the cancel over the heartbeat cycle (the activity reports every 500 ms, flushed ≤ 1 s).
        await sleep(200 + (1000 * i) / q.repeats);
        const t0 = performance.now();
        const result = jobResult(handle, project).then(() => performance.now() - t0);
        await handle.cancel();
        while (groupMembers(pgid).length > 0 || processGroupOf(pid) !== null) {
          if (performance.now() - t0 > 30_000) throw new Error(`P4: agent group ${pgid} still alive 30 s after cancel`);
          await sleep(5);
        }
        goneMs.push(performance.now() - t0);
        reportedMs.push(await result);
      }
      out.push({
        variant: v.name,
        repeats: q.repeats,
        groupGoneMs: { p50: round(median(goneMs)), max: round(Math.max(...goneMs)), raw: goneMs.map((x) => round(x)) },
        cancelledReportedMs: { p50: round(median(reportedMs)), max: round(Math.max(...reportedMs)) },
      });
    }
    return out;
  } finally {
    await orch.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

type Results = Record<string, unknown> & {
  p1?: Awaited<ReturnType<typeof p1>>;
  p2?: Awaited<ReturnType<typeof p2>>;
  p3?: Awaited<ReturnType<typeof p3>>;
  p4?: Awaited<ReturnType<typeof p4>>;
};

function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const ok = (met: boolean) => (met ? 'yes' : '**no**');

function report(r: Results): string {
  const rows: Array<Array<string | number>> = [];
  if (r.p1) {
    rows.push(
      ['P1', 'per-job overhead p50', `${r.p1.overheadMs.p50} ms`, '≤ 30 ms', ok(r.p1.overheadMs.p50 <= 30)],
      ['P1', 'per-job overhead p95', `${r.p1.overheadMs.p95} ms`, '', ''],
      ['P1', 'job p50 / bare spawn p50', `${r.p1.jobMs.p50} / ${r.p1.bareSpawnMs.p50} ms`, '', ''],
    );
  }
  if (r.p2) {
    const p = r.p2;
    rows.push(
      [
        'P2',
        `cycle makespan (${p.projects} × ${p.jobSeconds} s ${p.agent} agent, concurrency ${p.concurrency}, median of ${p.repeats})`,
        `${round(p.oursMs.median / 1000, 2)} s`,
        '',
        '',
      ],
      ['P2', `ideal ceil(${p.projects}/${p.concurrency}) × ${p.jobSeconds} s`, `${p.idealMs / 1000} s`, '', ''],
      ['P2', 'ours / ideal', `${p.ratioToIdeal}×`, '≤ 1.10×', ok(p.ratioToIdeal <= 1.1)],
      [
        'P2',
        `ours / ideal with the measured job time (${p.sequentialPerJobMs.p50} ms)`,
        `${p.ratioToMeasuredIdeal}×`,
        '(≤ 1.10×)',
        ok(p.ratioToMeasuredIdeal <= 1.1),
      ],
      [
        'P2',
        `same jobs in a bare pool of ${p.concurrency} processes (no orchestration; median of ${p.repeats})`,
        `${round(p.poolMs.median / 1000, 2)} s`,
        '',
        '',
      ],
      ['P2', 'ours / bare pool (the cost of orchestration)', `${p.ratioToPool}×`, '', ''],
      ['P2', 'sequential loop', `${round(p.sequentialMs / 1000, 2)} s`, '', ''],
      ['P2', 'speed-up vs sequential loop', `${p.speedupVsSequential}×`, '≥ 9×', ok(p.speedupVsSequential >= 9)],
    );
  }
  if (r.p3) {
    const p = r.p3;
    rows.push(
      ['P3', `cycle over ${p.projects} projects (concurrency ${p.concurrency}): wall`, `${p.wallS} s`, '', ''],
      ['P3', 'peak RSS of the worker process', `${p.peakRssMb} MB`, '≤ 300 MB', ok(p.peakRssMb <= 300)],
      [
        'P3',
        `largest history (cycle ${p.maxCycleHistoryEvents} in ${p.cycleRuns} run(s), job ${p.maxJobHistoryEvents})`,
        `${p.maxHistoryEvents} events`,
        '< 10,000',
        ok(p.maxHistoryEvents < 10_000),
      ],
      ['P3', 'dev server CPU', `${p.serverCpuS} s`, '', ''],
    );
  }
  if (r.p4) {
    for (const v of r.p4) {
      rows.push([
        'P4',
        `cancel → agent group gone, ${v.variant} (${v.repeats} runs): p50 / max`,
        `${v.groupGoneMs.p50} / ${v.groupGoneMs.max} ms`,
        '≤ 2 s',
        ok(v.groupGoneMs.max <= 2000),
      ]);
    }
  }
  const parts = [table(['', 'metric', 'value', 'target', 'met'], rows)];
  if (r.p1) {
    parts.push(
      `P1 breakdown (median ms per job; ${r.p1.jobs} jobs):\n\n` +
        table(
          ['segment', 'ms'],
          Object.entries(r.p1.breakdownMedianMs).map(([k, v]) => [k, v]),
        ),
    );
  }
  if (r.p2) {
    const ph = r.p2.phasesOfMedianRun;
    parts.push(
      'P2 cycle phases (median run):\n\n' +
        table(
          ['phase', 'value'],
          [
            ['start RPC', `${ph.startRpcMs} ms`],
            ['cycle start → first job started (config, gates)', `${ph.beforeFirstJobMs} ms`],
            [
              'per-job overhead beyond the agent process p50 / p95',
              `${ph.jobOverheadMs.p50} / ${ph.jobOverheadMs.p95} ms`,
            ],
            ['slot hand-off (job closed → next job started) p50 / p95', `${ph.handoffMs.p50} / ${ph.handoffMs.p95} ms`],
            ['last job closed → cycle closed', `${ph.afterLastJobMs} ms`],
            ['result delivery', `${ph.resultDeliveryMs} ms`],
            ['slot utilisation (agent time / slots × makespan)', ph.slotUtilisation],
            [
              `cycle workflow tasks (${r.p2.cycleWorkflowTasksOfMedianRun.count}): queue p50 / max`,
              `${r.p2.cycleWorkflowTasksOfMedianRun.queueMs.p50} / ${r.p2.cycleWorkflowTasksOfMedianRun.queueMs.max} ms`,
            ],
            [
              'cycle workflow tasks: processing p50 / max',
              `${r.p2.cycleWorkflowTasksOfMedianRun.processingMs.p50} / ${r.p2.cycleWorkflowTasksOfMedianRun.processingMs.max} ms`,
            ],
          ],
        ),
      "P2 where a job's time goes inside the cycle (median ms over a sample of jobs of the median run):\n\n" +
        segmentTable(r.p2.jobSegmentsOfMedianRunMs),
      'P2 the cycle workflow itself (ms, summed over its workflow tasks and activities):\n\n' +
        segmentTable(r.p2.cycleSegmentsOfMedianRunMs),
      'Makespan vs projects:\n\n' +
        table(
          ['projects', 'sequential loop (s)', 'ours (s)', 'bare process pool (s)', 'ideal (s)'],
          r.p2.plot.map((p) => [
            p.projects,
            `${p.sequentialS}${p.sequentialMeasured ? '' : ' (extrapolated)'}`,
            p.oursS,
            p.poolS,
            p.idealS,
          ]),
        ),
    );
  }
  if (r.p3) {
    parts.push(
      `P3 where a job's time goes inside the ${r.p3.projects}-project cycle (median ms over a sample of jobs):\n\n` +
        segmentTable(r.p3.jobSegmentsMs),
    );
  }
  return parts.join('\n\n') + '\n';
}

function segmentTable(seg: Record<string, number>): string {
  return table(
    ['segment', 'ms'],
    Object.entries(seg).map(([k, v]) => [k, v]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const { params } = cli;
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orchestrate-bench-'));
  const [port, uiPort] = await freePorts(2);
  const server: DevServerOptions = {
    stateDir: path.join(dir, 'server-state'),
    ip: '127.0.0.1',
    port,
    uiPort,
    namespace: 'default',
  };
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  const results: Results = {
    mode: params.mode,
    startedAt: new Date(started).toISOString(),
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      memGb: round(os.totalmem() / 2 ** 30, 1),
    },
    params,
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
  };
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  let stopServer = false;
  let watchdog: NodeJS.Timeout | undefined;
  let connection: NativeConnection | undefined;
  let clientConnection: Connection | undefined;
  try {
    try {
      results.commit = (await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT })).stdout.trim();
      results.temporalCli = (await execa(findTemporalCli(), ['--version'])).stdout.trim();
    } catch {
      // informational only
    }
    log(`dev server on 127.0.0.1:${port}, workflow bundle, in ${dir}`);
    const t0 = performance.now();
    const bundling = execa(process.execPath, [path.join(__dirname, 'bundle.js'), bundlePath]).then(
      () => performance.now() - t0,
    );
    const srv = await startDevServer({ ...server, timeoutMs: 60_000 });
    stopServer = true;
    const serverMs = performance.now() - t0;
    const bundleMs = await bundling;
    results.setup = { devServerStartMs: round(serverMs), workflowBundleMs: round(bundleMs) };
    connection = await NativeConnection.connect({ address: srv.address });
    clientConnection = await Connection.connect({ address: srv.address });
    const base: BenchBase = {
      dir,
      address: srv.address,
      namespace: server.namespace,
      connection,
      client: new Client({ connection: clientConnection, namespace: server.namespace }),
      bundlePath,
      serverPort: port,
      uiPort,
      templateRepo: makeTemplateRepo(dir),
    };
    // On a shared machine something else may stop our server: fail with that, instead of waiting forever.
    const serverPid = srv.pid;
    const serverGone = new Promise<never>((_, reject) => {
      watchdog = setInterval(() => {
        if (serverPid !== null && groupMembers(serverPid).length === 0) {
          reject(new Error(`the dev server (pid ${serverPid}) exited during the bench; its log: ${srv.logPath}`));
        }
      }, 1000);
    });
    serverGone.catch(() => undefined);
    const phase = <T>(work: Promise<T>): Promise<T> => Promise.race([work, serverGone]);
    // P3 first: its peak RSS should be a fresh worker's, not one that already ran the other phases (V8 and
    // the SDK's native side keep the memory they grew to).
    if (cli.only.has('p3')) results.p3 = await phase(p3(base, params.p3, srv.pid));
    if (cli.only.has('p1')) {
      log(`P1: ${params.p1.jobs} jobs and as many bare spawns`);
      results.p1 = await phase(p1(base, params.p1));
    }
    if (cli.only.has('p2')) results.p2 = await phase(p2(base, params.p2, params.plot));
    if (cli.only.has('p4')) {
      log(`P4: ${params.p4.repeats} cancels per variant`);
      results.p4 = await phase(p4(base, params.p4));
    }
  } finally {
    clearInterval(watchdog);
    await connection?.close().catch(() => undefined);
    await clientConnection?.close().catch(() => undefined);
    if (stopServer) await stopDevServer(server).catch((e: Error) => log(`could not stop the dev server: ${e.message}`));
    rmSync(dir, { recursive: true, force: true });
  }
  results.totalS = round((Date.now() - started) / 1000, 1);
  // Other work on the machine skews every figure: keep the load next to them.
  results.loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));

  const resultsDir = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonPath = path.join(resultsDir, `${cli.label}.json`);
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\n## orchestrate bench (${params.mode}, ${results.totalS} s)\n\n${report(results)}\n`);
  log(`results: ${path.relative(REPO_ROOT, jsonPath)}`);
  if (results.p2) {
    // The committed figure comes from full runs only; a quick run renders to dist-bench/ to keep the plot code alive.
    const svg =
      params.mode === 'quick'
        ? path.join(REPO_ROOT, 'dist-bench', 'makespan-quick.svg')
        : path.join(resultsDir, cli.label === 'full' ? 'makespan.svg' : `makespan-${cli.label}.svg`);
    await execa(process.execPath, [path.join(REPO_ROOT, 'bench/plot.mjs'), jsonPath, svg], { stdio: 'inherit' });
    log(`plot: ${path.relative(REPO_ROOT, svg)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
