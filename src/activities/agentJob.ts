// The immutable job runner (the seed's run_job + _run_cli) as Temporal activities: prepareJob resolves
// and checks everything a job needs, runAgentJob runs the agent once in the project's folder.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, projectOrThrow, type Config, type ProjectConfig } from '../config';
import { formatDuration } from '../duration';
import { parseAgentOutput, stripAnsi } from '../agent/result';
import { killGroup, readTail, resolveExecutable, signalGroup, groupAlive, startAgentProcess } from '../agent/process';
import { firstLine, renderPrompt } from '../prompts';
import { localDate } from '../dates';
import { appendLedger } from '../ledger';
import {
  AGENT_CRASHED,
  CONFIG_ERROR,
  SETUP_ERROR,
  type AgentJobInput,
  type AgentRunResult,
  type JobPlan,
  type RunAgentInput,
} from '../shared';
import { Semaphore } from '../semaphore';

/** How often a running job reports progress; cancellation is noticed on the next one. */
const HEARTBEAT_EVERY_MS = 500;
/** stdout up to this size is parsed whole; beyond it only the tail is read (the result comes last). */
const PARSE_WHOLE_MAX_BYTES = 8 * 1024 * 1024;
const PARSE_TAIL_BYTES = 1024 * 1024;
/** Cancellation must leave no process behind within 2 s, so its SIGKILL comes sooner than a timeout's. */
const CANCEL_GRACE_MS = 1000;

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
      persistent: project.persistent,
      host: project.host,
    };
  }

  async function runAgentJob(input: RunAgentInput): Promise<AgentRunResult> {
    const ctx = Context.current();
    const { plan } = input;
    const config = await loadConfigOrFail(deps.configPath);
    const project = projectOrFail(config, plan.project);
    const runDir = path.join(
      config.orchestrator.stateDir,
      'runs',
      plan.project,
      input.runKey,
      `attempt-${ctx.info.attempt}`,
    );
    try {
      await fs.mkdir(runDir, { recursive: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw setupError(
        `${plan.project}: cannot create the run folder ${runDir} (${err.code ?? err.message}) — make orchestrator.state_dir (${config.orchestrator.stateDir}) writable and check free disk space`,
      );
    }
    const stdoutPath = path.join(runDir, 'stdout.log');
    const stderrPath = path.join(runDir, 'stderr.log');

    // Wait for a free agent slot on this worker, still heartbeating so cancellation gets through.
    const waitBeat = setInterval(() => ctx.heartbeat({ phase: 'waiting for a free agent slot' }), HEARTBEAT_EVERY_MS);
    let release: () => void;
    try {
      release = await Promise.race([deps.agentSlots.acquire(), ctx.cancelled]);
    } finally {
      clearInterval(waitBeat);
    }

    try {
      return await runInSlot();
    } finally {
      release();
    }

    async function runInSlot(): Promise<AgentRunResult> {
      const started = Date.now();
      const env: Record<string, string> = {
        ...project.agent.env,
        ORCHESTRATE_PROJECT: plan.project,
        ORCHESTRATE_JOB_KIND: plan.kind,
        ORCHESTRATE_RUN_DIR: runDir,
        ORCHESTRATE_WORKFLOW_ID: input.workflowId,
      };
      const child = startAgentProcess({
        command: project.agent.command,
        args: buildArgs(project.agent.args, plan.prompt),
        cwd: plan.path,
        env,
        stdoutPath,
        stderrPath,
      });
      if (child.pid <= 0) {
        throw setupError(`${plan.project}: could not start "${project.agent.command}" — check it is executable`);
      }
      await fs.writeFile(
        path.join(runDir, 'run.json'),
        JSON.stringify(
          {
            pid: child.pid,
            command: project.agent.command,
            cwd: plan.path,
            startedAt: new Date(started).toISOString(),
            workflowId: input.workflowId,
          },
          null,
          2,
        ),
      );

      let stopReason: 'timeout' | 'cancel' | null = null;
      let killing: Promise<void> | null = null;
      const stop = (reason: 'timeout' | 'cancel', graceMs: number) => {
        if (stopReason) return;
        stopReason = reason;
        killing = killGroup(child.pid, graceMs);
      };
      const timer = setTimeout(() => stop('timeout', plan.killGraceMs), plan.timeoutMs);
      const onCancel = () => stop('cancel', Math.min(plan.killGraceMs, CANCEL_GRACE_MS));
      ctx.cancellationSignal.addEventListener('abort', onCancel);
      const beat = setInterval(() => {
        void progress(stdoutPath, stderrPath).then((p) => ctx.heartbeat({ pid: child.pid, ...p }));
      }, HEARTBEAT_EVERY_MS);
      ctx.heartbeat({ pid: child.pid, bytes: 0, lastLine: '' });

      let exit;
      try {
        exit = await child.exited;
        if (killing) await killing;
        // The agent is gone; anything it left running in its group goes too (jobs are immutable).
        if (groupAlive(child.pid)) signalGroup(child.pid, 'SIGKILL');
      } finally {
        clearTimeout(timer);
        clearInterval(beat);
        ctx.cancellationSignal.removeEventListener('abort', onCancel);
      }
      const durationMs = Date.now() - started;
      await fs.writeFile(
        path.join(runDir, 'exit.json'),
        JSON.stringify({ ...exit, finishedAt: new Date().toISOString() }),
      );

      const base = { exitCode: exit.exitCode, signal: exit.signal, durationMs, logPath: runDir, pid: child.pid };
      if (stopReason === 'cancel') {
        await record(config, plan, { ...base, outcome: 'cancelled' });
        throw new CancelledFailure(`${plan.project}: job cancelled; agent process group ${child.pid} stopped`);
      }
      if (stopReason === 'timeout') {
        const result: AgentRunResult = {
          ...base,
          outcome: 'timed_out',
          message: `${plan.project}: agent ran longer than its ${formatDuration(plan.timeoutMs)} timeout and was stopped — raise [agent] timeout (or [projects.${plan.project}.agent] timeout), or split the task; output in ${runDir}`,
          costUsd: null,
          numTurns: null,
          sessionId: null,
          subtype: null,
          result: lastLines(await readTail(stdoutPath, 4096).then((t) => t.data.toString('utf8'))),
          resultTruncated: true,
          usageLimitResetsAt: null,
        };
        await record(config, plan, result);
        return result;
      }

      const out = await readTail(stdoutPath, PARSE_WHOLE_MAX_BYTES);
      const stdout = out.headTruncated ? (await readTail(stdoutPath, PARSE_TAIL_BYTES)).data : out.data;
      const stderr = await readTail(stderrPath, 8192);
      const parsed = parseAgentOutput({
        stdout,
        headTruncated: out.headTruncated,
        stderrTail: stderr.data.toString('utf8'),
        exitCode: exit.exitCode,
        signal: exit.signal,
        project: plan.project,
        format: project.agent.outputFormat,
        now: new Date(),
      });
      const result: AgentRunResult = { ...base, ...parsed };
      if (result.outcome !== 'succeeded') result.message = `${result.message} (log: ${runDir})`;
      await record(config, plan, result);
      if (result.outcome === 'crashed') {
        throw ApplicationFailure.create({ type: AGENT_CRASHED, message: result.message, details: [result] });
      }
      return result;
    }
  }

  return { prepareJob, runAgentJob };
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
