// P1: per-job overhead, and splitting a workflow's time along its history.
import { jobResult, startJob } from '../src/temporal/client';
import {
  bareAgent,
  eventKind,
  eventMs,
  historyEvents,
  median,
  percentile,
  round,
  startOrchestrator,
  type BenchBase,
  type HistoryEvent,
} from './lib';
import { startFloor } from './floor';
import { firstRunId, type Params } from './params';

export const QUICK_PROMPT = 'bench: exit at once';

export interface JobTiming {
  totalMs: number;
  agentMs: number;
  segments: Record<string, number>;
}

export interface SegmentLabels {
  start: string;
  result: string;
}
export const CLIENT_LABELS: SegmentLabels = { start: 'client → server: start RPC', result: 'server → client: result' };
export const CHILD_LABELS: SegmentLabels = {
  start: 'parent starts child → child started',
  result: 'child closed → parent sees it',
};

/**
 * Splits a workflow's time along its history: where the time goes. `startRef` / `endRef` are when the caller
 * started it and got its result (ms since the epoch; the server runs on this machine, so clocks agree).
 */
export function historySegments(
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
export function medianSegments(all: Array<Record<string, number>>): Record<string, number> {
  const names = [...new Set(all.flatMap((s) => Object.keys(s)))];
  return Object.fromEntries(names.map((k) => [k, round(median(all.map((s) => s[k] ?? 0)), 1)]));
}

export async function p1(base: BenchBase, q: Params['p1']) {
  const orch = await startOrchestrator(base, { name: 'p1', projects: 1, prompt: QUICK_PROMPT, concurrency: 4 });
  const floor = await startFloor(base, 'p1', 4);
  try {
    const project = orch.projects[0];
    const cwd = orch.projectPath(project);
    const floorJob = { agent: orch.agent, cwd, prompt: QUICK_PROMPT };
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
      await floor.oneJob(floorJob);
    }
    const bare: number[] = [];
    const floorMs: number[] = [];
    const jobs: Array<Awaited<ReturnType<typeof runJob>>> = [];
    // Interleaved, so drift (page cache, JIT, SQLite growth) hits all three alike.
    for (let i = 0; i < q.jobs; i++) {
      bare.push(await bareAgent(cwd, QUICK_PROMPT));
      jobs.push(await runJob());
      floorMs.push(await floor.oneJob(floorJob));
    }
    for (const j of jobs) {
      const events = await historyEvents(base.client, `job/${project}`, j.runId);
      j.segments = historySegments(events, j.wall0, j.wall1);
    }
    const bareP50 = median(bare);
    const jobP50 = median(jobs.map((j) => j.totalMs));
    const floorP50 = median(floorMs);
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
      /** The one-activity floor workflow (bench/floor), client start → result, same agent, same server. */
      floorMs: { p50: round(floorP50, 1), p95: round(percentile(floorMs, 95), 1) },
      /** Ours minus the floor (p50s): the target is within 20 ms. */
      overFloorMs: round(jobP50 - floorP50, 1),
      ratioToFloor: round(jobP50 / floorP50, 3),
      /** Ours over the ideal: a bare spawn of the same agent. */
      ratioToIdeal: round(jobP50 / bareP50, 3),
      overheadMs: { p50: round(median(overhead), 1), p95: round(percentile(overhead, 95), 1) },
      breakdownMedianMs: breakdown,
      raw: {
        bareMs: bare.map((x) => round(x, 1)),
        jobMs: jobs.map((j) => round(j.totalMs, 1)),
        floorMs: floorMs.map((x) => round(x, 1)),
      },
    };
  } finally {
    await floor.stop();
    await orch.stop();
  }
}
