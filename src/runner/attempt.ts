// Runs, adopts or collects one agent execution for an activity attempt: adopt, never duplicate.
//
// An agent's process outlives the worker that started it: it is the leader's child in its own process
// group, with output going to files and its exit code written by a tiny `sh` wrapper into the launch folder.
// So when an attempt starts after a worker crash or deploy, it looks at the job's earlier launches first:
//   - the last launch finished while nobody watched (exit code on disk)  → collect its result;
//   - the last launch is still running (same pid AND same start time)     → adopt it: heartbeat and wait;
//   - neither (it died with its machine)                                  → launch again (at most twice in all).
// Only then does it start a new agent. A launch whose final outcome was already reported is delivered again
// as it was (the completion was lost on its way to the server); one whose outcome asked for a new launch (a
// first crash) is not looked at again.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { formatDuration } from '../lib/duration';
import { stripAnsi } from '../agents/result';
import { parseProfileOutput } from '../agents/profiles';
import { groupAlive, killGroup, readTail, signalGroup, startAgentProcess, type AgentExit } from './process';
import {
  AGENT_CRASHED,
  SETUP_ERROR,
  WORKER_SHUTDOWN,
  bareRunResult,
  type AgentRunResult,
  type JobPlan,
} from '../temporal/types';

/** How often a running job reports progress; cancellation is noticed on the next one. */
export const HEARTBEAT_EVERY_MS = 500;
/** Cancellation must leave no process behind within 2 s, so its SIGKILL comes sooner than a timeout's. */
export const CANCEL_GRACE_MS = 1000;
/** Agent launches per job: the first, and one more after a crash. */
export const MAX_LAUNCHES = 2;
/** stdout up to this size is parsed whole; beyond it only the tail is read (the result comes last). */
const PARSE_WHOLE_MAX_BYTES = 8 * 1024 * 1024;
const PARSE_TAIL_BYTES = 1024 * 1024;

const LAUNCH_FILE = 'launch.json';
const EXIT_FILE = 'exit.code';
const REPORTED_FILE = 'reported.json';

/**
 * The wrapper: runs the agent ("$@": every argument passed through untouched, never shell-parsed) and
 * records its exit status atomically, even when no worker is left to wait for it.
 */
const WRAPPER =
  '"$@"; c=$?; printf "%s\\n" "$c" > "$ORCHESTRATE_EXIT_FILE.tmp" && mv "$ORCHESTRATE_EXIT_FILE.tmp" "$ORCHESTRATE_EXIT_FILE"; exit $c';

export interface AttemptContext {
  attempt: number;
  heartbeat: (details: unknown) => void;
  cancelSignal: AbortSignal;
  /** True once the cancellation came from this worker shutting down (a deploy), not from a user. */
  isWorkerShutdown: () => boolean;
  /** Waits for a free agent slot on this worker; resolves with its release. */
  acquireSlot: () => Promise<() => void>;
  log: (msg: string) => void;
  /** Called when this attempt only delivers again an outcome an earlier attempt already recorded. */
  onRedeliver?: () => void;
}

export interface AttemptOptions {
  config: Config;
  project: ProjectConfig;
  plan: JobPlan;
  /** <state_dir>/runs/<project>/<runKey>: one folder per workflow run and agent invocation. */
  baseDir: string;
  args: string[];
  env: Record<string, string>;
}

interface Launch {
  dir: string;
  attempt: number;
  pid: number;
  startTicks: number | null;
  startedAt: number;
}

function pickEnv(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) if (env[name] !== undefined) out[name] = env[name];
  return out;
}

/** Process start time in clock ticks since boot (/proc/<pid>/stat field 22); null if gone or a zombie. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** The very process we launched, not a later one that reused its pid. */
export function launchAlive(l: Pick<Launch, 'pid' | 'startTicks'>): boolean {
  const ticks = processStartTicks(l.pid);
  return ticks !== null && (l.startTicks === null || ticks === l.startTicks);
}

async function findLaunches(baseDir: string): Promise<Launch[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(baseDir);
  } catch {
    return [];
  }
  const launches: Launch[] = [];
  for (const name of entries) {
    const m = /^attempt-(\d+)$/.exec(name);
    if (!m) continue;
    try {
      const l = JSON.parse(await fs.readFile(path.join(baseDir, name, LAUNCH_FILE), 'utf8')) as Omit<Launch, 'dir'>;
      launches.push({ ...l, dir: path.join(baseDir, name), attempt: Number(m[1]) });
    } catch {
      // this attempt never launched an agent (adopted, collected, or failed before the spawn)
    }
  }
  return launches.sort((a, b) => a.attempt - b.attempt);
}

/** The wrapper's record: `sh` reports a signal death as 128+N, which we turn back into the signal. */
function readExitFile(dir: string): AgentExit | null {
  let text: string;
  try {
    text = readFileSync(path.join(dir, EXIT_FILE), 'utf8').trim();
  } catch {
    return null;
  }
  const code = Number(text);
  if (!Number.isInteger(code)) return null;
  if (code > 128) {
    const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name) return { exitCode: null, signal: name };
  }
  return { exitCode: code, signal: null };
}

/**
 * reported.json: what this launch's activity attempt reported. `final` outcomes ended the activity (a result,
 * a last crash, a cancel); the rest (a crash to be launched again, a vanished agent) let the next attempt
 * launch anew. A final one is kept whole, so that if its completion never reached the server (the worker died
 * right after, or the server lost its last commits) the next attempt delivers it again instead of running the
 * agent a second time.
 */
interface Reported {
  outcome: string;
  at: string;
  final: boolean;
  result?: AgentRunResult;
}

/**
 * Records what this launch's attempt reported. A final outcome that cannot be recorded (a full or read-only
 * disk) is still delivered: the record only spares a re-collection if the completion gets lost. A non-final
 * one must be recorded, or the next attempt would collect the same launch again and again: that is a
 * non-retryable setup error instead of a crash loop.
 */
async function markReported(
  o: AttemptOptions,
  l: Launch,
  outcome: string,
  final: boolean,
  result?: AgentRunResult,
): Promise<void> {
  const record: Reported = { outcome, at: new Date().toISOString(), final, result };
  const file = path.join(l.dir, REPORTED_FILE);
  try {
    await fs.writeFile(`${file}.tmp`, JSON.stringify(record));
    await fs.rename(`${file}.tmp`, file);
  } catch (e) {
    if (final) return;
    throw runFolderFailure(o, `record the outcome (${outcome}) of agent pid ${l.pid} in`, file, e);
  }
}

/** OS errors that mean the state folder's disk cannot take our files: they never pass by retrying. */
const DISK_ERRORS = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'EEXIST']);

/**
 * The failure for a run folder or file we cannot write, naming the path, the OS error and the config key to
 * fix: a non-retryable setup error for a full, read-only or unwritable disk; retryable otherwise (EMFILE, EIO…).
 */
export function runFolderFailure(
  o: Pick<AttemptOptions, 'config' | 'plan'>,
  what: string,
  file: string,
  e: unknown,
): ApplicationFailure {
  const err = e as NodeJS.ErrnoException;
  const why = err.code ? `${err.code}: ${err.message}` : String(err.message ?? e);
  const disk = err.code !== undefined && DISK_ERRORS.has(err.code);
  return ApplicationFailure.create({
    type: disk ? SETUP_ERROR : 'RunFolderError',
    nonRetryable: disk,
    message: `${o.plan.project}: cannot ${what} ${file} (${why}) — make orchestrator.state_dir (${o.config.orchestrator.stateDir}) writable and check free disk space`,
  });
}

function readReported(l: Launch): Reported | null {
  try {
    return JSON.parse(readFileSync(path.join(l.dir, REPORTED_FILE), 'utf8')) as Reported;
  } catch {
    return null;
  }
}

/** Delivers a launch's final outcome again, exactly as it was first reported. */
function redeliver(o: AttemptOptions, l: Launch, reported: Reported): AgentRunResult {
  const { project } = o.plan;
  if (reported.outcome === 'cancelled')
    throw new CancelledFailure(`${project}: job cancelled; agent process group ${l.pid} stopped`);
  const result = reported.result ?? bareRunResult('crashed', `${project}: the result recorded in ${l.dir} is lost`);
  if (result.outcome === 'crashed') throw crashedFailure(o, l, result.message, true, result);
  return result;
}

export async function runAttempt(o: AttemptOptions, ctx: AttemptContext): Promise<AgentRunResult> {
  const { plan } = o;
  const launches = await findLaunches(o.baseDir);
  const last = launches.at(-1);
  const reported = last ? readReported(last) : null;
  if (last && reported?.final) {
    ctx.log(
      `${plan.project}: the outcome of agent pid ${last.pid} (${reported.outcome}) was reported before but never ` +
        `reached the server; delivering it again without running the agent`,
    );
    ctx.onRedeliver?.();
    return redeliver(o, last, reported);
  }
  if (last && !existsSync(path.join(last.dir, REPORTED_FILE))) {
    const exit = readExitFile(last.dir);
    if (exit) {
      ctx.log(
        `${plan.project}: collecting the result of agent pid ${last.pid}, which finished while no worker watched it`,
      );
      return finish(o, last, launches.length, { kind: 'exited', exit });
    }
    if (launchAlive(last)) {
      ctx.log(`${plan.project}: adopting agent pid ${last.pid} started by attempt ${last.attempt}`);
      const release = await acquireSlot(ctx);
      try {
        return await watch(o, ctx, last, null, launches.length);
      } finally {
        release();
      }
    }
    // Gone without an exit record: it died with its machine or its process group was killed externally.
    await markReported(o, last, 'vanished', false);
    if (launches.length >= MAX_LAUNCHES) {
      throw crashedFailure(
        o,
        last,
        `${plan.project}: the agent (pid ${last.pid}) vanished without an exit status, again — see ${last.dir}`,
        true,
      );
    }
    ctx.log(`${plan.project}: agent pid ${last.pid} vanished without an exit status; launching again`);
  }

  const release = await acquireSlot(ctx);
  try {
    const dir = path.join(o.baseDir, `attempt-${ctx.attempt}`);
    const stateDir = o.config.orchestrator.stateDir;
    if (
      !(await fs.stat(stateDir).then(
        () => true,
        () => false,
      ))
    ) {
      ctx.log(
        `${plan.project}: the state folder ${stateDir} (orchestrator.state_dir) does not exist — deleted? — so it is ` +
          `created again; run folders, the cost ledger and digests start afresh in it`,
      );
    }
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (e) {
      throw runFolderFailure(o, 'create the run folder', dir, e);
    }
    const startedAt = Date.now();
    // Everything that can be written before the agent starts is written first, so a full or read-only disk
    // fails the job before any agent runs: launch.json's space is reserved (pid and start time padded to
    // their widest), and after the spawn only filled in and renamed into place.
    const launchFile = path.join(dir, LAUNCH_FILE);
    const pending = `${launchFile}.tmp`;
    const record = (pid: number, startTicks: number | null) =>
      // No environment values here: only what identifies the process.
      JSON.stringify({ pid, startTicks, startedAt, command: o.project.agent.command, cwd: plan.path });
    const reserve = Buffer.byteLength(record(2 ** 31, Number.MAX_SAFE_INTEGER));
    let pendingFile: fs.FileHandle;
    try {
      pendingFile = await fs.open(pending, 'w');
    } catch (e) {
      throw runFolderFailure(o, 'write', pending, e);
    }
    try {
      await pendingFile.write(Buffer.alloc(reserve, ' '), 0, reserve, 0);
      await pendingFile.sync();
    } catch (e) {
      await pendingFile.close().catch(() => undefined);
      throw runFolderFailure(o, 'write', pending, e);
    }
    const allow = o.project.agent.envAllow;
    let child: ReturnType<typeof startAgentProcess>;
    try {
      child = startAgentProcess({
        command: '/bin/sh',
        args: ['-c', WRAPPER, 'orchestrate-agent', o.project.agent.command, ...o.args],
        cwd: plan.path,
        // With env_allow, only the listed variables of the worker's environment reach the agent.
        env: {
          ...(allow ? pickEnv(process.env, allow) : {}),
          ...o.env,
          ORCHESTRATE_EXIT_FILE: path.join(dir, EXIT_FILE),
        },
        inheritEnv: !allow,
        stdoutPath: path.join(dir, 'stdout.log'),
        stderrPath: path.join(dir, 'stderr.log'),
      });
    } catch (e) {
      // Opening stdout.log/stderr.log failed: nothing was started.
      await pendingFile.close().catch(() => undefined);
      throw runFolderFailure(o, 'create the output files in', dir, e);
    }
    if (child.pid <= 0) {
      await pendingFile.close().catch(() => undefined);
      throw ApplicationFailure.create({
        type: 'SetupError',
        nonRetryable: true,
        message: `${plan.project}: could not start the agent`,
      });
    }
    const launch: Launch = {
      dir,
      attempt: ctx.attempt,
      pid: child.pid,
      startTicks: processStartTicks(child.pid),
      startedAt,
    };
    try {
      const buf = Buffer.alloc(reserve, ' ');
      buf.write(record(launch.pid, launch.startTicks));
      await pendingFile.write(buf, 0, reserve, 0);
      await pendingFile.close();
      await fs.rename(pending, launchFile);
    } catch (e) {
      // An agent nobody could find again would run untracked, and the next attempt would start another:
      // stop it now, and fail for good.
      await pendingFile.close().catch(() => undefined);
      // SIGKILL at once (no grace: it has done nothing yet), and wait until no process of its group is left.
      await killGroup(launch.pid, 0);
      await child.exited;
      const err = e as NodeJS.ErrnoException;
      // Non-retryable whatever the error: the next attempt would face the same choice.
      throw ApplicationFailure.create({
        type: SETUP_ERROR,
        nonRetryable: true,
        message: `${plan.project}: cannot record the agent's launch in ${launchFile} (${err.code ?? 'error'}: ${err.message}), so the agent (pid ${launch.pid}) was stopped rather than left running untracked — make orchestrator.state_dir (${o.config.orchestrator.stateDir}) writable and check free disk space`,
      });
    }
    return await watch(o, ctx, launch, child.exited, launches.length + 1);
  } finally {
    release();
  }
}

/** Waits for a free agent slot on this worker, heartbeating, and gives up on cancellation. */
export async function acquireSlot(
  ctx: Pick<AttemptContext, 'heartbeat' | 'cancelSignal' | 'acquireSlot'>,
): Promise<() => void> {
  const beat = setInterval(() => ctx.heartbeat({ phase: 'waiting for a free agent slot' }), HEARTBEAT_EVERY_MS);
  try {
    const cancelled = new Promise<never>((_, reject) => {
      if (ctx.cancelSignal.aborted) reject(new CancelledFailure('cancelled while waiting for an agent slot'));
      ctx.cancelSignal.addEventListener('abort', () =>
        reject(new CancelledFailure('cancelled while waiting for an agent slot')),
      );
    });
    cancelled.catch(() => undefined);
    return await Promise.race([ctx.acquireSlot(), cancelled]);
  } finally {
    clearInterval(beat);
  }
}

type Ending = { kind: 'exited'; exit: AgentExit } | { kind: 'timeout' } | { kind: 'cancel' } | { kind: 'detach' };

/** Heartbeats while the launch runs; stops it on timeout or cancel; leaves it running on a deploy. */
async function watch(
  o: AttemptOptions,
  ctx: AttemptContext,
  l: Launch,
  ownExit: Promise<AgentExit> | null,
  launchCount: number,
): Promise<AgentRunResult> {
  const { plan } = o;
  const onShutdown = o.config.orchestrator.onShutdown;
  let stop: 'timeout' | 'cancel' | 'detach' | null = null;
  let killing: Promise<void> = Promise.resolve();
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (wake = r));
  const requestStop = (why: 'timeout' | 'cancel' | 'detach', graceMs: number) => {
    if (stop) return;
    stop = why;
    if (why !== 'detach') killing = killGroup(l.pid, graceMs);
    wake();
  };
  const timer = setTimeout(
    () => requestStop('timeout', plan.killGraceMs),
    Math.max(0, l.startedAt + plan.timeoutMs - Date.now()),
  );
  const onAbort = () => {
    if (ctx.isWorkerShutdown()) {
      // A deploy: by default the agent keeps running and the next worker adopts it.
      if (onShutdown === 'detach') requestStop('detach', 0);
      else requestStop('cancel', Math.min(plan.killGraceMs, CANCEL_GRACE_MS));
    } else requestStop('cancel', Math.min(plan.killGraceMs, CANCEL_GRACE_MS));
  };
  if (ctx.cancelSignal.aborted) onAbort();
  ctx.cancelSignal.addEventListener('abort', onAbort);
  const stdoutPath = path.join(l.dir, 'stdout.log');
  const stderrPath = path.join(l.dir, 'stderr.log');
  const beat = setInterval(() => {
    void progress(stdoutPath, stderrPath).then((p) => ctx.heartbeat({ pid: l.pid, ...p }));
  }, HEARTBEAT_EVERY_MS);
  ctx.heartbeat({ pid: l.pid, bytes: 0, lastLine: '' });

  // An adopted launch is not our child: poll for its end.
  const exited: Promise<AgentExit> =
    ownExit ??
    new Promise((resolve) => {
      const poll = setInterval(() => {
        if (launchAlive(l)) return;
        clearInterval(poll);
        resolve(readExitFile(l.dir) ?? { exitCode: null, signal: null });
      }, 250);
    });
  let ending: Ending;
  try {
    const first = await Promise.race([
      exited.then((exit) => ({ kind: 'exited' as const, exit })),
      stopped.then(() => null),
    ]);
    if (stop === 'detach') {
      ending = { kind: 'detach' };
    } else if (stop) {
      await killing;
      await exited;
      ending = { kind: stop };
    } else {
      ending = first ?? { kind: 'exited', exit: await exited };
      // The agent is gone; anything it left running in its group goes too (jobs are immutable).
      if (groupAlive(l.pid)) signalGroup(l.pid, 'SIGKILL');
    }
  } finally {
    clearTimeout(timer);
    clearInterval(beat);
    ctx.cancelSignal.removeEventListener('abort', onAbort);
  }
  return finish(o, l, launchCount, ending, ctx.isWorkerShutdown());
}

async function finish(
  o: AttemptOptions,
  l: Launch,
  launchCount: number,
  ending: Ending,
  byShutdown = false,
): Promise<AgentRunResult> {
  const { plan } = o;
  const base = { durationMs: Date.now() - l.startedAt, logPath: l.dir, pid: l.pid };
  if (ending.kind === 'detach') {
    throw ApplicationFailure.create({
      type: WORKER_SHUTDOWN,
      message: `${plan.project}: worker shut down; agent pid ${l.pid} left running for the next worker to adopt`,
    });
  }
  if (ending.kind === 'cancel') {
    // Killed because this worker shut down (on_shutdown = "kill"): the job itself was not cancelled, and
    // the next attempt launches the agent again.
    await markReported(o, l, byShutdown ? 'stopped by worker shutdown' : 'cancelled', !byShutdown);
    if (byShutdown) {
      // Not a cancellation (the server never asked for one): a retryable failure, and the next attempt (on
      // the next worker) launches the agent again.
      throw ApplicationFailure.create({
        type: WORKER_SHUTDOWN,
        message: `${plan.project}: worker shut down with on_shutdown = "kill": agent process group ${l.pid} stopped; the next worker runs the job again`,
      });
    }
    throw new CancelledFailure(`${plan.project}: job cancelled; agent process group ${l.pid} stopped`);
  }
  if (ending.kind === 'timeout') {
    const tail = (await readTail(path.join(l.dir, 'stdout.log'), 4096)).data.toString('utf8');
    const timedOut: AgentRunResult = {
      ...base,
      outcome: 'timed_out',
      message: `${plan.project}: agent ran longer than its ${formatDuration(plan.timeoutMs)} timeout and was stopped — raise [agent] timeout (or [projects.${plan.project}.agent] timeout), or split the task; output in ${l.dir}`,
      exitCode: null,
      signal: null,
      costUsd: null,
      numTurns: null,
      sessionId: null,
      subtype: null,
      result: lastLines(tail),
      resultTruncated: true,
      usageLimitResetsAt: null,
    };
    await markReported(o, l, 'timed_out', true, timedOut);
    return timedOut;
  }
  // The wrapper's record is the truth (it survives worker restarts); our child's status is the fallback.
  const exit = readExitFile(l.dir) ?? ending.exit;
  const stdoutPath = path.join(l.dir, 'stdout.log');
  const whole = await readTail(stdoutPath, PARSE_WHOLE_MAX_BYTES);
  const stdout = whole.headTruncated ? (await readTail(stdoutPath, PARSE_TAIL_BYTES)).data : whole.data;
  const stderr = await readTail(path.join(l.dir, 'stderr.log'), 8192);
  const parsed = parseProfileOutput(o.project.agent.profile, {
    stdout,
    headTruncated: whole.headTruncated,
    stderrTail: stderr.data.toString('utf8'),
    exitCode: exit.exitCode,
    signal: exit.signal,
    project: plan.project,
    format: o.project.agent.outputFormat,
    allowPermissionDenials: o.project.agent.allowPermissionDenials,
    now: new Date(),
  });
  const result: AgentRunResult = { ...base, exitCode: exit.exitCode, signal: exit.signal, ...parsed };
  if (result.outcome !== 'succeeded') result.message = `${result.message} (log: ${l.dir})`;
  const final = result.outcome !== 'crashed' || launchCount >= MAX_LAUNCHES;
  await markReported(o, l, result.outcome, final, result);
  if (result.outcome === 'crashed') throw crashedFailure(o, l, result.message, final, result);
  return result;
}

function crashedFailure(
  o: AttemptOptions,
  l: Launch,
  message: string,
  final: boolean,
  result?: AgentRunResult,
): ApplicationFailure {
  const details =
    result ?? bareRunResult('crashed', message, { durationMs: Date.now() - l.startedAt, logPath: l.dir, pid: l.pid });
  return ApplicationFailure.create({ type: AGENT_CRASHED, message, details: [details], nonRetryable: final });
}

/** Heartbeat payload: bytes written so far and the last line, so the Web UI shows the job is alive. */
async function progress(stdoutPath: string, stderrPath: string): Promise<{ bytes: number; lastLine: string }> {
  const [out, err] = await Promise.all([readTail(stdoutPath, 2048), readTail(stderrPath, 2048)]);
  const text = out.data.length > 0 ? out.data.toString('utf8') : err.data.toString('utf8');
  return { bytes: out.size + err.size, lastLine: lastLines(text, 1).slice(0, 200) };
}

function lastLines(text: string, n = 20): string {
  return stripAnsi(text)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}
