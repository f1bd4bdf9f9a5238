// The markdown report printed at the end of a run.
import { round } from './lib';
import type { p1 } from './p1';
import type { p2, p3, scale } from './cycles';
import type { SlotLanes } from './agentTrace';
import type { p4 } from './p4';
import type { p5 } from './p5';

export type Results = Record<string, unknown> & {
  p1?: Awaited<ReturnType<typeof p1>>;
  p2?: Awaited<ReturnType<typeof p2>>;
  p3?: Awaited<ReturnType<typeof p3>>;
  p4?: Awaited<ReturnType<typeof p4>>;
  p5?: Awaited<ReturnType<typeof p5>>;
  scale?: Awaited<ReturnType<typeof scale>>;
};

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const ok = (met: boolean) => (met ? 'yes' : '**no**');

export function report(r: Results): string {
  const rows: Array<Array<string | number>> = [];
  if (r.p1) {
    rows.push(
      ['P1', 'job p50 / one-activity floor p50', `${r.p1.jobMs.p50} / ${r.p1.floorMs.p50} ms`, '', ''],
      ['P1', 'ours − floor (p50)', `${r.p1.overFloorMs} ms`, '≤ 20 ms', ok(r.p1.overFloorMs <= 20)],
      ['P1', 'ours / floor · ours / ideal (bare spawn)', `${r.p1.ratioToFloor}× · ${r.p1.ratioToIdeal}×`, '', ''],
      ['P1', 'per-job overhead p50 (job − bare spawn)', `${r.p1.overheadMs.p50} ms`, '', ''],
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
      ['P2', 'ours / ideal', `${p.ratioToIdeal}×`, '≤ 1.15×', ok(p.ratioToIdeal <= 1.15)],
      ...floorRows('P2', p.floorMs, p.ratioToFloor, p.idealMs),
      [
        'P2',
        'ours / floor (child + activity, 2 × window)',
        `${p.ratioToFloor.childWindow}×`,
        '≤ 1.05×',
        ok(p.ratioToFloor.childWindow <= 1.05),
      ],
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
      [
        'P3',
        "CPU: the worker's process / the dev server (the floor's child + activity design over the same jobs, our idle worker beside it)",
        `${p.workerProcessCpuS} / ${p.serverCpuS} s${p.floorCpuS ? ` (floor ${p.floorCpuS.worker} / ${p.floorCpuS.server} s)` : ''}`,
        '',
        '',
      ],
    );
    if (p.floorMs && p.ratioToFloor) {
      rows.push(...floorRows('P3', p.floorMs, p.ratioToFloor, null), [
        'P3',
        'ours / floor (child + activity)',
        `${p.ratioToFloor.child}×`,
        '≤ 1.10×',
        ok(p.ratioToFloor.child <= 1.1),
      ]);
    }
    rows.push();
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
  if (r.p5) {
    rows.push(['P5', `CLI start-up: CPU of \`node -e 0\` (median of ${r.p5.runs})`, `${r.p5.nodeCpuMs} ms`, '', '']);
    for (const c of r.p5.commands) {
      rows.push([
        'P5',
        `\`orchestrate ${c.command}\` CPU / node -e 0`,
        `${c.cpuMs} ms · ${c.ratioToNode}×`,
        '≤ 2×',
        ok(c.ratioToNode <= 2),
      ]);
    }
    for (const c of r.p5.serverCommands ?? []) {
      rows.push([
        'P5',
        `\`orchestrate ${c.command}\` wall / CPU, over the client floor (connect + its one call)`,
        `${c.wallMs} / ${c.cpuMs} ms · ${c.wallRatioToFloor}× / ${c.cpuRatioToFloor}× (floor ${c.floorWallMs} / ${c.floorCpuMs} ms)`,
        'its round trips',
        '',
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
      slotLanesTable(r.p2.slotLanes) +
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
  if (r.scale) {
    parts.push(
      'Scale: one cycle of instant jobs at each size, concurrency 20:\n\n' +
        table(
          [
            'projects',
            'wall (s)',
            'ms per project',
            'peak RSS (MB)',
            'largest history',
            'server CPU (s)',
            'server CPU ms per project',
          ],
          r.scale.map((x) => [
            x.projects,
            x.wallS,
            x.msPerProject,
            x.peakRssMb,
            x.maxHistoryEvents,
            x.serverCpuS,
            x.serverCpuMsPerProject,
          ]),
        ),
    );
  }
  return parts.join('\n\n') + '\n';
}

type FloorFigures = NonNullable<Results['p2']>['floorMs'];
type FloorRatios = NonNullable<Results['p2']>['ratioToFloor'];

/** One row per floor design: its makespan (and its ratio to the ideal), and ours over it. */
function floorRows(id: string, f: FloorFigures, ours: FloorRatios, idealMs: number | null): Array<Array<string>> {
  const designs: Array<[string, number, number]> = [
    ['child + activity', f.childMs, ours.child],
    ['child + activity, 2 × window, agent slots cap', f.childWindowMs, ours.childWindow],
    ['no child (activities from the parent)', f.noChildMs, ours.noChild],
  ];
  return designs.map(([name, ms, ratio]) => [
    id,
    `floor: ${name} · ours / it`,
    `${round(ms / 1000, 2)} s${idealMs ? ` (${round(ms / idealMs, 2)}× ideal)` : ''} · ${ratio}×`,
    '',
    '',
  ]);
}

export function segmentTable(seg: Record<string, number>): string {
  return table(
    ['segment', 'ms'],
    Object.entries(seg).map(([k, v]) => [k, v]),
  );
}

/** P2's slots, from the agents' own clocks: ours beside the window floor and the bare pool ('' when none traced). */
function slotLanesTable(l: Record<'ours' | 'childWindowFloor' | 'pool', SlotLanes | null>): string {
  const cols = [l.ours, l.childWindowFloor, l.pool];
  if (cols.every((c) => c === null)) return '';
  const cell = (f: (x: SlotLanes) => string) => cols.map((c) => (c ? f(c) : '–'));
  return (
    "P2 the slots, from the agents' own clocks (medians over the repeats):\n\n" +
    table(
      ['ms', 'ours', 'child + window floor', 'bare pool'],
      [
        ['run start → first agent start', ...cell((x) => `${x.beforeFirstAgentMs}`)],
        [
          'agent end → next agent start on its slot p50 / p95',
          ...cell((x) => `${x.agentToAgentMs.p50} / ${x.agentToAgentMs.p95}`),
        ],
        ["an agent's own run p50", ...cell((x) => `${x.agentMs.p50}`)],
        ['last agent end → run end', ...cell((x) => `${x.afterLastAgentMs}`)],
      ],
    ) +
    '\n\n'
  );
}
