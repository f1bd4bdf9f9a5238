// One attempt of a persistent job in its session, as a state machine over the phases of phase.ts: type the
// prompt (or adopt the one an earlier attempt typed), submit it, wait for completion, and on an early stop do
// what the phase calls for. Every wait goes through PaneWatch, which checks the job's guard on each poll.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { formatDuration } from '../lib/duration';
import type { AgentHeartbeatWriter, AgentRunResult, JobPlan } from '../temporal/types';
import { AGENT_CRASHED, WORKER_SHUTDOWN, setupError } from '../temporal/failures';
import { MAX_SESSION_CRASHES, writeJobState, type ActivityAttempt, type JobState } from './jobState';
import type { Heartbeat } from './jobHeartbeat';
import { PaneWatch, Stop } from './paneWatch';
import { TranscriptProgress } from './progress';
import type { JobMachine } from './phase';
import { tmuxFor } from './projectSession';
import { writeJobResult, type Completion, type JobFacts } from './result';
import { inputView, isIdle, parseScreen, type Screen } from './screen';
import {
  exists,
  exitStatusPath,
  deniedPath,
  markerPath,
  promptMarkerPath,
  readDenials,
  readExitStatus,
  STOP_FAILURE_MIN_VERSION,
  readMarker,
  removeMarkers,
  writeNonce,
  type Marker,
} from './sessionFiles';
import type { Tmux } from './tmux';

export interface PersistentRunOptions {
  config: Config;
  project: ProjectConfig;
  plan: JobPlan;
  /** Run folder, already created: the transcript/capture files go there. */
  runDir: string;
  heartbeat: AgentHeartbeatWriter;
  /** Abort = cancel the job. */
  cancelSignal: AbortSignal;
}

/**
 * How long past its deadline a job's nonce still stands: enough for the job to interrupt its agent and report. Later,
 * the hooks treat it as `idle` (see writeNonce).
 */
const NONCE_MARGIN_MS = 60_000;
/** The input prompt must have been on a still screen this long before we type. */
const READY_STABLE_MS = 300;
/** A TUI that has just started often draws its prompt before it takes input: a longer look the first time. */
const NEW_SESSION_STABLE_MS = 1000;
/** Typed text must show up within this long; else the TUI dropped it and it is typed again. */
const TYPE_ECHO_MS = 1000;
const TYPED_SETTLE_MS = 200;
/** After Enter: the prompt must have left the input line within this long, else Enter is pressed again. */
const ENTER_CHECK_MS = 1000;
const MAX_ENTER_ATTEMPTS = 5;
const INTERRUPT_WAIT_MS = 3000;
/** Claude Code's dialog for a settings file it rejects as a whole (it names the file, then the bad keys). */
const SETTINGS_ERROR_RE = /Settings Error[\s\S]*Invalid key/;
/** Scrollback read for the pane capture kept in the run folder (and the result, without a transcript). */
const CAPTURE_HISTORY_LINES = 5000;

export type EventLog = (what: string) => Promise<void>;

export function eventLog(runDir: string): EventLog {
  const file = path.join(runDir, 'events.log');
  return async (what) => {
    await fs.appendFile(file, `${new Date().toISOString()} ${what}\n`).catch(() => undefined);
  };
}

/** One attempt of a job in its (ensured) session, from typing the prompt to the result. */
export class SessionJob {
  private readonly tmux: Tmux;
  private readonly watch: PaneWatch;
  private readonly deadline: number;
  private readonly markerFile: string;
  private marker: Marker | null = null;
  private completion: Completion = 'hook';
  private readonly progress: TranscriptProgress;
  /** Why the job stopped as stalled. */
  private stall = '';
  /** Left working for the next worker: the nonce stays, so its Stop hook still marks this job. */
  private detached = false;

  constructor(
    private readonly opts: PersistentRunOptions,
    private readonly facts: JobFacts,
    private readonly dir: string,
    private readonly state: JobState,
    /** An earlier attempt of this job ran in this session. */
    private readonly sameJob: boolean,
    private readonly attempt: ActivityAttempt | null,
    private readonly machine: JobMachine,
    private readonly heartbeat: Heartbeat,
    private readonly event: EventLog,
  ) {
    this.tmux = tmuxFor(opts.config);
    this.deadline = facts.startedAt + opts.plan.timeoutMs;
    this.markerFile = markerPath(dir, state.nonce);
    this.watch = new PaneWatch(
      this.tmux,
      facts.session,
      () => this.guard(),
      () => heartbeat.beat(),
    );
    this.progress = new TranscriptProgress(
      promptMarkerPath(dir, state.nonce),
      facts.prompt,
      opts.project.agent.stallTimeoutMs,
      facts.startedAt,
      Date.now(),
    );
    heartbeat.watch = this.watch;
    heartbeat.pid = facts.panePid;
    heartbeat.progress = this.progress;
  }

  async run(): Promise<AgentRunResult> {
    const { project, session, attach } = this.facts;
    try {
      await writeJobState(this.dir, this.state);
      if (this.facts.adopted) await this.adoptPrompt();
      else await this.typePrompt();
      if (this.machine.phase === 'submitting' && !(await this.submit())) {
        return await this.finish(
          'agent_error',
          `${project.name}: the prompt was typed into tmux session ${session} but Enter did not submit it (${MAX_ENTER_ATTEMPTS} tries) — attach to look (\`${attach}\`)`,
        );
      }
      await this.awaitCompletion();
      if (this.completion === 'idle') {
        const submitted = await exists(promptMarkerPath(this.dir, this.state.nonce));
        // Its hooks ran when the prompt went in, so a turn that ended would have run Stop (or StopFailure).
        if (submitted) {
          return await this.finish(
            'agent_error',
            `${project.name}: the agent in tmux session ${session} went back to its idle prompt without running its Stop hook, so its turn did not finish (interrupted at the session with Escape?) — attach to look (\`${attach}\`); screen in ${this.facts.runDir}/pane.log`,
          );
        }
        const noTurn = this.slashCommandWithoutTurn();
        if (noTurn) return await this.finish('agent_error', noTurn);
      }
      return await this.finish('succeeded');
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      return await this.stopped(e.reason);
    } finally {
      this.heartbeat.stop();
      if (!this.detached) await writeNonce(this.dir, 'idle').catch(() => undefined);
    }
  }

  /** Throws Stop when the job must end early: cancelled, past its timeout, or the session is gone. */
  private async guard(): Promise<void> {
    if (this.opts.cancelSignal.aborted) {
      // A deploy (on_shutdown = "detach"): leave the agent working; the next attempt adopts it.
      const detach = this.attempt?.workerShutdown() && this.opts.config.orchestrator.onShutdown === 'detach';
      throw new Stop(detach ? 'detach' : 'cancel');
    }
    if (Date.now() >= this.deadline) throw new Stop('timeout');
    if (await exists(exitStatusPath(this.dir))) throw new Stop('died');
    if (this.machine.phase === 'working') {
      const stalled = await this.progress.look(this.watch.lastScreen, Date.now());
      if (stalled) {
        this.stall = stalled;
        throw new Stop('stalled');
      }
    }
  }

  /**
   * Idle at its input prompt. A Claude Code that rejected the settings holding orchestrate's hooks shows its
   * "Settings Error" dialog instead, for good: that fails the job at once rather than at its timeout. Only a
   * screen without an input prompt is that dialog: an answer on screen may well quote its words.
   */
  private readyForInput(s: Screen): boolean {
    if (s.inputAt === null && SETTINGS_ERROR_RE.test(s.text)) {
      const { project, session, attach } = this.facts;
      throw setupError(
        `${project.name}: Claude Code in tmux session ${session} rejected orchestrate's settings ("Settings Error" on screen; look: \`${attach}\`) — its StopFailure hook needs Claude Code ${STOP_FAILURE_MIN_VERSION} or later: upgrade it on this worker host, then end the session (\`${this.killSession()}\`) so the next job starts a new one`,
      );
    }
    return isIdle(s);
  }

  /**
   * The TUI reads a prompt starting with `/` as a slash command; one it does not know (or a built-in one such as
   * `/clear`) starts no model turn, so its UserPromptSubmit hook never runs and the pane goes quiet at the idle
   * prompt, which is otherwise how a TUI without hooks says it is done. Why that is no success (asked only once
   * no prompt marker came), or null.
   */
  private slashCommandWithoutTurn(): string | null {
    const command = /^\/\S+/.exec(this.facts.prompt)?.[0];
    if (!command) return null;
    const { project, session, attach, runDir } = this.facts;
    // What the TUI said of it ("● Unknown command: /x"), from the words on.
    const unknown = new RegExp(`Unknown command: ${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w/-]).*`);
    const said = this.watch.lastScreen?.text
      .split('\n')
      .map((l) => unknown.exec(l)?.[0].trim())
      .filter((l) => l !== undefined)
      .at(-1);
    return `${project.name}: the TUI in tmux session ${session} read the prompt as the slash command ${command} and started no model turn${said ? ` (on screen: "${said}")` : ''} — a persistent job's prompt is typed into the TUI: write it without the leading /, or, for a custom command, check the session knows it (commands load when it starts: end it, \`${this.killSession()}\`, and the next job starts a new one); look: \`${attach}\`, screen in ${runDir}/pane.log`;
  }

  /** The command that ends this job's session, so that the next job starts a new one. */
  private killSession(): string {
    return `tmux -L ${this.facts.socket} kill-session -t ${this.facts.session}`;
  }

  /** The prompt still sits in the input line, unsent. */
  private unsent(s: Screen): boolean {
    return !s.busy && this.state.typedView !== null && inputView(s) === this.state.typedView;
  }

  /** An earlier attempt pressed Enter: from the screen, either Enter is still to be taken, or it was. */
  private async adoptPrompt(): Promise<void> {
    const s = await this.watch.capture();
    const waitsInInput = this.unsent(s) && !(await exists(this.markerFile));
    this.machine.to(waitsInInput ? 'submitting' : 'working');
    await this.event(
      `adopting the job an earlier attempt started (nonce ${this.state.nonce}): ${waitsInInput ? 'its prompt is still in the input line' : 'its prompt was submitted'}`,
    );
  }

  /**
   * Types the prompt once the agent is ready; a TUI that is not ready yet drops it, so it is checked to have
   * arrived (and typed again only while the input line still shows what it showed before: never twice).
   */
  private async typePrompt(): Promise<void> {
    const { tmux, watch, state, dir } = this;
    const { session, prompt, created } = this.facts;
    // An earlier attempt may have left part of the prompt in the input line.
    if (this.sameJob && !created) await tmux.sendKeys(session, 'C-u');
    let empty: string | null = null;
    for (let n = 1; ; n++) {
      // Only at a recognisable input prompt: text typed into anything else (a dialog asking to trust the folder,
      // a menu) would answer it.
      const before = await watch.waitStable(n === 1 && created ? NEW_SESSION_STABLE_MS : READY_STABLE_MS, (s) =>
        this.readyForInput(s),
      );
      if (empty === null) empty = inputView(before);
      else if (inputView(before) !== empty) break; // it arrived late
      if (n === 1) {
        // Only now is the job's the next turn: a turn still running before it (a person's, or one an interrupt
        // did not stop) would mark this job done with its own Stop hook, and have its tool uses refused.
        await removeMarkers(dir);
        await writeNonce(dir, state.nonce, this.deadline + NONCE_MARGIN_MS);
        this.machine.to('typing');
      }
      await tmux.sendLiteral(session, prompt);
      const arrived = await watch.pollFor(TYPE_ECHO_MS, (s) => (inputView(s) !== empty ? s : null));
      if (arrived) break;
      await this.event(`typed text did not appear (attempt ${n}): the agent was not ready yet; typing again`);
    }
    state.typedView = inputView(await watch.waitStable(TYPED_SETTLE_MS));
    state.enterPressed = true;
    await writeJobState(dir, state);
    this.machine.to('submitting');
    await this.event(`prompt typed (${prompt.length} characters)`);
  }

  /** Enter on its own, again while the text still sits in the input line. False: never taken. */
  private async submit(): Promise<boolean> {
    for (let n = 1; n <= MAX_ENTER_ATTEMPTS; n++) {
      await this.tmux.sendKeys(this.facts.session, 'Enter');
      const taken = await this.watch.pollFor(ENTER_CHECK_MS, async (s) =>
        (await exists(this.markerFile)) || !this.unsent(s) ? true : null,
      );
      if (taken) {
        this.machine.to('working');
        await this.event('prompt submitted; waiting for the Stop hook');
        return true;
      }
      await this.event(`Enter not taken (attempt ${n}): the prompt is still in the input line`);
    }
    return false;
  }

  /** This job's marker; or, for agents without the hook, a quiet pane at the idle prompt. */
  private async awaitCompletion(): Promise<void> {
    const { idleSeconds } = this.facts;
    this.completion = await this.watch.pollStill<Completion>(async (s, stillMs) => {
      if ((this.marker = await readMarker(this.markerFile))) return 'hook';
      return isIdle(s) && !this.unsent(s) && stillMs >= idleSeconds * 1000 ? 'idle' : null;
    });
    await this.event(
      this.completion === 'hook' ? 'Stop hook fired' : `pane quiet at the idle prompt for ${idleSeconds}s`,
    );
  }

  /** The job stopped early: a result (timeout), or the failure to throw. */
  private async stopped(reason: Stop['reason']): Promise<AgentRunResult> {
    const { project, session, attach, runDir } = this.facts;
    if (reason === 'died') return this.died();
    if (reason === 'detach') return this.detach();
    await this.stopAgent();
    if (reason === 'cancel' && this.attempt?.workerShutdown()) return this.killedByShutdown();
    if (reason === 'cancel') {
      await this.finish(
        'cancelled',
        `${project.name}: job cancelled; the agent in tmux session ${session} was interrupted`,
      );
      throw new CancelledFailure(
        `${project.name}: job cancelled; the agent in tmux session ${session} was interrupted (the session is kept)`,
      );
    }
    if (reason === 'stalled') {
      return await this.finish(
        'stalled',
        `${project.name}: agent in tmux session ${session} ${this.stall}; it was interrupted (the session is kept: \`${attach}\`) — raise [agent] stall_timeout (or [projects.${project.name}.agent] stall_timeout) above its longest silent step, or set it to "" to turn it off; screen in ${runDir}/pane.log`,
      );
    }
    const timeout = formatDuration(this.opts.plan.timeoutMs);
    if (this.machine.rules.waitingForAgent) {
      return await this.finish(
        'timed_out',
        `${project.name}: the agent in tmux session ${session} did not show an idle input prompt within the ${timeout} timeout, so the prompt was not sent — it may be busy, or waiting for an answer (a dialog): attach and look (\`${attach}\`); screen in ${runDir}/pane.log`,
      );
    }
    return await this.finish(
      'timed_out',
      `${project.name}: agent ran longer than its ${timeout} timeout in tmux session ${session} and was interrupted (the session is kept: \`${attach}\`) — raise [agent] timeout (or [projects.${project.name}.agent] timeout), or split the task; screen in ${runDir}/pane.log`,
    );
  }

  /** The session ended mid-job: AgentCrashed, retryable until MAX_SESSION_CRASHES under this job. */
  private async died(): Promise<never> {
    const { project, session, runDir } = this.facts;
    const { state } = this;
    state.crashes++;
    const final = this.attempt !== null && state.crashes >= MAX_SESSION_CRASHES;
    const status = await readExitStatus(this.dir);
    const why =
      status !== null
        ? `the agent exited (status ${status})`
        : 'the session was closed (killed, or its tmux server stopped)';
    const next = final
      ? `it happened ${state.crashes} times, so the job is not retried`
      : 'the job is retried once and the next attempt starts a new session';
    const result = await this.finish(
      'crashed',
      `${project.name}: tmux session ${session} ended mid-job: ${why} — ${next}; last screen in ${runDir}/pane.log`,
    );
    throw ApplicationFailure.create({
      type: AGENT_CRASHED,
      message: result.message,
      details: [result],
      nonRetryable: final,
    });
  }

  /** on_shutdown = "detach": the agent is left as it is for the next attempt (WorkerShutdown, retryable). */
  private async detach(): Promise<never> {
    const { project, session } = this.facts;
    this.detached = true;
    // Typed but Enter not pressed: cleared, the next attempt types it again. Otherwise the next attempt adopts.
    if (this.machine.rules.onStop === 'clear') await this.tmux.sendKeys(session, 'C-u').catch(() => undefined);
    const left = this.state.enterPressed
      ? 'working for the next worker to adopt'
      : 'idle; the next attempt sends the prompt';
    await this.event(`worker shutting down: the agent is left ${left}`);
    throw ApplicationFailure.create({
      type: WORKER_SHUTDOWN,
      message: `${project.name}: worker shut down; the agent in tmux session ${session} was left ${left}`,
    });
  }

  /**
   * on_shutdown = "kill": the server never asked for a cancel, so this is no CancelledFailure but a retryable
   * failure; the job is marked done with here, and the next attempt sends the prompt again.
   */
  private async killedByShutdown(): Promise<never> {
    const { project, session } = this.facts;
    this.state.reported = true;
    await writeJobState(this.dir, this.state).catch(() => undefined);
    await this.event(
      'worker shutting down (on_shutdown = "kill"): the agent was interrupted; the next attempt sends the prompt again',
    );
    throw ApplicationFailure.create({
      type: WORKER_SHUTDOWN,
      message: `${project.name}: worker shut down with on_shutdown = "kill": the agent in tmux session ${session} was interrupted; the next worker runs the job again`,
    });
  }

  /** Interrupts the agent (typed but unsent text is cleared instead). Never kills the session. */
  private async stopAgent(): Promise<void> {
    const { tmux, watch } = this;
    const { session } = this.facts;
    const action = this.machine.rules.onStop;
    try {
      // Right after Enter the prompt may or may not have gone: the screen tells.
      const pending =
        action === 'clear' ||
        (action === 'clear-or-interrupt' &&
          this.unsent(parseScreen(await tmux.capturePane(session))) &&
          !(await exists(this.markerFile)));
      if (pending) {
        await tmux.sendKeys(session, 'C-u');
        await this.event('cleared the unsent prompt from the input line');
      } else if (action !== 'none') {
        await tmux.sendKeys(session, 'Escape');
        await this.event('interrupted the agent (Escape)');
        if (!(await watch.settlesIdle(INTERRUPT_WAIT_MS))) {
          await tmux.sendKeys(session, 'C-c');
          await this.event('still busy: interrupted again (C-c)');
          await watch.settlesIdle(INTERRUPT_WAIT_MS);
        }
      }
    } catch (err) {
      await this.event(`could not interrupt: ${(err as Error).message}`);
    }
  }

  /** Marks the job reported, keeps the whole pane, and returns (and logs) its result. */
  private async finish(outcome: AgentRunResult['outcome'], message?: string): Promise<AgentRunResult> {
    this.state.reported = true;
    await writeJobState(this.dir, this.state).catch(() => undefined);
    let pane = '';
    try {
      pane = await this.tmux.capturePane(this.facts.session, { historyLines: CAPTURE_HISTORY_LINES });
    } catch {
      pane = this.watch.lastScreen?.text ?? '';
    }
    const result = await writeJobResult(this.facts, {
      outcome,
      message,
      pane,
      marker: this.marker,
      denials: await readDenials(deniedPath(this.dir, this.state.nonce)),
      completion: this.completion,
      promptMayBeSent: this.machine.rules.promptMayBeSent,
    });
    await this.event(`${result.outcome}: ${result.message}`);
    return result;
  }
}
