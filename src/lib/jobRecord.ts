// What every finished (or failed) job leaves behind: a line in the cost ledger, and for a final failure the
// [notify] hook's job_failed event. Both are scrubbed of the job's secrets here, their one way out.
import { ApplicationFailure } from '@temporalio/common';
import path from 'node:path';
import type { Config } from '../config';
import type { AgentRunResult, JobPlan } from '../temporal/types';
import { appendLedger } from './ledger';
import { jobFailedEvent, notify } from './notify';
import { scrubDeep, scrubKeyShapes, type Scrubber } from './scrub';

/** The activity attempt the record belongs to (Temporal's activity info, or its test stand-in). */
export interface JobRecordInfo {
  workflowNamespace?: string;
  workflowExecution?: { workflowId: string; runId: string };
  attempt: number;
}

/**
 * Appends the job's ledger line and sends its failure notification. Returns what could not be recorded (the
 * ledger line, on a full or read-only disk), for the job's result to say; null when all was recorded.
 */
export async function recordJobOutcome(
  config: Config,
  plan: Pick<JobPlan, 'project' | 'kind'>,
  result: Partial<AgentRunResult> & { outcome: AgentRunResult['outcome'] },
  info: JobRecordInfo,
  log: { warn: (msg: string) => void },
  /**
   * final: false = this failure will be retried (no notification yet). scrub: the job's secrets. correction:
   * the job's earlier line is replaced by this one (a verdict reached after its agent ended).
   */
  opts: { final?: boolean; scrub?: Scrubber; correction?: boolean } = {},
): Promise<string | null> {
  const scrub = opts.scrub ?? scrubKeyShapes;
  const problem = await appendJobLedger(config.orchestrator.stateDir, plan, result, info, log, {
    scrub,
    correction: opts.correction,
  });
  // Job failure → the [notify] hook (bounded; a failing hook is logged, never fails the job).
  const event = jobFailedEvent(config, plan, result, info, opts);
  if (event) await notify(config, event, { log: (m) => log.warn(m), scrub });
  return problem;
}

/**
 * The job's line in the cost ledger, alone (also for a job stopped by the orphan sweep, or recorded without a
 * config). Returns what could not be written, for the job's result to say; null when it was written.
 */
export async function appendJobLedger(
  stateDir: string,
  plan: Pick<JobPlan, 'project' | 'kind'>,
  result: Partial<AgentRunResult> & { outcome: AgentRunResult['outcome'] },
  info: JobRecordInfo,
  log: { warn: (msg: string) => void },
  opts: { scrub?: Scrubber; correction?: boolean } = {},
): Promise<string | null> {
  try {
    const entry = {
      finishedAt: new Date().toISOString(),
      project: plan.project,
      kind: plan.kind,
      outcome: result.outcome,
      costUsd: result.costUsd ?? null,
      numTurns: result.numTurns ?? null,
      durationMs: result.durationMs ?? null,
      logPath: result.logPath ?? null,
      tokens: result.tokens ?? null,
      workflowId: info.workflowExecution?.workflowId,
      runId: info.workflowExecution?.runId,
      attempt: info.attempt,
      message: result.outcome === 'succeeded' ? null : (result.message ?? null),
      ...(opts.correction ? { correction: true } : {}),
    };
    await appendLedger(stateDir, scrubDeep(entry, opts.scrub ?? scrubKeyShapes));
    return null;
  } catch (e) {
    // The agent already ran: its outcome stands, and the job's result says what is missing.
    const err = e as NodeJS.ErrnoException;
    const problem =
      `the job's line could not be written to the cost ledger in ${path.join(stateDir, 'ledger')} ` +
      `(${err.code ?? 'error'}: ${err.message}), so \`history\`, \`costs\` and the digest miss it — make ` +
      `orchestrator.state_dir (${stateDir}) writable and check free disk space`;
    log.warn(`${plan.project}: ${problem}`);
    return problem;
  }
}

/** The job's result with what could not be recorded about it (see recordJobOutcome). */
export function withRecordProblem<T extends Partial<AgentRunResult>>(result: T, problem: string | null): T {
  if (!problem) return result;
  return { ...result, recordProblem: problem, message: result.message ? `${result.message}; ${problem}` : problem };
}

/** The activity's failure with what could not be recorded about the job, in its message and its result. */
export function failureWithRecordProblem(e: unknown, problem: string | null): unknown {
  if (!problem) return e;
  if (!(e instanceof ApplicationFailure)) {
    if (e instanceof Error) e.message = `${e.message}; ${problem}`;
    return e;
  }
  const [first, ...rest] = e.details ?? [];
  const details = first && typeof first === 'object' ? [withRecordProblem(first, problem), ...rest] : e.details;
  return ApplicationFailure.create({
    type: e.type ?? undefined,
    message: `${e.message}; ${problem}`,
    nonRetryable: e.nonRetryable ?? undefined,
    details: details ?? undefined,
    nextRetryDelay: e.nextRetryDelay ?? undefined,
    cause: e.cause,
  });
}
