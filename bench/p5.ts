// P5: CLI start-up, as CPU time of the child process (user + sys) over that of `node -e 0`. A preload
// (cpu-report.js) appends the process's own resourceUsage() to a file when it exits: it counts everything from
// exec, Node's own start-up included, and nothing of the bench's process.
import execa from 'execa';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { median, round, type BenchBase } from './lib';

/** The built CLI (compiled with the bench: bench/tsconfig.json includes src/cli.ts). */
const CLI = path.resolve(__dirname, '../src/cli.js');
const CPU_REPORT = path.join(__dirname, 'cpu-report.js');

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
      '',
      // logs asks the server which run is the job's newest: the bench's own, which has no such job.
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
  const cpuMs = async (args: string[], okExit: number[]): Promise<number> => {
    rmSync(report, { force: true });
    const r = await execa(process.execPath, ['-r', CPU_REPORT, ...args], {
      cwd: dir,
      env: { ...process.env, ORCHESTRATE_CONFIG: configPath, BENCH_CPU_REPORT: report },
      reject: false,
      stdin: 'ignore',
    });
    if (!okExit.includes(r.exitCode)) throw new Error(`P5: node ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
    const usage = JSON.parse(readFileSync(report, 'utf8')) as { userCPUTime: number; systemCPUTime: number };
    return (usage.userCPUTime + usage.systemCPUTime) / 1000;
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
  };
}
