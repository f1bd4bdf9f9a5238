// The immutable job as Temporal activities: prepareJob resolves and checks everything a job needs;
// runAgentJob runs the agent once in the project's folder (runner/, or persistent/ for a tmux session) and
// records its outcome (ledger line, failure notification).
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { statSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  agentAccountKey,
  jobSettings,
  loadConfig,
  projectOrThrow,
  type Config,
  type ProjectConfig,
} from '../config';
import { resolveExecutable } from '../runner/process';
import { firstLine, renderPrompt } from '../lib/prompts';
import { localDate } from '../lib/dates';
import {
  bareRunResult,
  isStartPlan,
  type AgentHeartbeatWriter,
  type AgentJobInput,
  type AgentRunResult,
  type JobKind,
  type JobPlan,
  type JobStartPlan,
  type RunAgentInput,
} from '../temporal/types';
import {
  configError,
  isLeaseLost,
  isSetupFailure,
  reportedRunResult,
  setupError,
  setupFailureWithResult,
} from '../temporal/failures';
import { jobFailedEvent, notify } from '../lib/notify';
import { installHint } from '../agents/profiles';
import { Semaphore } from '../lib/semaphore';
import { acquireSlot, resumeAttempt, resumeOptionsFrom, runAttempt, type AttemptContext } from '../runner/attempt';
import {
  agentEnv,
  agentInvocation,
  agentScrubber,
  crashResumeArgs,
  promptDelivery,
  runBaseDir,
} from '../runner/invocation';
import type { WorkerAccountHolds } from '../runner/accountHolds';
import { heldAcrossRunsResult } from './accountHold';
import { createRunFolder, readJobRecord } from '../runner/runFolder';
import { attemptContext } from './attemptContext';
import { appendJobLedger, failureWithRecordProblem, recordJobOutcome, withRecordProblem } from '../lib/jobRecord';
import { scrubDeep, scrubFailure } from '../lib/scrub';
import { MissingSkillError, readSkills, withSkills } from '../lib/skills';
import { runPersistentAgent } from '../persistent/job';

export interface AgentJobDeps {
  /** Config file the worker was started with (every activity re-reads it, so edits apply to the next job). */
  configPath?: string;
  /** Caps agent processes running at once on this worker. */
  agentSlots: Semaphore;
  /** Accounts this worker knows to be at their usage limit or not logged in: their next jobs start no agent. */
  accountHolds: WorkerAccountHolds;
  /**
   * The state folder of the config the worker started with: where a running job's run folder is looked for
   * when today's config file cannot be read (adopting or collecting an agent never needs it).
   */
  stateDir?: string;
}

export async function loadConfigOrFail(configPath?: string): Promise<Config> {
  try {
    return await loadConfig(configPath);
  } catch (e) {
    if (e instanceof ConfigError) throw configError(e.messageWithoutExcerpt);
    throw e;
  }
}

export function projectOrFail(config: Config, name: string): ProjectConfig {
  try {
    return projectOrThrow(config, name);
  } catch (e) {
    if (e instanceof ConfigError) throw configError(e.messageWithoutExcerpt);
    throw e;
  }
}

/**
 * The agent job's activities, bound to the worker's config path and agent slots. Long because it is a closure
 * holding the activities (each under 80 lines), as the worker registers them, not one function's logic.
 */
export function createAgentJobActivities(deps: AgentJobDeps) {
  /** A job that was started without its plan (by an older starter): its plan, checked and rendered. */
  async function prepareJob(input: AgentJobInput): Promise<JobPlan> {
    const config = await loadConfigOrFail(deps.configPath);
    const project = projectOrFail(config, input.project);
    const day = input.date ?? localDate(new Date(), config.orchestrator.timezone);
    const { prompt, promptFirstLine } = await checkedPrompt(config, project, project.path, {
      kind: input.kind,
      date: day,
      prompt: input.prompt,
    });
    return {
      project: project.name,
      kind: input.kind,
      path: project.path,
      prompt,
      promptFirstLine,
      timeoutMs: project.agent.timeoutMs,
      ...jobSettings(config),
      timezone: config.orchestrator.timezone,
      persistent: project.persistent,
      host: project.host,
      account: agentAccountKey(project, process.env),
      resume: project.agent.resume && !project.persistent,
    };
  }

  async function runAgentJob(input: RunAgentInput): Promise<AgentRunResult> {
    const ctx = Context.current();
    const given = input.plan;
    let config: Config;
    let project: ProjectConfig;
    let plan: JobPlan;
    // The account's hold (a job of another run hit its usage limit) is read while the job is set up.
    let holdRead: Promise<AgentRunResult | null> = Promise.resolve(null);
    try {
      config = await loadConfigOrFail(deps.configPath);
      project = projectOrFail(config, given.project);
      holdRead = heldAcrossRunsResult(ctx, { project: project.name, account: planAccount(project, given) });
      plan = isStartPlan(given) ? await renderedPlan(config, project, given) : given;
    } catch (e) {
      if (!isSetupFailure(e)) throw e;
      // Only a new launch needs today's config (and the prompt rendered from it): an agent already running is
      // adopted or collected anyway.
      const failure = isStartPlan(given)
        ? setupFailureWithResult(e as ApplicationFailure, bareRunResult('setup_error', (e as Error).message))
        : (e as Error);
      if (given.persistent) throw await announcedSetupFailure(input, failure);
      return resumeWithoutConfig(input, failure).catch(async (thrown: unknown) => {
        throw thrown === failure ? await announcedSetupFailure(input, failure) : thrown;
      });
    }
    const baseDir = runBaseDir(config, plan, input.runKey);
    // A redelivered outcome was recorded (ledger, notification) by the attempt that first reported it.
    let redelivered = false;
    // Every text about the job that leaves the worker is scrubbed of the agent's secrets.
    const scrub = agentScrubber(project);
    const attempt = attemptContext(deps, ctx, plan, attemptAnnounces(given));
    const learn = (result: AgentRunResult) => deps.accountHolds.note(plan, input.batchId, result, Date.now());
    const heartbeat: AgentHeartbeatWriter = (d) => attempt.heartbeat(scrubDeep(d, scrub));
    const attemptCtx: AttemptContext = {
      ...attempt,
      heartbeat,
      onRedeliver: () => (redelivered = true),
      heldBeforeLaunch: async () =>
        deps.accountHolds.heldResult(plan, input.batchId, Date.now()) ?? stillHeld(await holdRead, Date.now()),
      learn,
    };
    const execution = ctx.info.workflowExecution;
    // The kill switch: projects listed in orchestrator.persistent run in their long-lived tmux session.
    const run = project.persistent
      ? () =>
          runPersistentAttempt({
            config,
            project,
            plan,
            baseDir,
            heartbeat,
            holdRead,
            learn,
            acquireSlot: attempt.acquireSlot,
            heldBeforeLaunch: async () => (await attemptCtx.heldBeforeLaunch?.()) ?? null,
          })
      : async () =>
          runAttempt(
            {
              config,
              project,
              plan,
              baseDir,
              scrub,
              ...(await agentInvocation({ config, project, plan }, baseDir, input.resumeSessionId)),
              env: agentEnv(project, plan, baseDir, input.workflowId),
              job: execution && { workflowId: execution.workflowId, runId: execution.runId },
              resumeArgs: crashResumeArgs(project.agent, plan),
            },
            attemptCtx,
          );
    const result = await run().catch(async (e: unknown) => {
      // A stale attempt records nothing: the attempt that took the job over does.
      if (redelivered || isLeaseLost(e)) throw scrubFailure(e, scrub);
      const details = reportedRunResult(e);
      let problem: string | null = null;
      if (e instanceof CancelledFailure)
        problem = await recordJobOutcome(config, plan, { outcome: 'cancelled' }, ctx.info, ctx.log, { scrub });
      // A crash that will be launched again is not final: no failure notification for it yet.
      else if (details)
        problem = await recordJobOutcome(config, plan, details, ctx.info, ctx.log, {
          final: (e as ApplicationFailure).nonRetryable ?? undefined,
          scrub,
        });
      throw scrubFailure(failureWithRecordProblem(e, problem), scrub);
    });
    // No agent ran: nothing to record, and the job that hit the account's limit (or login) told the user.
    if (result.notLaunched) return result;
    // A transient API error the workflow will retry is not news yet (job_failed comes when retries run out).
    const retried = result.transient === true && (input.transientRetriesLeft ?? 0) > 0;
    const problem = redelivered
      ? null
      : await recordJobOutcome(config, plan, result, ctx.info, ctx.log, { final: !retried, scrub });
    return scrubDeep(withRecordProblem(result, problem), scrub);
  }

  /**
   * runAgentJob while today's config file is invalid (or lost the project): the job's last launch is adopted,
   * collected or delivered again with the settings its run folder recorded; a new launch fails with the
   * config's error. Its outcome is recorded with the config of that moment, if it is valid again by then.
   */
  async function resumeWithoutConfig(input: RunAgentInput, configFailure: Error): Promise<AgentRunResult> {
    const ctx = Context.current();
    // Adopting, collecting or delivering again an earlier launch never sends the prompt.
    const plan: JobPlan = isStartPlan(input.plan) ? { ...input.plan, prompt: '' } : input.plan;
    if (!deps.stateDir) throw configFailure;
    const baseDir = runBaseDir({ orchestrator: { stateDir: deps.stateDir } }, plan, input.runKey);
    const record = readJobRecord(baseDir);
    if (!record) throw configFailure;
    ctx.log.warn(
      `${plan.project}: the config file cannot be used (${configFailure.message}); carrying on with the agent this job already launched, as recorded in ${baseDir}`,
    );
    let redelivered = false;
    const attemptCtx = {
      ...attemptContext(deps, ctx, plan, attemptAnnounces(input.plan)),
      onRedeliver: () => (redelivered = true),
    };
    const record_ = async (result: Parameters<typeof recordJobOutcome>[2], final?: boolean) => {
      const config = await loadConfigOrFail(deps.configPath).catch(() => null);
      if (config) await recordJobOutcome(config, plan, result, ctx.info, ctx.log, { final });
      else await appendJobLedger(record.stateDir, plan, result, ctx.info, ctx.log);
    };
    const result = await resumeAttempt(resumeOptionsFrom(record, plan, baseDir), attemptCtx, configFailure).catch(
      async (e: unknown) => {
        if (redelivered || isLeaseLost(e) || e === configFailure) throw e;
        const details = reportedRunResult(e);
        if (e instanceof CancelledFailure) await record_({ outcome: 'cancelled' });
        else if (details) await record_(details, (e as ApplicationFailure).nonRetryable ?? undefined);
        throw e;
      },
    );
    const retried = result.transient === true && (input.transientRetriesLeft ?? 0) > 0;
    if (!redelivered) await record_(result, !retried);
    return result;
  }

  /** A starter's plan as the agent runs with it: the project checked and the prompt rendered, on its worker. */
  async function renderedPlan(config: Config, project: ProjectConfig, given: JobStartPlan): Promise<JobPlan> {
    const { date, promptOverride, firstWaveOf: _firstWave, ...settings } = given;
    // The folder is this worker's: a project pinned to a host has its checkout where that host's config says, not
    // where the starter's config (the CLI's, or the shared worker's snapshot) says.
    const { prompt } = await checkedPrompt(config, project, project.path, {
      kind: given.kind,
      date,
      prompt: promptOverride,
    });
    return { ...settings, path: project.path, account: planAccount(project, given), prompt };
  }

  /**
   * A job started with its plan that cannot run (its setup failed, and no earlier launch is left to adopt): the
   * [notify] hook hears job_failed, as for a job whose prepareJob activity failed. Best effort.
   */
  async function announcedSetupFailure(input: RunAgentInput, failure: Error): Promise<Error> {
    if (!isStartPlan(input.plan)) return failure;
    const ctx = Context.current();
    const config = await loadConfigOrFail(deps.configPath).catch(() => null);
    const event = config && jobFailedEvent(config, input.plan, bareRunResult('setup_error', failure.message), ctx.info);
    if (config && event) await notify(config, event, { log: (m) => ctx.log.warn(m) });
    return failure;
  }

  return { prepareJob, runAgentJob };
}

/**
 * The account a job's agent runs with. A starter's plan carries none: this worker's own holds key accounts with
 * its environment, as prepareJob did.
 */
function planAccount(project: ProjectConfig, given: JobPlan | JobStartPlan): JobPlan['account'] {
  return isStartPlan(given) ? agentAccountKey(project, process.env) : given.account;
}

/** What the attempt tells others of the job: its pid (a job that ran prepareJob), its slot (a first-wave job). */
function attemptAnnounces(given: JobPlan | JobStartPlan): Parameters<typeof attemptContext>[3] {
  return isStartPlan(given) ? { announceStart: false, firstWaveOf: given.firstWaveOf } : { announceStart: true };
}

/** A result of the account's hold that still holds at `nowMs` (it was read before a wait for an agent slot). */
function stillHeld(held: AgentRunResult | null, nowMs: number): AgentRunResult | null {
  return held?.heldAcrossRuns && Date.parse(held.heldAcrossRuns.until) > nowMs ? held : null;
}

/**
 * Checks that the project can run here (its folder, its agent command, its inline skills) and renders the
 * job's prompt for its kind and day, skills included. Every problem is a setup error: never retried.
 */
async function checkedPrompt(
  config: Config,
  project: ProjectConfig,
  dir: string,
  job: { kind: JobKind; date: string; prompt?: string },
): Promise<{ prompt: string; promptFirstLine: string }> {
  const where = `[projects.${project.name}] path in ${config.configPath}`;
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw setupError(`${project.name}: project path ${dir} does not exist — fix ${where}, or clone the repo there`);
  }
  if (!st.isDirectory()) throw setupError(`${project.name}: project path ${dir} is not a directory — fix ${where}`);
  const exe = await resolveExecutable(project.agent.command, dir, project.agent.env.PATH ?? process.env.PATH);
  if (!exe) {
    const hint = installHint(project.agent.command, project.name);
    throw setupError(
      `${project.name}: agent command "${project.agent.command}" not found on the worker's PATH — ${hint}`,
    );
  }
  const prompt = renderPrompt(
    job.kind,
    {
      prompt: project.prompt,
      eodPrompt: project.eodPrompt,
      rolloverPrompt: project.rolloverPrompt,
      monthPrompt: config.rollover.monthPrompt,
      worklogPath: project.worklogPath,
    },
    job.date,
    job.prompt,
  );
  let skills;
  try {
    skills = await readSkills(dir, project.inlineSkills);
  } catch (e) {
    if (e instanceof MissingSkillError) {
      throw setupError(`${project.name}: ${e.message} — fix [projects.${project.name}] inline_skills`);
    }
    throw e;
  }
  const fullPrompt = withSkills(prompt, skills);
  if (!project.persistent) promptDelivery(project, fullPrompt); // a prompt that cannot be passed fails here
  return { prompt: fullPrompt, promptFirstLine: firstLine(prompt) };
}

/**
 * A persistent project's job: one turn in its long-lived tmux session, in this attempt's run folder. Its first
 * attempt is a new turn, which the account's hold holds (`holdRead`); a later one may find its turn running.
 */
async function runPersistentAttempt(o: {
  config: Config;
  project: ProjectConfig;
  plan: JobPlan;
  baseDir: string;
  heartbeat: AgentHeartbeatWriter;
  holdRead: Promise<AgentRunResult | null>;
  /** Told the turn's result while its slot is still held (see AttemptContext.learn). */
  learn: (result: AgentRunResult) => void;
  /** One of the worker's agent slots (the attempt's: a first-wave job tells its batch it has one). */
  acquireSlot: () => Promise<() => void>;
  /** The account's hold as known once the slot is held (see AttemptContext.heldBeforeLaunch). */
  heldBeforeLaunch: () => Promise<AgentRunResult | null>;
}): Promise<AgentRunResult> {
  const ctx = Context.current();
  const held = ctx.info.attempt === 1 ? stillHeld(await o.holdRead, Date.now()) : null;
  if (held) return held;
  const runDir = path.join(o.baseDir, `attempt-${ctx.info.attempt}`);
  await createRunFolder(o, runDir);
  const release = await acquireSlot({
    heartbeat: (d) => ctx.heartbeat(d),
    cancelSignal: ctx.cancellationSignal,
    acquireSlot: o.acquireSlot,
  });
  try {
    // The job that freed this slot may have just hit the account's limit or failed to log in: no new turn then.
    const heldNow = ctx.info.attempt === 1 ? await o.heldBeforeLaunch() : null;
    if (heldNow) return heldNow;
    const { config, project, plan, heartbeat } = o;
    const result = await runPersistentAgent({
      config,
      project,
      plan,
      runDir,
      heartbeat,
      cancelSignal: ctx.cancellationSignal,
    });
    o.learn(result);
    return result;
  } finally {
    release();
  }
}
