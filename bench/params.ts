// The bench's parameters (full and quick runs) and its command line.
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';

export interface Params {
  mode: 'full' | 'quick';
  p1: { warmup: number; jobs: number };
  /** agent: the sh fake that only sleeps (default), or the Node fake (~130 ms of CPU per start). */
  p2: { projects: number; concurrency: number; jobSeconds: number; repeats: number; agent: 'sh' | 'node' };
  plot: { projects: number[]; measureSequential: number[] };
  /** floor: run the floor's designs over the same jobs too (skipped by --quick: the Node fake makes them slow). */
  p3: { projects: number; concurrency: number; floor: boolean };
  p4: { repeats: number };
  p5: { runs: number };
  /** Cycle sizes of the scale phase (--scale): wall, RSS, history, server CPU and cost per project at each. */
  scale: number[];
}

export const FULL: Params = {
  mode: 'full',
  p1: { warmup: 5, jobs: 40 },
  p2: { projects: 50, concurrency: 10, jobSeconds: 1, repeats: 3, agent: 'sh' },
  // The sequential loop is N × one job by construction: measured at 10 and 50 projects, extrapolated from its
  // measured per-job mean beyond (--measure-sequential measures every point: ~6 more minutes).
  plot: { projects: [10, 50, 100, 200], measureSequential: [10, 50] },
  p3: { projects: 500, concurrency: 20, floor: true },
  p4: { repeats: 8 },
  p5: { runs: 15 },
  scale: [50, 200, 500, 1000, 2000],
};

export const QUICK: Params = {
  mode: 'quick',
  p1: { warmup: 2, jobs: 10 },
  p2: { projects: 10, concurrency: 5, jobSeconds: 0.5, repeats: 1, agent: 'sh' },
  plot: { projects: [5, 10], measureSequential: [10] },
  p3: { projects: 24, concurrency: 20, floor: false },
  p4: { repeats: 2 },
  p5: { runs: 3 },
  scale: [10, 40],
};

export type Phase = 'p1' | 'p2' | 'p3' | 'p4' | 'p5' | 'scale';
export const PHASES: Phase[] = ['p1', 'p2', 'p3', 'p4', 'p5', 'scale'];
/** What a run does without --only: the scale phase takes minutes at 2,000 projects, so it runs on request. */
const DEFAULT_PHASES: Phase[] = ['p1', 'p2', 'p3', 'p4', 'p5'];

export interface Cli {
  params: Params;
  only: Set<Phase>;
  label: string;
}

export function parseCli(argv: string[]): Cli {
  let params = FULL;
  let only = new Set<Phase>(DEFAULT_PHASES);
  let scale: number[] | null = null;
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
    else if (a === '--scale') {
      scale = argv[++i].split(',').map(Number);
      if (!scale.every((n) => Number.isInteger(n) && n > 0)) throw new Error('--scale takes sizes like 50,500,2000');
      only.add('scale');
    } else if (a === '--p3-projects') p3Projects = Number(argv[++i]);
    else if (a === '--p2-agent') {
      const v = argv[++i];
      if (v !== 'sh' && v !== 'node') throw new Error('--p2-agent takes sh or node');
      p2Agent = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'npm run bench [-- --quick] [--only p1,p2,p3,p4,p5,scale] [--scale 50,500,2000] [--measure-sequential] [--p3-projects N] [--p2-agent sh|node] [--label NAME]\n' +
          '  --quick               smoke run, small N (under a minute)\n' +
          '  --only                run only these phases (the plot comes with p2)\n' +
          '  --measure-sequential  measure the sequential loop at every plot point instead of extrapolating\n' +
          '  --p3-projects N       P3 over N projects instead of 500 (24 with --quick)\n' +
          "  --p2-agent sh|node    P2's fake agent: sh (sleeps, no CPU; default) or the Node fake (~130 ms CPU per start)\n" +
          '  --scale N,N,...        also run one cycle at each size (instant jobs, concurrency 20): cost per project\n' +
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
  if (scale !== null) params = { ...params, scale };
  if (p2Agent !== null) params = { ...params, p2: { ...params.p2, agent: p2Agent } };
  return { params, only, label: label ?? params.mode };
}

/** The run a start call created (the SDK's handles carry it; our helpers type them as plain handles). */
export function firstRunId(handle: WorkflowHandle): string {
  const id = (handle as Partial<WorkflowHandleWithFirstExecutionRunId>).firstExecutionRunId;
  if (!id) throw new Error(`no run id on the handle of ${handle.workflowId}`);
  return id;
}

export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
