// Bench plumbing: statistics, process accounting (/proc), workflow-history timing, and throwaway
// orchestrators (temp git repos, a config file, an in-process worker on its own task queue).
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import execa from 'execa';
import net from 'node:net';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../src/config';
import { createWorker } from '../src/worker';

/** Repo root: this file runs from dist-bench/bench/. */
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const FAKE_CLAUDE = path.join(REPO_ROOT, 'test/fixtures/fake-claude.js');
/** A fake agent in sh that only sleeps and prints a result: a "1 s job" costs 1 s and no CPU (see the script). */
export const SLEEP_AGENT = path.join(REPO_ROOT, 'bench/fixtures/sleep-agent.sh');
export const AGENT_ARGS = ['-p', '{prompt}', '--output-format', 'json'];

// ---------------------------------------------------------------------------------------------------------------
// Statistics

/** Linear-interpolation percentile (p in 0..100) of a non-empty sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export const median = (values: number[]): number => percentile(values, 50);
export const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
export const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Distinct TCP ports that were free a moment ago on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Processes (Linux /proc)

const CLK_TCK = 100;

/** CPU seconds (user + system) used so far by every live process of a process group. */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}

export interface MemoryPeak {
  peakMb: number;
  startMb: number;
  /** process.memoryUsage() (MB) when the peak was seen: what of the RSS is the main thread's JS heap. */
  atPeak: { heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
}

/** The process group of a live (non-zombie) process, or null: the agent may run under a wrapper leading it. */
export function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' || f[0] === 'X' ? null : Number(f[2]);
  } catch {
    return null;
  }
}

/** Samples this process's RSS until stopped. */
export function rssSampler(everyMs = 50): { stop: () => MemoryPeak } {
  const mb = (x: number) => Math.round((x / 2 ** 20) * 10) / 10;
  const startMb = mb(process.memoryUsage.rss());
  let peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peak.rss) peak = m;
  };
  sample();
  const t = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      sample();
      return {
        peakMb: mb(peak.rss),
        startMb,
        atPeak: {
          heapTotal: mb(peak.heapTotal),
          heapUsed: mb(peak.heapUsed),
          external: mb(peak.external),
          arrayBuffers: mb(peak.arrayBuffers),
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Workflow histories

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
export type HistoryEvent = NonNullable<History['events']>[number];

export function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return NaN;
  return Number(t.seconds?.toString() ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

/** The kind of an event, from whichever attributes field is set (no proto enum import needed). */
export function eventKind(e: HistoryEvent): string {
  for (const key of Object.keys(e)) {
    const v = (e as Record<string, unknown>)[key];
    if (key.endsWith('EventAttributes') && v !== null && v !== undefined) return key.replace(/EventAttributes$/, '');
  }
  return 'unknown';
}

export async function historyEvents(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events ?? [];
}

/** Every run of a chain started as `runId` (continue-as-new), with its history. */
export async function historyChain(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<Array<{ runId: string; events: HistoryEvent[] }>> {
  const runs: Array<{ runId: string; events: HistoryEvent[] }> = [];
  let next: string | null | undefined = runId;
  while (next) {
    const events = await historyEvents(client, workflowId, next);
    runs.push({ runId: next, events });
    next = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------------------------
// Throwaway orchestrators

export interface BenchBase {
  dir: string;
  address: string;
  namespace: string;
  connection: NativeConnection;
  client: Client;
  bundlePath: string;
  /** The floor's workflows (bench/floor/workflows.ts), bundled apart from the product's. */
  floorBundlePath: string;
  serverPort: number;
  uiPort: number;
  /** A committed git repo that project folders are copied from (much faster than git init per project). */
  templateRepo: string;
}

export interface Orchestrator {
  name: string;
  dir: string;
  configPath: string;
  config: Config;
  projects: string[];
  projectPath: (name: string) => string;
  /** The agent executable its projects run. */
  agent: string;
  worker: Worker;
  stop: () => Promise<void>;
}

export interface OrchestratorOptions {
  /** Names the task queue, the temp folder and (prefixed) the projects. */
  name: string;
  projects: number;
  prompt: string;
  concurrency: number;
  killGrace?: string;
  /** The agent executable (default: the Node fake, FAKE_CLAUDE). */
  agent?: string;
}

export function makeTemplateRepo(dir: string): string {
  const repo = path.join(dir, 'template-repo');
  mkdirSync(repo, { recursive: true });
  const git = (...args: string[]) => execa.sync('git', args, { cwd: repo });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.email=bench@example.com', '-c', 'user.name=bench', 'commit', '-q', '--allow-empty', '-m', 'init');
  return repo;
}

const toml = (s: string): string => JSON.stringify(s);

/** Writes a config whose projects are git repos running the fake agent, and starts a worker for it. */
export async function startOrchestrator(base: BenchBase, opts: OrchestratorOptions): Promise<Orchestrator> {
  const dir = path.join(base.dir, opts.name);
  const taskQueue = `bench-${opts.name}`;
  const width = String(opts.projects - 1).length;
  const projects = Array.from({ length: opts.projects }, (_, i) => `${opts.name}-${String(i).padStart(width, '0')}`);
  const projectPath = (name: string) => path.join(dir, 'projects', name);
  const agent = opts.agent ?? FAKE_CLAUDE;
  const lines = [
    '[orchestrator]',
    `task_queue = ${toml(taskQueue)}`,
    `state_dir = ${toml(path.join(dir, 'state'))}`,
    'timezone = "UTC"',
    `concurrency = ${opts.concurrency}`,
    `kill_grace = ${toml(opts.killGrace ?? '1s')}`,
    '',
    '[server]',
    'ip = "127.0.0.1"',
    `port = ${base.serverPort}`,
    `ui_port = ${base.uiPort}`,
    `namespace = ${toml(base.namespace)}`,
    '',
    '[agent]',
    `command = ${toml(agent)}`,
    `args = [${AGENT_ARGS.map(toml).join(', ')}]`,
    'timeout = "5m"',
    '',
    '[schedules]',
    'eod = ""',
    'rollover = ""',
    '',
  ];
  for (const name of projects) {
    cpSync(base.templateRepo, projectPath(name), { recursive: true });
    lines.push(`[projects.${toml(name)}]`, `path = ${toml(projectPath(name))}`, `prompt = ${toml(opts.prompt)}`, '');
  }
  const configPath = path.join(dir, 'workspaces.toml');
  writeFileSync(configPath, lines.join('\n'));
  const config = await loadConfig(configPath);
  const { worker } = await createWorker({
    config,
    connection: base.connection,
    namespace: base.namespace,
    workflowBundlePath: base.bundlePath,
    identity: `bench-${opts.name}`,
  });
  const running = worker.run();
  return {
    name: opts.name,
    dir,
    configPath,
    config,
    projects,
    projectPath,
    agent,
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

/** One run of the fake agent, spawned directly (what the seed's loop did per project). */
export async function bareAgent(cwd: string, prompt: string, agent = FAKE_CLAUDE): Promise<number> {
  const t0 = performance.now();
  const r = await execa(
    agent,
    AGENT_ARGS.map((a) => (a === '{prompt}' ? prompt : a)),
    { cwd, reject: false },
  );
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`fake agent exited ${r.exitCode}: ${r.stderr}`);
  return ms;
}
