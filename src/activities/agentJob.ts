// The immutable job runner (the seed's run_job + _run_cli) as Temporal activities: prepareJob resolves
// and checks everything a job needs, runAgentJob runs the agent once in the project's folder.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, projectOrThrow, type Config, type ProjectConfig } from '../config';
import { resolveExecutable } from '../agent/process';
import { firstLine, renderPrompt } from '../prompts';
import { localDate } from '../dates';
import { appendLedger } from '../ledger';
import {
  CONFIG_ERROR,
  SETUP_ERROR,
  type AgentJobInput,
  type AgentRunResult,
  type JobPlan,
  type RunAgentInput,
} from '../shared';
import { Semaphore } from '../semaphore';
import { runAttempt } from './runner';

export interface AgentJobDeps {
  /** Config file the worker was started with (every activity re-reads it, so edits apply to the next job). */
  configPath?: string;
  /** Caps agent processes running at once on this worker. */
  agentSlots: Semaphore;
}

export async function loadConfigOrFail(configPath?: string): Promise<Config> {
  try {
    return await loadConfig(configPath);
  } catch (e) {
    if (e instanceof ConfigError)
      throw ApplicationFailure.create({ type: CONFIG_ERROR, message: e.message, nonRetryable: true });
    throw e;
  }
}

export function projectOrFail(config: Config, name: string): ProjectConfig {
  try {
    return projectOrThrow(config, name);
  } catch (e) {
    if (e instanceof ConfigError)
      throw ApplicationFailure.create({ type: CONFIG_ERROR, message: e.message, nonRetryable: true });
    throw e;
  }
}

function setupError(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: SETUP_ERROR, message, nonRetryable: true });
}

/** Substitutes `{prompt}` inside each argument; the prompt stays one argv entry, never shell-parsed. */
export function buildArgs(args: string[], prompt: string): string[] {
  return args.map((a) => a.split('{prompt}').join(prompt));
}

export function createAgentJobActivities(deps: AgentJobDeps) {
  async function prepareJob(input: AgentJobInput): Promise<JobPlan> {
    const config = await loadConfigOrFail(deps.configPath);
    const project = projectOrFail(config, input.project);
    const where = `[projects.${project.name}] path in ${config.configPath}`;
    let st;
    try {
      st = statSync(project.path);
    } catch {
      throw setupError(
        `${project.name}: project path ${project.path} does not exist — fix ${where}, or clone the repo there`,
      );
    }
    if (!st.isDirectory())
      throw setupError(`${project.name}: project path ${project.path} is not a directory — fix ${where}`);
    const exe = await resolveExecutable(
      project.agent.command,
      project.path,
      project.agent.env.PATH ?? process.env.PATH,
    );
    if (!exe) {
      const hint =
        path.basename(project.agent.command) === 'claude'
          ? 'install Claude Code (npm install -g @anthropic-ai/claude-code) on this worker host, or set [agent] command to its full path'
          : 'install it on this worker host, or set [agent] command (or [projects.' +
            project.name +
            '.agent] command) to its full path';
      throw setupError(
        `${project.name}: agent command "${project.agent.command}" not found on the worker's PATH — ${hint}`,
      );
    }
    const day = input.date ?? localDate(new Date(), config.orchestrator.timezone);
    const prompt = renderPrompt(
      input.kind,
      {
        prompt: project.prompt,
        eodPrompt: project.eodPrompt,
        rolloverPrompt: project.rolloverPrompt,
        monthPrompt: config.rollover.monthPrompt,
        worklogPath: project.worklogPath,
      },
      day,
      input.prompt,
    );
    return {
      project: project.name,
      kind: input.kind,
      path: project.path,
      prompt,
      promptFirstLine: firstLine(prompt),
      timeoutMs: project.agent.timeoutMs,
      killGraceMs: config.orchestrator.killGraceMs,
      heartbeatTimeoutMs: config.orchestrator.heartbeatTimeoutMs,
      usageLimitMarginMs: config.orchestrator.usageLimitMarginMs,
      usageLimitBackoffMs: config.orchestrator.usageLimitBackoffMs,
      timezone: config.orchestrator.timezone,
      persistent: project.persistent,
      host: project.host,
    };
  }

  async function runAgentJob(input: RunAgentInput): Promise<AgentRunResult> {
    const ctx = Context.current();
    const { plan } = input;
    const config = await loadConfigOrFail(deps.configPath);
    const project = projectOrFail(config, plan.project);
    const baseDir = path.join(config.orchestrator.stateDir, 'runs', plan.project, input.runKey);
    const env: Record<string, string> = {
      ...project.agent.env,
      ORCHESTRATE_PROJECT: plan.project,
      ORCHESTRATE_JOB_KIND: plan.kind,
      ORCHESTRATE_RUN_DIR: baseDir,
      ORCHESTRATE_WORKFLOW_ID: input.workflowId,
    };
    const result = await runAttempt(
      { config, project, plan, baseDir, args: buildArgs(project.agent.args, plan.prompt), env },
      {
        attempt: ctx.info.attempt,
        heartbeat: (d) => ctx.heartbeat(d),
        cancelSignal: ctx.cancellationSignal,
        isWorkerShutdown: () => ctx.cancellationDetails?.workerShutdown ?? false,
        acquireSlot: () => deps.agentSlots.acquire(),
        log: (m) => ctx.log.info(m),
      },
    ).catch(async (e: unknown) => {
      const details = e instanceof ApplicationFailure ? (e.details?.[0] as AgentRunResult | undefined) : undefined;
      if (e instanceof CancelledFailure) await record(config, plan, { outcome: 'cancelled' });
      else if (details?.outcome) await record(config, plan, details);
      throw e;
    });
    await record(config, plan, result);
    return result;
  }

  return { prepareJob, runAgentJob };
}

async function record(
  config: Config,
  plan: JobPlan,
  result: Partial<AgentRunResult> & { outcome: AgentRunResult['outcome'] },
) {
  try {
    await appendLedger(config.orchestrator.stateDir, {
      finishedAt: new Date().toISOString(),
      project: plan.project,
      kind: plan.kind,
      outcome: result.outcome,
      costUsd: result.costUsd ?? null,
      numTurns: result.numTurns ?? null,
      durationMs: result.durationMs ?? null,
      logPath: result.logPath ?? null,
    });
  } catch (e) {
    // The ledger is bookkeeping: losing one line must not fail a job whose agent already ran.
    Context.current().log.warn(`could not append to the cost ledger: ${(e as Error).message}`);
  }
}
