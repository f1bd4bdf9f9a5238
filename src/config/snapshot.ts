// What workflows may know of the config (ConfigSnapshot): no whole prompts, no env values. The batch's
// snapshotConfig activity takes it on the worker; the CLI takes one project's to pass a job its plan.
import type { ConfigSnapshot, JobSettings } from '../temporal/types';
import { DEFAULT_TRANSIENT_BACKOFF_MS } from '../temporal/limits';
import { firstLine } from '../lib/prompts';
import { agentAccountKey } from './account';
import type { Config, ProjectConfig } from './types';

/** The config as a batch's workflow sees it; accounts are keyed with the worker's environment. */
export function configSnapshot(config: Config, workerEnv: Record<string, string | undefined>): ConfigSnapshot {
  return {
    timezone: config.orchestrator.timezone,
    concurrency: config.orchestrator.concurrency,
    taskQueue: config.orchestrator.taskQueue,
    hostWaitMs: config.orchestrator.hostWaitMs,
    jobSettings: jobSettings(config),
    projects: Object.values(config.projects).map((p) => projectSnapshot(p, workerEnv)),
  };
}

export function jobSettings(config: Config): JobSettings {
  return {
    killGraceMs: config.orchestrator.killGraceMs,
    heartbeatTimeoutMs: config.orchestrator.heartbeatTimeoutMs,
    usageLimitMarginMs: config.orchestrator.usageLimitMarginMs,
    usageLimitBackoffMs: config.orchestrator.usageLimitBackoffMs,
    transientBackoffMs: config.orchestrator.transientBackoffMs ?? DEFAULT_TRANSIENT_BACKOFF_MS,
  };
}

/**
 * One project as a snapshot holds it. Its account is keyed with the environment of the worker that runs its jobs
 * (credentials it inherits count): without one (the CLI), the snapshot holds no account.
 */
export function projectSnapshot(
  p: ProjectConfig,
  workerEnv: Record<string, string | undefined> | null,
): ConfigSnapshot['projects'][number] {
  return {
    name: p.name,
    enabled: p.enabled,
    host: p.host,
    persistent: p.persistent,
    // For the Web UI's static details of the jobs a batch starts: first lines only, never whole prompts.
    path: p.path,
    promptFirstLines: {
      cycle: firstLine(p.prompt),
      eod: firstLine(p.eodPrompt),
      rollover: firstLine(p.rolloverPrompt),
    },
    worklogPath: p.worklogPath,
    ...(workerEnv ? { account: agentAccountKey(p, workerEnv) } : {}),
    timeoutMs: p.agent.timeoutMs,
    resume: p.agent.resume,
  };
}
