// Gate functions: per project and per cycle, decide whether a job runs, and always say why.
// A gate that errors never fails the cycle: the project is skipped with the error as its reason.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import execa from 'execa';
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { dayBounds, inWindow, localDate } from '../lib/dates';
import { formatDuration } from '../lib/duration';
import { spentUsd } from '../lib/ledger';
import { type GateDecision } from '../temporal/types';
import { jobWorkflowId } from '../temporal/ids';
import { groupAlive, killGroup } from '../runner/processGroup';
import { Semaphore } from '../lib/semaphore';

/** A file a person can touch in the project folder to pause it without editing config. */
export const PAUSE_FILE = '.orchestrate-paused';

export function pausedMarker(stateDir: string, project: string): string {
  return path.join(stateDir, 'paused', project);
}

export interface GateContext {
  config: Config;
  now: Date;
  /** Whether a job for the project is running right now (asks the Temporal server). */
  isJobRunning: (project: string) => Promise<boolean>;
  /** Cancellation of the evaluation: running gate commands are killed. */
  signal?: AbortSignal;
  /** Caps the processes (gate commands, git lookups) that evaluations run at once; none: no cap. */
  processSlots?: Semaphore;
}

type Verdict = Omit<GateDecision, 'project'>;
const run = (reason: string): Verdict => ({ decision: 'run', gate: 'all', reason });
const skip = (gate: string, reason: string): Verdict => ({ decision: 'skip', gate, reason });
const gateError = (gate: string, reason: string): Verdict => ({ decision: 'error', gate, reason });

export async function decide(project: ProjectConfig, ctx: GateContext): Promise<GateDecision> {
  let verdict: Verdict;
  try {
    verdict = await evaluate(project, ctx);
  } catch (e) {
    verdict = gateError('internal', `gate evaluation failed: ${(e as Error).message}`);
  }
  return { project: project.name, ...verdict };
}

async function evaluate(project: ProjectConfig, ctx: GateContext): Promise<Verdict> {
  const { config, now } = ctx;
  if (!project.enabled) return skip('enabled', `disabled in config (enabled = false in [projects.${project.name}])`);
  if (existsSync(pausedMarker(config.orchestrator.stateDir, project.name))) {
    return skip('paused', `paused — \`orchestrate resume -p ${project.name}\` to resume`);
  }
  let st;
  try {
    st = statSync(project.path);
  } catch {
    return gateError('path', `project path ${project.path} does not exist — fix [projects.${project.name}] path`);
  }
  if (!st.isDirectory()) return gateError('path', `project path ${project.path} is not a directory`);
  if (existsSync(path.join(project.path, PAUSE_FILE))) {
    return skip('paused', `paused by ${PAUSE_FILE} in the project folder — delete it to resume`);
  }
  if (!(await isGitRepo(project.path, ctx))) {
    return gateError('git', `${project.path} is not a git repository — jobs need one (git init, or fix the path)`);
  }
  if (await ctx.isJobRunning(project.name))
    return skip('running', `a job is already running (${jobWorkflowId(project.name)})`);
  const hours = project.gates.workingHours;
  if (hours && !inWindow(now, config.orchestrator.timezone, hours)) {
    return skip('working_hours', `outside working hours ${hours.start}-${hours.end} (${config.orchestrator.timezone})`);
  }
  if (project.gates.maxDailyUsd > 0) {
    const today = localDate(now, config.orchestrator.timezone);
    const { start, end } = dayBounds(today, config.orchestrator.timezone);
    const spent = await spentUsd(config.orchestrator.stateDir, project.name, start, end);
    if (spent >= project.gates.maxDailyUsd) {
      return skip(
        'budget',
        `daily budget spent: $${spent.toFixed(2)} of $${project.gates.maxDailyUsd.toFixed(2)} today`,
      );
    }
  }
  if (project.gates.command) return withProcessSlot(ctx, () => commandGate(project, ctx.signal));
  return run('all gates passed');
}

async function isGitRepo(dir: string, ctx: GateContext): Promise<boolean> {
  // The usual case without a process: the project is a repo's top folder (`.git` is a folder, or a file in a
  // worktree). Only a folder inside a repo asks git.
  if (existsSync(path.join(dir, '.git'))) return true;
  const r = await withProcessSlot(ctx, () =>
    execa('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir, reject: false, timeout: 15_000 }),
  );
  return r.exitCode === 0 && r.stdout.trim() === 'true';
}

/** Runs `spawn` once a process slot is free (at once without a cap); a cancelled evaluation spawns nothing more. */
async function withProcessSlot<T>(ctx: GateContext, spawn: () => Promise<T>): Promise<T> {
  const release = await ctx.processSlots?.acquire();
  try {
    if (ctx.signal?.aborted) throw new CancelledFailure('gate evaluation cancelled');
    return await spawn();
  } finally {
    release?.();
  }
}

/** The "is there work" gate: a shell command in the project folder; 0 = work, 1 = no work, else error. */
async function commandGate(project: ProjectConfig, signal?: AbortSignal): Promise<Verdict> {
  const { command, timeoutMs } = project.gates;
  const child = execa('sh', ['-c', command], {
    cwd: project.path,
    env: project.agent.env,
    detached: true,
    reject: false,
    all: true,
    stdin: 'ignore',
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) void killGroup(child.pid, 1000);
  }, timeoutMs);
  const onAbort = () => child.pid && void killGroup(child.pid, 0);
  signal?.addEventListener('abort', onAbort);
  const r = await child;
  clearTimeout(timer);
  signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted) throw new CancelledFailure('gate evaluation cancelled');
  if (child.pid && groupAlive(child.pid)) await killGroup(child.pid, 0);
  if (timedOut) return gateError('command', `gate command timed out after ${formatDuration(timeoutMs)}: ${command}`);
  if (r.exitCode === 0) return run(`gate command found work: ${command}`);
  if (r.exitCode === 1) return skip('command', `no work (gate command exited 1): ${command}`);
  const tail = (r.all ?? '').trim().split('\n').slice(-1)[0] ?? '';
  return gateError(
    'command',
    `gate command failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`}): ${command}${tail ? ` — ${tail.slice(0, 200)}` : ''}`,
  );
}

/** Projects whose gates are evaluated at once: their file checks and running-job lookups overlap. */
const EVALUATIONS_IN_FLIGHT = 32;

/**
 * Evaluates every project's gates, many at a time (the running-job lookup is a server round trip, which one
 * project at a time would add up), with at most `processes` gate processes running at once; heartbeating so a
 * hung gate cannot hide.
 */
export async function decideAll(projects: ProjectConfig[], ctx: GateContext, processes = 4): Promise<GateDecision[]> {
  const out: GateDecision[] = new Array(projects.length);
  const shared: GateContext = { ...ctx, processSlots: ctx.processSlots ?? new Semaphore(processes) };
  let next = 0;
  let evaluated = 0;
  // On a timer, not per project: a slow gate command must not hide cancellation or look like a dead worker.
  const beat = setInterval(() => {
    try {
      Context.current().heartbeat({ evaluated, of: projects.length });
    } catch {
      // not inside an activity (unit tests)
    }
  }, 1000);
  async function lane() {
    while (next < projects.length && !ctx.signal?.aborted) {
      const i = next++;
      out[i] = await decide(projects[i], shared);
      evaluated++;
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(EVALUATIONS_IN_FLIGHT, projects.length) }, lane));
  } finally {
    clearInterval(beat);
  }
  if (ctx.signal?.aborted) throw new CancelledFailure('gate evaluation cancelled');
  return out;
}

export async function setPaused(stateDir: string, project: string, paused: boolean): Promise<void> {
  const marker = pausedMarker(stateDir, project);
  if (paused) {
    await fs.mkdir(path.dirname(marker), { recursive: true });
    await fs.writeFile(marker, new Date().toISOString() + '\n');
  } else {
    await fs.rm(marker, { force: true });
  }
}
