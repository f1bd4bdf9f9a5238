// Jobs of persistent projects (orchestrator.persistent): instead of a `claude -p` child process, the prompt goes
// into a long-lived interactive agent in the project's tmux session, `<session_prefix><project>` on the
// orchestrator's own tmux socket, which a person can attach to at any time.
//
//   ensure the session  created if missing, in the project folder, running [agent] interactive_command with
//                       `--settings <file>`: a Stop hook that writes a completion marker named after the
//                       nonce of the job in progress. The agent's environment is passed explicitly (tmux
//                       sessions get the tmux server's environment, not ours).
//   wait until ready    the input prompt is drawn, the agent is not busy, and the screen is still.
//   inject              the prompt literally (send-keys -l, never key names), checked to have reached the input
//                       line (a TUI that just started drops keys: typed again); then Enter on its own, pressed
//                       again while the text still sits in the input line.
//   wait                for this job's Stop-hook marker; fallback for agents without hooks: the pane has been
//                       quiet at its idle prompt for idle_seconds. Heartbeats meanwhile.
//   result              the agent's text for this prompt, from the transcript the hook names, else from the pane.
//   timeout / cancel    interrupt the agent (Escape, then C-c), keep the session; timed_out / CancelledFailure.
//   session died        AgentCrashed, retryable once: the next attempt creates the session again; a second death
//                       under the same job is final.
//   worker deployed     (on_shutdown = "detach") the agent is left working; WorkerShutdown (retryable), and the
//                       next attempt of the same job adopts it (job.json in the session folder): it waits for the
//                       same nonce instead of sending the prompt again.
//
// The job moves through the phases of phase.ts (starting → typing → submitting → working); what a stop means
// in each phase is read off that table. Sessions are never killed here, except one whose agent has already
// exited (ensureSession replaces it).
import { ApplicationFailure } from '@temporalio/common';
import type { AgentRunResult } from '../temporal/types';
import { AGENT_CRASHED } from '../temporal/failures';
import { MAX_SESSION_CRASHES, activityAttempt, readJobState, startJob, writeJobState } from './jobState';
import { JobMachine } from './phase';
import { attachCommand, ensureSession, type EnsuredSession } from './projectSession';
import type { JobFacts } from './result';
import { Heartbeat } from './jobHeartbeat';
import { SessionJob, eventLog, type PersistentRunOptions } from './sessionJob';

export type { PersistentRunOptions } from './sessionJob';

export async function runPersistentAgent(opts: PersistentRunOptions): Promise<AgentRunResult> {
  const { config, project } = opts;
  const socket = config.orchestrator.tmuxSocket;
  const event = eventLog(opts.runDir);
  const attempt = activityAttempt();
  const machine = new JobMachine();
  // Heartbeats from the start: creating a session and waiting for its agent take a while.
  const heartbeat = new Heartbeat(opts.heartbeat, socket, machine);
  let ensured: EnsuredSession;
  try {
    ensured = await ensureSession(config, project);
  } catch (e) {
    heartbeat.stop();
    throw e;
  }
  const { session, dir } = ensured;
  heartbeat.session = session;
  const attach = attachCommand(config, session);
  await event(`${ensured.created ? 'created' : 'reusing'} tmux session ${session} on socket ${socket} (${attach})`);

  // An earlier attempt of this same job may have submitted the prompt already (adopt it), or seen the session die.
  const previous = attempt ? await readJobState(dir) : null;
  const start = startJob(previous, attempt?.jobKey ?? null, ensured.created, Date.now());
  const { state } = start;
  if (start.crashedUnwatched) {
    await event(`the session died under an earlier attempt of this job (crash ${state.crashes})`);
    if (state.crashes >= MAX_SESSION_CRASHES) {
      heartbeat.stop();
      state.reported = true;
      await writeJobState(dir, state);
      const message = `${project.name}: tmux session ${session} died under this job ${state.crashes} times, so it is not retried — attach to the new session to look (\`${attach}\`)`;
      throw ApplicationFailure.create({ type: AGENT_CRASHED, message, nonRetryable: true });
    }
  }
  const facts: JobFacts = {
    project,
    idleSeconds: config.orchestrator.idleSeconds,
    session,
    socket,
    attach,
    runDir: opts.runDir,
    prompt: opts.plan.prompt.replace(/\r\n?/g, '\n').replace(/\s+$/, ''),
    nonce: state.nonce,
    startedAt: state.startedAt,
    created: ensured.created,
    adopted: start.adopt,
    panePid: ensured.panePid,
  };
  return new SessionJob(opts, facts, dir, state, start.sameJob, attempt, machine, heartbeat, event).run();
}
