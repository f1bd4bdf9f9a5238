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
//
// Every attempt claims the job's run folder first (./lease). One that loses it (its worker froze past the
// heartbeat timeout and a newer attempt took the job over) walks away: it never signals the agent and writes
// no report; only a user's cancel, a timeout or a closed job stops an agent.
import { ApplicationFailure } from '@temporalio/common';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { AGENT_DEFAULTS } from '../config/defaults';
import { MAX_LAUNCHES, crashedFailure, finish, redeliver } from './outcome';
import { startAgentProcess, type AgentProcess } from './process';
import { processStartTicks } from './processGroup';
import { containmentEnv, stopJob } from './containment';
import { claimLease, leaseToken, type Lease } from './lease';
import { containmentOf, watch } from './watch';
import { progressSoFar } from './liveProgress';
import {
  EXIT_FILE,
  REPORTED_FILE,
  STDERR_FILE,
  STDOUT_FILE,
  WRAPPER,
  attemptFolders,
  createRunFolder,
  fence,
  findLaunches,
  launchAlive,
  markReported,
  readExitFile,
  readReported,
  reserveLaunchRecord,
  runFolderFailure,
  writeJobRecord,
  type JobRecord,
  type Launch,
  type PendingLaunchRecord,
  type RunFolderOwner,
} from './runFolder';
import type { AgentHeartbeatWriter, AgentRunResult, JobPlan } from '../temporal/types';
import { SETUP_ERROR } from '../temporal/failures';
import { acquireSlot as waitForSlot, type SlotWaiter } from './agentSlot';

/** How often a running job reports progress; cancellation is noticed on the next one. */
export const HEARTBEAT_EVERY_MS = 500;
/** Cancellation must leave no process behind within 2 s, so its SIGKILL comes sooner than a timeout's. */
export const CANCEL_GRACE_MS = 1000;

export interface AttemptContext {
  attempt: number;
  heartbeat: AgentHeartbeatWriter;
  cancelSignal: AbortSignal;
  /** True once the cancellation came from this worker shutting down (a deploy), not from a user. */
  isWorkerShutdown: () => boolean;
  /**
   * True once the cancellation came from the server no longer knowing this attempt (its heartbeat was
   * rejected, it timed out): a newer attempt runs the job, or the job is closed. Not a user's cancel.
   */
  isLeaseLost?: () => boolean;
  /** Whether the job's workflow is closed (terminated, …); asked only once the lease is lost. */
  jobClosed?: () => Promise<boolean>;
  /** This attempt's claim token (./lease); default: from the attempt number. */
  leaseToken?: string;
  /** Waits for a free agent slot on this worker; resolves with its release. */
  acquireSlot: () => Promise<() => void>;
  /** Once the slot is free: a result to report instead of launching (the account is held), or null. */
  heldBeforeLaunch?: () => AgentRunResult | null | Promise<AgentRunResult | null>;
  /**
   * Told a launch's result while its agent slot is still held, so that what it teaches (its account's usage limit,
   * an auth failure) is known before the job waiting for that slot asks `heldBeforeLaunch`.
   */
  learn?: (result: AgentRunResult) => void;
  log: (msg: string) => void;
  /** What the worker log shows as a warning (default: log). */
  warn?: (msg: string) => void;
  /** Called when this attempt only delivers again an outcome an earlier attempt already recorded. */
  onRedeliver?: () => void;
}

/**
 * What adopting, collecting or delivering again an earlier launch needs: the plan, the run folder and a few
 * settings, which job.json records with the first launch, so that none of it depends on today's config file.
 */
export interface ResumeOptions extends RunFolderOwner {
  config: { orchestrator: Pick<Config['orchestrator'], 'stateDir' | 'onShutdown'> };
  project: {
    agent: Pick<
      ProjectConfig['agent'],
      'profile' | 'outputFormat' | 'allowPermissionDenials' | 'exitGraceMs' | 'stallTimeoutMs'
    >;
  };
  plan: JobPlan;
  /** <state_dir>/runs/<project>/<runKey>: one folder per workflow run and agent invocation. */
  baseDir: string;
}

/** What a new launch needs besides: today's valid config. */
export interface AttemptOptions extends ResumeOptions {
  config: Config;
  project: ProjectConfig;
  args: string[];
  env: Record<string, string>;
  /** The file the agent's stdin reads its prompt from, when the prompt does not go in args. */
  stdinPath?: string | null;
  /** The job's workflow, recorded in job.json for the orphan sweep. */
  job?: { workflowId: string; runId: string };
  /**
   * The argv that continues an earlier launch's agent session (`--resume <id>` and the continuation prompt):
   * the launch after a crash or a stall continues the session the one before printed. Absent: it starts the
   * task over (`[agent] resume` off, or a profile that cannot resume).
   */
  resumeArgs?: (sessionId: string) => string[];
}

/** Runs, adopts or collects the job's agent for this activity attempt (see the top of this file). */
export async function runAttempt(options: AttemptOptions, ctx: AttemptContext): Promise<AgentRunResult> {
  await noteMissingStateDir(options, ctx);
  const o = { ...options, lease: claim(options, ctx) };
  const launches = await findLaunches(o.baseDir);
  const earlier = await resumeLastLaunch(o, ctx, launches);
  if (earlier) return earlier;
  const release = await acquireSlot(ctx);
  try {
    const held = await ctx.heldBeforeLaunch?.();
    if (held) return held;
    fence(o, 'launch the agent');
    return learnt(ctx, await launchAgent(await continuingSession(o, ctx, launches), ctx, launches.length + 1));
  } finally {
    release();
  }
}

/**
 * Adopts, collects or delivers again the job's last launch with the settings recorded in its run folder, when
 * today's config cannot be used; `cannotLaunch` (the config's error) is thrown when a new launch is needed.
 */
export async function resumeAttempt(
  options: ResumeOptions,
  ctx: AttemptContext,
  cannotLaunch: Error,
): Promise<AgentRunResult> {
  const o = { ...options, lease: claim(options, ctx) };
  const earlier = await resumeLastLaunch(o, ctx, await findLaunches(o.baseDir));
  if (earlier) return earlier;
  throw cannotLaunch;
}

/** The settings job.json records, read back as a resume's options. */
export function resumeOptionsFrom(record: JobRecord, plan: JobPlan, baseDir: string): ResumeOptions {
  return {
    plan,
    baseDir,
    config: { orchestrator: { stateDir: record.stateDir, onShutdown: record.onShutdown } },
    project: {
      agent: {
        profile: record.profile,
        outputFormat: record.outputFormat,
        // Recorded by newer launches; the defaults for run folders an older version wrote.
        allowPermissionDenials: record.allowPermissionDenials ?? false,
        exitGraceMs: record.exitGraceMs ?? AGENT_DEFAULTS.exitGraceMs,
        stallTimeoutMs: record.stallTimeoutMs !== undefined ? record.stallTimeoutMs : AGENT_DEFAULTS.stallTimeoutMs,
      },
    },
  };
}

function claim(o: ResumeOptions, ctx: AttemptContext): Lease {
  try {
    return claimLease(o.baseDir, ctx.leaseToken ?? leaseToken(0, ctx.attempt), ctx.attempt);
  } catch (e) {
    throw runFolderFailure(o, 'create the run folder', o.baseDir, e);
  }
}

/**
 * The job's last launch, if it is not done with: its outcome delivered again, its result collected, or the
 * launch adopted. Null when a new agent is to be launched (none yet, or the last one vanished for the first time).
 */
async function resumeLastLaunch(
  o: ResumeOptions,
  ctx: AttemptContext,
  launches: Launch[],
): Promise<AgentRunResult | null> {
  const { plan } = o;
  const last = launches.at(-1);
  if (!last) return null;
  const reported = readReported(last);
  if (reported?.final) {
    ctx.log(
      `${plan.project}: the outcome of agent pid ${last.pid} (${reported.outcome}) was reported before but never ` +
        `reached the server; delivering it again without running the agent`,
    );
    ctx.onRedeliver?.();
    return learnt(ctx, redeliver(o, last, reported));
  }
  // Reported, not final: a crash to be launched again, or a vanished agent; either way this one is done with.
  if (existsSync(path.join(last.dir, REPORTED_FILE))) return null;
  const exit = readExitFile(last.dir);
  if (exit) {
    ctx.log(
      `${plan.project}: collecting the result of agent pid ${last.pid}, which finished while no worker watched it`,
    );
    await stopJob(containmentOf(o), last.pid, 0);
    return learnt(ctx, await finish(o, last, launches.length, { kind: 'exited', exit }));
  }
  if (launchAlive(last)) {
    ctx.log(`${plan.project}: adopting agent pid ${last.pid} started by attempt ${last.attempt}`);
    const release = await acquireSlot(ctx);
    try {
      return learnt(ctx, await watch(o, ctx, last, null, launches.length));
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
  return null;
}

/**
 * The options of a launch after an earlier one (a crash, a stall, a vanished agent): it continues the session
 * the earlier one printed (its reported result says it, or its event stream), when the job resumes sessions.
 */
async function continuingSession(o: AttemptOptions, ctx: AttemptContext, launches: Launch[]): Promise<AttemptOptions> {
  const last = launches.at(-1);
  if (!last || !o.resumeArgs) return o;
  const sessionId =
    readReported(last)?.result?.sessionId ?? (await progressSoFar(last.dir).catch(() => null))?.sessionId ?? null;
  if (!sessionId) return o;
  ctx.log(`${o.plan.project}: launching the agent again, continuing session ${sessionId} of agent pid ${last.pid}`);
  return { ...o, args: o.resumeArgs(sessionId), stdinPath: null };
}

/** Starts the agent in a new run folder for this attempt, records the launch, and watches it. */
async function launchAgent(o: AttemptOptions, ctx: AttemptContext, launchCount: number): Promise<AgentRunResult> {
  const dir = path.join(o.baseDir, `attempt-${ctx.attempt}`);
  // Only an attempt folder can have started a process of this job (a spawn comes after its folder).
  const firstOfJob = (await attemptFolders(o.baseDir)).length === 0;
  await createRunFolder(o, dir);
  await writeJobRecord(o, o.baseDir, {
    workflowId: o.job?.workflowId ?? '',
    runId: o.job?.runId ?? '',
    project: o.plan.project,
    kind: o.plan.kind,
    host: os.hostname(),
    stateDir: o.config.orchestrator.stateDir,
    profile: o.project.agent.profile,
    outputFormat: o.project.agent.outputFormat,
    allowPermissionDenials: o.project.agent.allowPermissionDenials,
    exitGraceMs: o.project.agent.exitGraceMs,
    stallTimeoutMs: o.project.agent.stallTimeoutMs,
    onShutdown: o.config.orchestrator.onShutdown,
  });
  const startedAt = Date.now();
  // Everything that can be written before the agent starts is written first, so a full or read-only disk
  // fails the job before any agent runs.
  const pending = await reserveLaunchRecord(o, dir, {
    startedAt,
    command: o.project.agent.command,
    cwd: o.plan.path,
  });
  // Whatever an earlier launch of this job left running (an escaped daemon, an agent whose wrapper died, one whose
  // launch was never recorded) goes first. The job's first attempt has none, and skips the /proc scan.
  if (!firstOfJob) await stopJob(containmentOf(o), 0, 0);
  const child = await spawnAgent(o, ctx, dir, pending);
  const launch: Launch = {
    dir,
    attempt: ctx.attempt,
    pid: child.pid,
    startTicks: processStartTicks(child.pid),
    startedAt,
  };
  await recordLaunch(o, launch, child, pending);
  return await watch(o, ctx, launch, child.exited, launchCount);
}

/** A deleted state folder is created again, but not silently: what was in it is gone. */
async function noteMissingStateDir(o: AttemptOptions, ctx: AttemptContext): Promise<void> {
  const stateDir = o.config.orchestrator.stateDir;
  const exists = await fs.stat(stateDir).then(
    () => true,
    () => false,
  );
  if (exists) return;
  ctx.log(
    `${o.plan.project}: the state folder ${stateDir} (orchestrator.state_dir) does not exist — deleted? — so it is ` +
      `created again; run folders, the cost ledger and digests start afresh in it`,
  );
}

/** Starts the agent under the exit-recording wrapper, its output going to the run folder. */
async function spawnAgent(
  o: AttemptOptions,
  ctx: AttemptContext,
  dir: string,
  pending: PendingLaunchRecord,
): Promise<AgentProcess> {
  const allow = o.project.agent.envAllow;
  const job = containmentOf(o);
  const contained = await containmentEnv(job);
  // The helper may have started the agent before it went: whatever of the job runs is stopped first, and what it
  // wrote is not this launch's.
  const fallBack = async (why: string) => {
    (ctx.warn ?? ctx.log)(`${o.plan.project}: ${why}; starting the agent from the worker itself`);
    await stopJob(job, 0, 0);
    await Promise.all([EXIT_FILE, STDOUT_FILE, STDERR_FILE].map((f) => fs.rm(path.join(dir, f), { force: true })));
  };
  let child: AgentProcess;
  try {
    child = await startAgentProcess(
      {
        command: '/bin/sh',
        args: ['-c', WRAPPER, 'orchestrate-agent', o.project.agent.command, ...o.args],
        cwd: o.plan.path,
        // With env_allow, only the listed variables of the worker's environment reach the agent.
        env: {
          ...(allow ? pickEnv(process.env, allow) : {}),
          ...o.env,
          ORCHESTRATE_EXIT_FILE: path.join(dir, EXIT_FILE),
          ...contained,
        },
        inheritEnv: !allow,
        stdoutPath: path.join(dir, STDOUT_FILE),
        stderrPath: path.join(dir, STDERR_FILE),
        stdinPath: o.stdinPath,
      },
      fallBack,
    );
  } catch (e) {
    // Opening stdout.log/stderr.log failed: nothing was started.
    await pending.abandon();
    throw runFolderFailure(o, 'create the output files in', dir, e);
  }
  if (child.pid <= 0) {
    await pending.abandon();
    throw ApplicationFailure.create({
      type: SETUP_ERROR,
      nonRetryable: true,
      message: `${o.plan.project}: could not start the agent`,
    });
  }
  return child;
}

/**
 * Fills in launch.json. An agent nobody could find again would run untracked, and the next attempt would
 * start another: if the record cannot be written, the agent is stopped now and the job fails for good.
 */
async function recordLaunch(
  o: AttemptOptions,
  launch: Launch,
  child: AgentProcess,
  pending: PendingLaunchRecord,
): Promise<void> {
  try {
    await pending.fill(launch.pid, launch.startTicks);
  } catch (e) {
    await pending.abandon();
    // SIGKILL at once (no grace: it has done nothing yet), and wait until no process of the job is left.
    await stopJob(containmentOf(o), launch.pid, 0);
    await child.exited;
    const err = e as NodeJS.ErrnoException;
    // Non-retryable whatever the error: the next attempt would face the same choice.
    throw ApplicationFailure.create({
      type: SETUP_ERROR,
      nonRetryable: true,
      message: `${o.plan.project}: cannot record the agent's launch in ${pending.file} (${err.code ?? 'error'}: ${err.message}), so the agent (pid ${launch.pid}) was stopped rather than left running untracked — make orchestrator.state_dir (${o.config.orchestrator.stateDir}) writable and check free disk space`,
    });
  }
}

function pickEnv(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) if (env[name] !== undefined) out[name] = env[name];
  return out;
}

/** The result, once `ctx.learn` was told it (before the slot is released). */
function learnt(ctx: AttemptContext, result: AgentRunResult): AgentRunResult {
  ctx.learn?.(result);
  return result;
}

/** Waits for a free agent slot on this worker, heartbeating, and gives up on cancellation. */
export function acquireSlot(ctx: SlotWaiter): Promise<() => void> {
  return waitForSlot(ctx, HEARTBEAT_EVERY_MS);
}
