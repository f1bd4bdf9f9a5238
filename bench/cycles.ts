// P2 / plot / P3: cycles, against a bare process pool and the seed's sequential loop.
import { startBatch } from '../src/temporal/client';
import { BATCH_PROGRESS_QUERY, rowFinished, type BatchResult } from '../src/temporal/types';
import {
  FAKE_CLAUDE,
  SLEEP_AGENT,
  bareAgent,
  eventKind,
  eventMs,
  groupCpuSeconds,
  historyChain,
  historyEvents,
  median,
  percentile,
  round,
  rssSampler,
  startOrchestrator,
  sum,
  type BenchBase,
  type HistoryEvent,
  type Orchestrator,
} from './lib';
import { startFloor, type Floor } from './floor';
import { traced, type SlotLanes } from './agentTrace';
import { CHILD_LABELS, QUICK_PROMPT, historySegments, medianSegments } from './p1';
import { firstRunId, log, type Params } from './params';

export interface CycleRun {
  makespanMs: number;
  /** The client's start call and its result (epoch ms). */
  wall: { t0: number; t1: number };
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

export function workflowTaskStats(events: HistoryEvent[]): CycleRun['cycleWorkflowTasks'] {
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

export async function runCycle(base: BenchBase, orch: Orchestrator): Promise<CycleRun> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const handle = await startBatch(base.client, orch.config, 'cycle', {});
  // Long cycles say how far they got now and then (a query every 20 s costs nothing measurable).
  const ticker = setInterval(() => {
    handle
      .query<BatchResult>(BATCH_PROGRESS_QUERY)
      .then((p) => {
        const done = p.rows.filter(rowFinished).length;
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
    wall: { t0: wall0, t1: wall1 },
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
export async function processPool(orch: Orchestrator, prompt: string, concurrency: number): Promise<number> {
  const queue = [...orch.projects];
  const t0 = performance.now();
  const lane = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift())
      await bareAgent(orch.projectPath(p), prompt, orch.agent);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return performance.now() - t0;
}

export async function sequentialLoop(
  orch: Orchestrator,
  prompt: string,
): Promise<{ totalMs: number; perJobMs: number[] }> {
  const t0 = performance.now();
  const perJobMs: number[] = [];
  for (const project of orch.projects) perJobMs.push(await bareAgent(orch.projectPath(project), prompt, orch.agent));
  return { totalMs: performance.now() - t0, perJobMs };
}

/** The floor's three cycle designs over the same jobs (ms): see bench/floor/workflows.ts. */
export interface FloorCycles {
  /** A child workflow + one activity per job, `concurrency` children in flight. */
  childMs: number;
  /** The same with 2 × `concurrency` children in flight, the worker's agent slots capping the agents. */
  childWindowMs: number;
  /** No child workflows: the activities straight from the parent, `concurrency` in flight. */
  noChildMs: number;
}

/** CPU seconds a run cost the worker's process (this one) and the dev server's process group. */
export interface CpuSeconds {
  server: number;
  worker: number;
}

/** `fn`'s CPU seconds in this process and the server's process group (NaN without its pid). */
async function withCpu<T>(serverPid: number | null, fn: () => Promise<T>): Promise<[T, CpuSeconds]> {
  const server0 = serverPid ? groupCpuSeconds(serverPid) : NaN;
  const worker0 = process.cpuUsage();
  const out = await fn();
  const worker = process.cpuUsage(worker0);
  const server = serverPid ? groupCpuSeconds(serverPid) - server0 : NaN;
  return [out, { server: round(server, 1), worker: round((worker.user + worker.system) / 1e6, 1) }];
}

async function floorCycles(
  floor: Floor,
  orch: Orchestrator,
  prompt: string,
  concurrency: number,
  serverPid: number | null = null,
): Promise<FloorCycles & { childCpuS: CpuSeconds; windowLanes: SlotLanes | null }> {
  const jobs = orch.projects.map((p) => ({ agent: orch.agent, cwd: orch.projectPath(p), prompt }));
  const [childMs, childCpuS] = await withCpu(serverPid, () =>
    floor.fanOut(jobs, { window: concurrency, children: true }),
  );
  const window = await traced(concurrency, () => floor.fanOut(jobs, { window: 2 * concurrency, children: true }));
  return {
    childMs,
    childCpuS,
    childWindowMs: window.out,
    windowLanes: window.lanes,
    noChildMs: await floor.fanOut(jobs, { window: concurrency, children: false }),
  };
}

/** The lanes' medians over the runs that traced (null if none did). */
function medianLanes(all: Array<SlotLanes | null>): SlotLanes | null {
  const runs = all.filter((l): l is SlotLanes => l !== null);
  if (runs.length === 0) return null;
  const m = (f: (l: SlotLanes) => number) => round(median(runs.map(f)), 1);
  return {
    beforeFirstAgentMs: m((l) => l.beforeFirstAgentMs),
    agentToAgentMs: { p50: m((l) => l.agentToAgentMs.p50), p95: m((l) => l.agentToAgentMs.p95) },
    agentMs: { p50: m((l) => l.agentMs.p50) },
    afterLastAgentMs: m((l) => l.afterLastAgentMs),
  };
}

function medianFloor(runs: FloorCycles[]): FloorCycles {
  return {
    childMs: round(median(runs.map((r) => r.childMs))),
    childWindowMs: round(median(runs.map((r) => r.childWindowMs))),
    noChildMs: round(median(runs.map((r) => r.noChildMs))),
  };
}

/** Ours over each floor design. */
function ratiosToFloor(oursMs: number, f: FloorCycles) {
  return {
    child: round(oursMs / f.childMs, 3),
    childWindow: round(oursMs / f.childWindowMs, 3),
    noChild: round(oursMs / f.noChildMs, 3),
  };
}

export const slowPrompt = (seconds: number) => `[scenario:slow:${seconds}] bench: work for ${seconds} s`;

export async function p2(base: BenchBase, q: Params['p2'], plot: Params['plot']) {
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
    floor: Array<FloorCycles & { windowLanes: SlotLanes | null }>;
    lanes: { ours: Array<SlotLanes | null>; pool: Array<SlotLanes | null> };
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
    // The floor on the main point only: the plot compares ours with the pool and the sequential loop.
    const floor = n === q.projects ? await startFloor(base, `p2-${n}`, q.concurrency) : null;
    try {
      const repeats = n === q.projects ? q.repeats : 1;
      const ours: CycleRun[] = [];
      const pool: number[] = [];
      const floorRuns: Array<FloorCycles & { windowLanes: SlotLanes | null }> = [];
      const lanes = { ours: [] as Array<SlotLanes | null>, pool: [] as Array<SlotLanes | null> };
      for (let i = 0; i < repeats; i++) {
        log(
          `P2: cycle over ${n} projects, the same jobs in a bare process pool${floor ? ' and at the floor' : ''} (run ${i + 1}/${repeats})`,
        );
        const poolRun = await traced(q.concurrency, () => processPool(orch, prompt, q.concurrency));
        pool.push(poolRun.out);
        lanes.pool.push(poolRun.lanes);
        const cycle = await traced(
          q.concurrency,
          () => runCycle(base, orch),
          (c) => c.wall,
        );
        ours.push(cycle.out);
        lanes.ours.push(cycle.lanes);
        if (floor) floorRuns.push(await floorCycles(floor, orch, prompt, q.concurrency));
      }
      let sequential: { totalMs: number; perJobMs: number[] } | null = null;
      if (n === q.projects || plot.measureSequential.includes(n)) {
        log(`P2: sequential loop over ${n} projects (~${Math.round(n * q.jobSeconds * 1.2)} s)`);
        sequential = await sequentialLoop(orch, prompt);
      }
      if (n === q.projects && sequential) {
        main = { ours, pool, floor: floorRuns, lanes, sequential };
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
      await floor?.stop();
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
  const floorMs = medianFloor(main.floor);
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
    /** The floor's designs over the same jobs, in the same repeats (medians), and ours over each. */
    floorMs,
    floorRuns: main.floor.map(({ windowLanes: _, ...f }) => f),
    /** Where the slots' time went (the agents' own clocks; medians over the repeats): ours, the window floor, the pool. */
    slotLanes: {
      ours: medianLanes(main.lanes.ours),
      childWindowFloor: medianLanes(main.floor.map((f) => f.windowLanes)),
      pool: medianLanes(main.lanes.pool),
    },
    ratioToFloor: ratiosToFloor(oursMs, floorMs),
    floorRatioToIdeal: {
      child: round(floorMs.childMs / idealMs, 3),
      childWindow: round(floorMs.childWindowMs / idealMs, 3),
      noChild: round(floorMs.noChildMs / idealMs, 3),
    },
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

export async function p3(base: BenchBase, q: Params['p3'], serverPid: number | null, name = 'p3') {
  const orch = await startOrchestrator(base, {
    name,
    projects: q.projects,
    prompt: QUICK_PROMPT,
    concurrency: q.concurrency,
  });
  try {
    const rss = rssSampler();
    log(`P3: cycle over ${q.projects} projects, concurrency ${q.concurrency}`);
    const [cycle, cpuS] = await withCpu(serverPid, () => runCycle(base, orch));
    const mem = rss.stop();
    let floorMs: FloorCycles | null = null;
    let floorCpuS: CpuSeconds | null = null;
    if (q.floor) {
      log(`P3: the floor's three designs over the same ${q.projects} jobs`);
      const floor = await startFloor(base, 'p3', q.concurrency);
      try {
        const f = await floorCycles(floor, orch, QUICK_PROMPT, q.concurrency, serverPid);
        floorMs = medianFloor([f]);
        floorCpuS = f.childCpuS;
      } finally {
        await floor.stop();
      }
    } // Every job history has the same shape: the largest of a sample stands for all.
    const sample = cycle.rows.filter((_, i) => i % Math.ceil(cycle.rows.length / 20) === 0);
    let maxJobEvents = 0;
    for (const row of sample) {
      maxJobEvents = Math.max(maxJobEvents, (await historyEvents(base.client, row.workflowId ?? '')).length);
    }
    return {
      projects: q.projects,
      concurrency: q.concurrency,
      wallS: round(cycle.makespanMs / 1000, 2),
      floorMs,
      ratioToFloor: floorMs ? ratiosToFloor(cycle.makespanMs, floorMs) : null,
      jobsPerSecond: round(q.projects / (cycle.makespanMs / 1000), 1),
      peakRssMb: round(mem.peakMb),
      rssAtStartMb: round(mem.startMb),
      mainThreadMemoryAtPeakMb: mem.atPeak,
      cycleRuns: cycle.runs,
      maxCycleHistoryEvents: cycle.maxHistoryEvents,
      maxJobHistoryEvents: maxJobEvents,
      maxHistoryEvents: Math.max(cycle.maxHistoryEvents, maxJobEvents),
      serverCpuS: cpuS.server,
      workerProcessCpuS: cpuS.worker,
      /** The same for the floor's child + activity design over the same jobs (its agents' CPU is in neither). */
      floorCpuS,
      phases: cycle.phases,
      cycleSegmentsMs: cycle.cycleSegmentsMs,
      jobSegmentsMs: cycle.jobSegmentsMs,
      cycleWorkflowTasks: cycle.cycleWorkflowTasks,
    };
  } finally {
    await orch.stop();
  }
}

/** One cycle of instant jobs at each size, on a fresh orchestrator each (the same worker process: RSS carries). */
export async function scale(base: BenchBase, sizes: number[], serverPid: number | null) {
  const out = [];
  for (const projects of sizes) {
    const r = await p3(base, { projects, concurrency: 20, floor: false }, serverPid, `scale-${projects}`);
    out.push({
      projects,
      wallS: r.wallS,
      msPerProject: round((r.wallS * 1000) / projects, 1),
      peakRssMb: r.peakRssMb,
      maxHistoryEvents: r.maxHistoryEvents,
      cycleRuns: r.cycleRuns,
      serverCpuS: r.serverCpuS,
      serverCpuMsPerProject: round((r.serverCpuS * 1000) / projects, 1),
      workerProcessCpuS: r.workerProcessCpuS,
    });
  }
  return out;
}
