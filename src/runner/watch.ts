// Watching one running launch: heartbeats with its progress, its timeout, a stall, the exit grace after its
// result, a cancel or a deploy; what a stop means; and the attempt the server no longer knows, which walks away.
import path from 'node:path';
import { finish, type Ending } from './outcome';
import type { AgentExit } from './process';
import { LaunchMonitor } from './liveProgress';
import { jobContainment, stopJob, type JobContainment } from './containment';
import { watchExitGrace } from './exitGrace';
import { STDOUT_FILE, launchAlive, readExitFile, type Launch } from './runFolder';
import type { AgentRunResult } from '../temporal/types';
import { leaseLost } from '../temporal/failures';
import { CANCEL_GRACE_MS, HEARTBEAT_EVERY_MS, type AttemptContext, type ResumeOptions } from './attempt';

/** The job's containment: its marker and cgroup, named by its run key (the run folder's name). */
export function containmentOf(o: ResumeOptions): JobContainment {
  return jobContainment(o.plan.project, path.basename(o.baseDir));
}

/** Heartbeats while the launch runs; stops it on timeout or cancel; leaves it running on a deploy. */
export async function watch(
  o: ResumeOptions,
  ctx: AttemptContext,
  l: Launch,
  ownExit: Promise<AgentExit> | null,
  launchCount: number,
): Promise<AgentRunResult> {
  const { plan } = o;
  const job = containmentOf(o);
  const onShutdown = o.config.orchestrator.onShutdown;
  let stop: 'timeout' | 'stall' | 'cancel' | 'detach' | 'lingered' | 'lost' | null = null;
  let stallReason = '';
  let killing: Promise<void> = Promise.resolve();
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (wake = r));
  const held = () => !o.lease || o.lease.held();
  const requestStop = (why: NonNullable<typeof stop>, graceMs: number) => {
    if (stop) return;
    // A stale attempt never signals the agent: the attempt that took the job over enforces its timeout.
    stop = why !== 'detach' && !held() ? 'lost' : why;
    if (stop !== 'detach' && stop !== 'lost') killing = stopJob(job, l.pid, graceMs);
    wake();
  };
  const stdoutPath = path.join(l.dir, STDOUT_FILE);
  // Once it printed its complete result, an agent that does not exit is stopped after [agent] exit_grace.
  const exitGrace = watchExitGrace(stdoutPath, o.project.agent, `${plan.project}: agent pid ${l.pid}`, ctx.log, () =>
    requestStop('lingered', Math.min(plan.killGraceMs, CANCEL_GRACE_MS)),
  );
  const timer = setTimeout(
    () => requestStop(exitGrace.resultPrinted() ? 'lingered' : 'timeout', plan.killGraceMs),
    Math.max(0, l.startedAt + plan.timeoutMs - Date.now()),
  );
  const onAbort = () => {
    if (ctx.isWorkerShutdown()) {
      // A deploy: by default the agent keeps running and the next worker adopts it.
      if (onShutdown === 'detach') requestStop('detach', 0);
      else requestStop('cancel', Math.min(plan.killGraceMs, CANCEL_GRACE_MS));
    } else if (ctx.isLeaseLost?.()) requestStop('lost', 0);
    else requestStop('cancel', Math.min(plan.killGraceMs, CANCEL_GRACE_MS));
  };
  if (ctx.cancelSignal.aborted) onAbort();
  ctx.cancelSignal.addEventListener('abort', onAbort);
  const beat = heartbeatProgress(o, ctx, l, (reason) => {
    stallReason = reason;
    requestStop('stall', plan.killGraceMs);
  });

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
  // 'lost': the server no longer knows this attempt (see leftByTheServer).
  let ending: Ending | { kind: 'lost' };
  try {
    const first = await Promise.race([
      exited.then((exit) => ({ kind: 'exited' as const, exit })),
      stopped.then(() => null),
    ]);
    if (stop === 'detach' || stop === 'lost') {
      ending = { kind: stop };
    } else if (stop) {
      await killing;
      await exited;
      ending = stop === 'stall' ? { kind: 'stall', reason: stallReason } : { kind: stop };
    } else {
      ending = first ?? { kind: 'exited', exit: await exited };
      // The agent is gone; anything it left running goes too, in its group or escaped from it (jobs are immutable).
      if (held()) await stopJob(job, l.pid, 0);
    }
  } finally {
    clearTimeout(timer);
    exitGrace.stop();
    beat.stop();
    ctx.cancelSignal.removeEventListener('abort', onAbort);
  }
  if (ending.kind === 'lost') return leftByTheServer(o, ctx, l, launchCount);
  return finish(o, l, launchCount, ending, ctx.isWorkerShutdown());
}

/**
 * Heartbeats the launch's progress (its output so far, read off its event stream), and calls `onStall` once
 * it has written nothing for the project's stall_timeout.
 */
function heartbeatProgress(
  o: ResumeOptions,
  ctx: AttemptContext,
  l: Launch,
  onStall: (reason: string) => void,
): { stop: () => void } {
  const monitor = new LaunchMonitor(l.dir, l.startedAt, o.project.agent.stallTimeoutMs);
  let looking = false;
  let stalled = false;
  const beat = setInterval(() => {
    if (looking) return; // a slow disk: one look at a time
    looking = true;
    void monitor
      .look()
      .then(({ heartbeat, stalled: reason }) => {
        ctx.heartbeat({ pid: l.pid, ...heartbeat });
        if (reason && !stalled) {
          stalled = true;
          ctx.log(`${o.plan.project}: agent pid ${l.pid} ${reason}; stopping it`);
          onStall(reason);
        }
      })
      .catch((e: unknown) => ctx.log(`${o.plan.project}: cannot read the agent's output in ${l.dir}: ${String(e)}`))
      .finally(() => (looking = false));
  }, HEARTBEAT_EVERY_MS);
  ctx.heartbeat({ pid: l.pid, bytes: 0, lastLine: '' });
  return { stop: () => clearInterval(beat) };
}

/**
 * The server no longer knows this attempt. If its job is closed (terminated while this worker ran it) and no
 * newer attempt claimed it, the agent is stopped and reported cancelled, as a cancel would; otherwise the job
 * belongs to the attempt that took it over, and this one leaves the agent and the run folder alone.
 */
async function leftByTheServer(
  o: ResumeOptions,
  ctx: AttemptContext,
  l: Launch,
  launchCount: number,
): Promise<AgentRunResult> {
  const closed = (await ctx.jobClosed?.().catch(() => false)) ?? false;
  if (closed && (!o.lease || o.lease.held()) && launchAlive(l)) {
    ctx.log(`${o.plan.project}: the job was closed while its agent ran; stopping agent process group ${l.pid}`);
    await stopJob(containmentOf(o), l.pid, Math.min(o.plan.killGraceMs, CANCEL_GRACE_MS));
    return finish(o, l, launchCount, { kind: 'cancel' });
  }
  ctx.log(
    `${o.plan.project}: this attempt (${ctx.attempt}) is no longer current — its worker was stopped or cut off longer than heartbeat_timeout — so it leaves agent pid ${l.pid} to the attempt that took the job over`,
  );
  throw leaseLost(
    `${o.plan.project}: attempt ${ctx.attempt} is no longer current; agent pid ${l.pid} left to the attempt that took the job over`,
  );
}
