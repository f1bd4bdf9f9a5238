// What every finished (or failed) job leaves behind: a line in the cost ledger, and for a final failure the
// [notify] hook's job_failed event.
import type { Config } from '../config';
import type { AgentRunResult, JobPlan } from '../temporal/types';
import { appendLedger } from './ledger';
import { jobFailedEvent, notify } from './notify';

/** The activity attempt the record belongs to (Temporal's activity info, or its test stand-in). */
export interface JobRecordInfo {
  workflowNamespace?: string;
  workflowExecution?: { workflowId: string; runId: string };
  attempt: number;
}

export async function recordJobOutcome(
  config: Config,
  plan: JobPlan,
  result: Partial<AgentRunResult> & { outcome: AgentRunResult['outcome'] },
  info: JobRecordInfo,
  log: { warn: (msg: string) => void },
  /** final: false = this failure will be retried (no notification yet). */
  opts: { final?: boolean } = {},
): Promise<void> {
  await appendJobLedger(config.orchestrator.stateDir, plan, result, info, log);
  // Job failure → the [notify] hook (bounded; a failing hook is logged, never fails the job).
  const event = jobFailedEvent(config, plan, result, info, opts);
  if (event) await notify(config, event, { log: (m) => log.warn(m) });
}

/** The job's line in the cost ledger, alone (a job stopped by the orphan sweep, or recorded without a config). */
export async function appendJobLedger(
  stateDir: string,
  plan: Pick<JobPlan, 'project' | 'kind'>,
  result: Partial<AgentRunResult> & { outcome: AgentRunResult['outcome'] },
  info: JobRecordInfo,
  log: { warn: (msg: string) => void },
): Promise<void> {
  try {
    await appendLedger(stateDir, {
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
    });
  } catch (e) {
    // The ledger is bookkeeping: losing one line must not fail a job whose agent already ran.
    log.warn(`could not append to the cost ledger: ${(e as Error).message}`);
  }
}
