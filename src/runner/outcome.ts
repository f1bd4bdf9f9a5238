// The outcome of one agent launch, as the activity reports it: a result, a redelivered one, or a failure
// typed for the workflow (a crash, a worker shutdown, a cancel).
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import path from 'node:path';
import { formatDuration } from '../lib/duration';
import { stripAnsi } from '../agents/result';
import { parseProfileOutput } from '../agents/parsers';
import { bareRunResult, type AgentRunResult } from '../temporal/types';
import { AGENT_CRASHED, WORKER_SHUTDOWN } from '../temporal/failures';
import type { ResumeOptions } from './attempt';
import { fullDiskResult } from './diskFull';
import { progressSoFar } from './liveProgress';
import { readTail, type AgentExit } from './process';
import { STDERR_FILE, STDOUT_FILE, markReported, readExitFile, type Launch, type Reported } from './runFolder';

/** Agent launches per job: the first, and one more after a crash. */
export const MAX_LAUNCHES = 2;
/** stdout up to this size is parsed whole; beyond it only the tail is read (the result comes last). */
const PARSE_WHOLE_MAX_BYTES = 8 * 1024 * 1024;
const PARSE_TAIL_BYTES = 1024 * 1024;

/**
 * How a watched launch ended: its process exited, or it was stopped (timeout, a stall, cancel; lingered: it
 * printed its result but did not exit within its exit grace) or left running (detach).
 */
export type Ending =
  | { kind: 'exited'; exit: AgentExit }
  | { kind: 'timeout' }
  | { kind: 'stall'; reason: string }
  | { kind: 'cancel' }
  | { kind: 'detach' }
  | { kind: 'lingered' };

/**
 * What a launch that ended reports: a result, or a failure (a deploy, a cancel, a crash). Every outcome but a
 * deploy's is recorded in reported.json first, so a completion lost on its way to the server is delivered again.
 */
export async function finish(
  o: ResumeOptions,
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
    const timedOut = await stoppedResult(o, l, base, 'timed_out', ending);
    await markReported(o, l, 'timed_out', true, timedOut);
    return timedOut;
  }
  if (ending.kind === 'stall') return stalled(o, l, launchCount, await stoppedResult(o, l, base, 'stalled', ending));
  // The wrapper's record is the truth (it survives worker restarts); our child's status is the fallback. A launch
  // stopped after printing its result is judged by that result alone: the signal that stopped it was ours.
  const exit = ending.kind === 'lingered' ? { exitCode: null, signal: null } : (readExitFile(l.dir) ?? ending.exit);
  // Output cut off by a full disk is never a success, nor worth another launch on the same disk.
  const full = await fullDiskResult(o, l, base, exit);
  if (full) await markReported(o, l, full.outcome, true, full);
  if (full) throw crashedFailure(o, l, full.message, true, full);
  const result = await parsedResult(o, l, base, exit);
  if (ending.kind === 'lingered') {
    result.message = `${result.message} — it printed its result but had not exited ${formatDuration(o.project.agent.exitGraceMs)} later ([agent] exit_grace; something it started, such as an MCP server or a background shell, kept it alive), so its processes were stopped`;
  }
  const final = result.outcome !== 'crashed' || launchCount >= MAX_LAUNCHES;
  await markReported(o, l, result.outcome, final, result);
  if (result.outcome === 'crashed') throw crashedFailure(o, l, result.message, final, result);
  return result;
}

type ResultBase = Pick<AgentRunResult, 'durationMs' | 'logPath' | 'pid'>;

/**
 * A stalled launch, once stopped: run once more like a crash (the next attempt launches it again), then
 * reported as `stalled`.
 */
async function stalled(
  o: ResumeOptions,
  l: Launch,
  launchCount: number,
  result: AgentRunResult,
): Promise<AgentRunResult> {
  const final = launchCount >= MAX_LAUNCHES;
  await markReported(o, l, 'stalled', final, result);
  if (!final) throw crashedFailure(o, l, result.message, false, result);
  return result;
}

/**
 * The result of a launch stopped at its timeout or for a stall: the tail of its output, for the reader to see
 * where it was, and what it spent so far.
 */
async function stoppedResult(
  o: ResumeOptions,
  l: Launch,
  base: ResultBase,
  outcome: 'timed_out' | 'stalled',
  ending: Ending,
): Promise<AgentRunResult> {
  const { plan } = o;
  const tail = (await readTail(path.join(l.dir, STDOUT_FILE), 4096)).data.toString('utf8');
  // What it spent before it was stopped, from its event stream (an estimate until a result says it).
  const spent = await progressSoFar(l.dir).catch(() => null);
  const agentKey = `[agent] ${outcome === 'stalled' ? 'stall_timeout' : 'timeout'}`;
  const projectKey = `[projects.${plan.project}.agent]`;
  const message =
    ending.kind === 'stall'
      ? `${plan.project}: agent ${ending.reason}; it was stopped — if a silent step (a long build) is normal here, raise ${agentKey} (or set it in ${projectKey}; "" = off); output in ${l.dir}`
      : `${plan.project}: agent ran longer than its ${formatDuration(plan.timeoutMs)} timeout and was stopped — raise ${agentKey} (or ${projectKey} timeout), or split the task; output in ${l.dir}`;
  return {
    ...base,
    outcome,
    message,
    exitCode: null,
    signal: null,
    costUsd: spent?.costUsd ?? null,
    numTurns: spent?.turn ? spent.turn : null,
    tokens: spent?.tokens ?? null,
    sessionId: spent?.sessionId ?? null,
    subtype: null,
    result: lastLines(tail),
    resultTruncated: true,
    usageLimitResetsAt: null,
  };
}

/** The result of a launch that exited, read by its agent profile's parser from the output files. */
async function parsedResult(o: ResumeOptions, l: Launch, base: ResultBase, exit: AgentExit): Promise<AgentRunResult> {
  const stdoutPath = path.join(l.dir, STDOUT_FILE);
  const whole = await readTail(stdoutPath, PARSE_WHOLE_MAX_BYTES);
  const stdout = whole.headTruncated ? (await readTail(stdoutPath, PARSE_TAIL_BYTES)).data : whole.data;
  const stderr = await readTail(path.join(l.dir, STDERR_FILE), 8192);
  const parsed = parseProfileOutput(o.project.agent.profile, {
    stdout,
    headTruncated: whole.headTruncated,
    stderrTail: stderr.data.toString('utf8'),
    exitCode: exit.exitCode,
    signal: exit.signal,
    project: o.plan.project,
    format: o.project.agent.outputFormat,
    allowPermissionDenials: o.project.agent.allowPermissionDenials,
    now: new Date(),
  });
  const result: AgentRunResult = { ...base, exitCode: exit.exitCode, signal: exit.signal, ...parsed };
  if (result.outcome !== 'succeeded') result.message = `${result.message} (log: ${l.dir})`;
  return result;
}

/** Delivers a launch's final outcome again, exactly as it was first reported. */
export function redeliver(o: ResumeOptions, l: Launch, reported: Reported): AgentRunResult {
  const { project } = o.plan;
  if (reported.outcome === 'cancelled')
    throw new CancelledFailure(`${project}: job cancelled; agent process group ${l.pid} stopped`);
  const result = reported.result ?? bareRunResult('crashed', `${project}: the result recorded in ${l.dir} is lost`);
  if (result.outcome === 'crashed') throw crashedFailure(o, l, result.message, true, result);
  return result;
}

export function crashedFailure(
  o: ResumeOptions,
  l: Launch,
  message: string,
  final: boolean,
  result?: AgentRunResult,
): ApplicationFailure {
  const details =
    result ?? bareRunResult('crashed', message, { durationMs: Date.now() - l.startedAt, logPath: l.dir, pid: l.pid });
  return ApplicationFailure.create({ type: AGENT_CRASHED, message, details: [details], nonRetryable: final });
}

/** The last `n` non-empty lines of an output, without terminal colours. */
export function lastLines(text: string, n = 20): string {
  return stripAnsi(text)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}
