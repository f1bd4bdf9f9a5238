// Every failure type orchestrate's activities and workflows raise (the ApplicationFailure `type`), the
// constructors that raise them, and typed readers for the results some of them carry in their details.
// Workflows, activities and the CLI all read these: a type string is written here and nowhere else. The
// strings are recorded in workflow histories and retry policies, so they never change. Workflow-safe: it
// imports nothing but @temporalio/common.
import { ActivityFailure, ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { AgentRunResult, JobResult } from './types';

/** A project cannot run as configured (missing folder, agent not installed, full disk): never retried. */
export const SETUP_ERROR = 'SetupError';
/** workspaces.toml is invalid or names no such project: never retried. */
export const CONFIG_ERROR = 'ConfigError';
/** The agent died from a signal or never printed a result: launched at most once more. Details: AgentRunResult. */
export const AGENT_CRASHED = 'AgentCrashed';
/** The worker stopped while the agent ran (a deploy): retried, and the next worker adopts the agent. */
export const WORKER_SHUTDOWN = 'WorkerShutdown';
/** A run folder or file could not be written for a reason that may pass (EMFILE, EIO…): retried. */
export const RUN_FOLDER_ERROR = 'RunFolderError';
/** The job's workflow failed with this type; details[0] is the JobResult. */
export const JOB_FAILED = 'AgentJobFailed';
/** A stale activity attempt (its worker froze) left the job to the attempt that took it over: retried. */
export const LEASE_LOST = 'LeaseLost';

export const FAILURE_TYPES = [
  SETUP_ERROR,
  CONFIG_ERROR,
  AGENT_CRASHED,
  WORKER_SHUTDOWN,
  RUN_FOLDER_ERROR,
  JOB_FAILED,
  LEASE_LOST,
] as const;
export type FailureType = (typeof FAILURE_TYPES)[number];

/** Failure types an activity never retries: the config or the project folder must be fixed first. */
export const SETUP_FAILURE_TYPES = [CONFIG_ERROR, SETUP_ERROR] as const;

/**
 * An outcome the user acts on, not a bug: its message says everything, so it carries no stack trace into the
 * history (the Web UI would show orchestrate's internals under the message), and the worker logs it as one line
 * (its log recognises expected failures by the missing stack; real internal errors keep theirs). BENIGN keeps
 * the SDK from logging a failed activity as a warning.
 */
function expected(failure: ApplicationFailure): ApplicationFailure {
  failure.stack = '';
  return failure;
}

export function setupError(message: string): ApplicationFailure {
  return expected(
    ApplicationFailure.create({
      type: SETUP_ERROR,
      message,
      nonRetryable: true,
      category: ApplicationFailureCategory.BENIGN,
    }),
  );
}

export function configError(message: string): ApplicationFailure {
  return expected(
    ApplicationFailure.create({
      type: CONFIG_ERROR,
      message,
      nonRetryable: true,
      category: ApplicationFailureCategory.BENIGN,
    }),
  );
}

/**
 * The same setup failure, carrying the job's result (setup_error, the message as it is) for the workflow to
 * report: what the agent activity throws when it could not render a starter's plan.
 */
export function setupFailureWithResult(failure: ApplicationFailure, result: AgentRunResult): ApplicationFailure {
  return expected(
    ApplicationFailure.create({
      type: failure.type ?? SETUP_ERROR,
      message: failure.message,
      nonRetryable: true,
      category: ApplicationFailureCategory.BENIGN,
      details: [result],
    }),
  );
}

/** A stale attempt's way out: the job belongs to a newer attempt, which reports it; nothing was recorded. */
export function leaseLost(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: LEASE_LOST, message });
}

/** True for a stale attempt's failure (see leaseLost). */
export function isLeaseLost(failure: unknown): boolean {
  return failure instanceof ApplicationFailure && failure.type === LEASE_LOST;
}

/** A job that did not succeed: failed in the Web UI, and its JobResult still reaches callers (CLI, cycle). */
export function jobFailed(job: JobResult): ApplicationFailure {
  return expected(
    ApplicationFailure.create({ type: JOB_FAILED, message: job.message, details: [job], nonRetryable: true }),
  );
}

/** True for a failure (or an activity failure caused by one) of a type an activity never retries. */
export function isSetupFailure(failure: unknown): boolean {
  const cause = failure instanceof ActivityFailure ? failure.cause : failure;
  return cause instanceof ApplicationFailure && (SETUP_FAILURE_TYPES as readonly unknown[]).includes(cause.type);
}

function firstDetail(failure: unknown): Record<string, unknown> | undefined {
  if (!(failure instanceof ApplicationFailure)) return undefined;
  const first: unknown = failure.details?.[0];
  return first && typeof first === 'object' ? (first as Record<string, unknown>) : undefined;
}

/** The AgentRunResult an activity reported with its failure (a crash, a timeout), if it carries one. */
export function reportedRunResult(failure: unknown): AgentRunResult | undefined {
  const first = firstDetail(failure);
  return first?.outcome ? (first as unknown as AgentRunResult) : undefined;
}

/** The JobResult a failed agentJob workflow carries (its failure, or a child workflow's cause), if any. */
export function failedJobResult(failure: unknown): JobResult | undefined {
  if (!(failure instanceof ApplicationFailure) || failure.type !== JOB_FAILED) return undefined;
  return firstDetail(failure) as JobResult | undefined;
}
