// P5: CLI start-up, as CPU time of the child process (user + sys) over that of `node -e 0`. A preload
// (cpu-report.js) appends the process's own resourceUsage() to a file when it exits: it counts everything from
// exec, Node's own start-up included, and nothing of the bench's process. The commands that talk to the server
// (`status`, `run --no-wait`) are shown over the client floor (floor/client.ts): a process that only loads the
// Temporal client, connects and makes the command's one call.
import execa from 'execa';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobWorkflowId } from '../src/temporal/ids';
import { FLOOR_CLIENT_WORKFLOW_ID } from './floor/client';
import { median, round, type BenchBase } from './lib';

/** The built CLI (compiled with the bench: bench/tsconfig.json includes src/cli.ts). */
const CLI = path.resolve(__dirname, '../src/cli.js');
const CPU_REPORT = path.join(__dirname, 'cpu-report.js');
const CLIENT_FLOOR = path.join(__dirname, 'floor/client.js');
/** No worker polls it: a job `run --no-wait` starts waits there until the bench terminates it. */
const P5_TASK_QUEUE = 'bench-p5';

export async function p5(base: BenchBase, q: { runs: number }) {
  const dir = path.join(base.dir, 'p5');
  const stateDir = path.join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  const configPath = path.join(dir, 'workspaces.toml');
  writeFileSync(
    configPath,
    [
      '[orchestrator]',
      `state_dir = ${JSON.stringify(stateDir)}`,
      `task_queue = ${JSON.stringify(P5_TASK_QUEUE)}`,
      '',
      // status and run --no-wait talk to the bench's own server.
      '[server]',
      `port = ${base.serverPort}`,
      `namespace = ${JSON.stringify(base.namespace)}`,
      '',
      '[projects.p5]',
      `path = ${JSON.stringify(base.templateRepo)}`,
      'prompt = "bench"',
      '',
    ].join('\n'),
  );
  const report = path.join(dir, 'cpu.jsonl');
  /** `okExit`: the exit codes that count as the command's expected answer. */
  const cpuMs = async (args: string[], okExit: number[]): Promise<number> => (await run(args, okExit)).cpuMs;
  const run = async (args: string[], okExit: number[]): Promise<{ cpuMs: number; wallMs: number }> => {
    rmSync(report, { force: true });
    const t0 = performance.now();
    const r = await execa(process.execPath, ['-r', CPU_REPORT, ...args], {
      cwd: dir,
      env: { ...process.env, ORCHESTRATE_CONFIG: configPath, BENCH_CPU_REPORT: report },
      reject: false,
      stdin: 'ignore',
    });
    const wallMs = performance.now() - t0;
    if (!okExit.includes(r.exitCode)) throw new Error(`P5: node ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
    const usage = JSON.parse(readFileSync(report, 'utf8')) as { userCPUTime: number; systemCPUTime: number };
    return { cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, wallMs };
  };
  const commands: Array<[string, string[], number[]]> = [
    ['node -e 0', ['-e', '0'], [0]],
    ['--help', [CLI, '--help'], [0]],
    ['init --help', [CLI, 'init', '--help'], [0]],
    ['history', [CLI, 'history'], [0]],
    ['costs', [CLI, 'costs'], [0]],
    // An empty state dir: "no agent output for job/p5 yet", exit 1.
    ['logs p5', [CLI, 'logs', 'p5'], [0, 1]],
  ];
  const samples = new Map<string, number[]>(commands.map(([name]) => [name, []]));
  // Round-robin, so drift on a shared machine hits every command alike.
  for (let i = 0; i < q.runs; i++)
    for (const [name, args, okExit] of commands) samples.get(name)?.push(await cpuMs(args, okExit));
  const nodeMs = median(samples.get('node -e 0') ?? []);
  return {
    runs: q.runs,
    nodeCpuMs: round(nodeMs, 1),
    commands: commands.slice(1).map(([name]) => {
      const ms = median(samples.get(name) ?? []);
      return { command: name, cpuMs: round(ms, 1), ratioToNode: round(ms / nodeMs, 2) };
    }),
    serverCommands: await serverCommands(base, run, q.runs),
  };
}

type Run = (args: string[], okExit: number[]) => Promise<{ cpuMs: number; wallMs: number }>;

/** `status` and `run --no-wait` against the bench's server, each beside the client floor's same call. */
async function serverCommands(base: BenchBase, run: Run, runs: number) {
  const floor = (what: 'start' | 'list') => [CLIENT_FLOOR, what, base.address, base.namespace, P5_TASK_QUEUE];
  const job = base.client.workflow.getHandle(jobWorkflowId('p5'));
  const floorStarted = base.client.workflow.getHandle(FLOOR_CLIENT_WORKFLOW_ID);
  const pairs: Array<{
    command: string;
    ours: string[];
    okExit: number[];
    floor: string[];
    after?: () => Promise<void>;
    afterFloor?: () => Promise<void>;
  }> = [
    // status exits 1 when no worker polls a queue it serves: that is its answer here.
    { command: 'status', ours: [CLI, 'status'], okExit: [0, 1], floor: floor('list') },
    {
      command: 'run -p p5 --no-wait',
      ours: [CLI, 'run', '-p', 'p5', '--no-wait'],
      okExit: [0],
      floor: floor('start'),
      // One job per project: the next run may start only once this one is gone; the floor's start likewise.
      after: () => job.terminate('bench').then(() => undefined),
      afterFloor: () => floorStarted.terminate('bench').then(() => undefined),
    },
  ];
  const out = [];
  for (const p of pairs) {
    const ours: Array<{ cpuMs: number; wallMs: number }> = [];
    const fl: Array<{ cpuMs: number; wallMs: number }> = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await run(p.ours, p.okExit));
      await p.after?.();
      fl.push(await run(p.floor, [0]));
      await p.afterFloor?.();
    }
    const m = (xs: Array<{ cpuMs: number; wallMs: number }>, k: 'cpuMs' | 'wallMs') => median(xs.map((x) => x[k]));
    out.push({
      command: p.command,
      cpuMs: round(m(ours, 'cpuMs'), 1),
      wallMs: round(m(ours, 'wallMs'), 1),
      floorCpuMs: round(m(fl, 'cpuMs'), 1),
      floorWallMs: round(m(fl, 'wallMs'), 1),
      wallRatioToFloor: round(m(ours, 'wallMs') / m(fl, 'wallMs'), 2),
      cpuRatioToFloor: round(m(ours, 'cpuMs') / m(fl, 'cpuMs'), 2),
    });
  }
  return out;
}
