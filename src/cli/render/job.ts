// One job's result as `orchestrate run` prints it: a head line, the message of a failure, the agent's answer,
// and where to look further.
import { formatDuration } from '../../lib/duration';
import type { JobResult } from '../../temporal/types';
import { formatCost } from './format';

export function formatJobResult(r: JobResult, uiUrl: string): string {
  const head = [
    `${r.project} · ${r.outcome}`,
    r.durationMs ? formatDuration(r.durationMs) : null,
    formatCost(r.costUsd),
    r.numTurns !== null ? `${r.numTurns} turns` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  const lines = [head];
  if (r.outcome !== 'succeeded') lines.push(r.message);
  else if (r.recordProblem) lines.push(`warning: ${r.recordProblem}`);
  if (r.result)
    lines.push(
      '',
      r.result.trimEnd() + (r.resultTruncated ? '\n… (truncated; full output in the log folder)' : ''),
      '',
    );
  if (r.logPath) lines.push(`log: ${r.logPath}`);
  lines.push(`web: ${uiUrl}`);
  return lines.join('\n');
}

/** What `run --json` prints: the result's fields a script needs, plus the Web UI link. */
export function jobResultJson(r: JobResult, webUrl: string): string {
  return JSON.stringify({
    workflowId: r.workflowId,
    project: r.project,
    outcome: r.outcome,
    exitCode: r.exitCode,
    durationMs: r.durationMs,
    costUsd: r.costUsd,
    numTurns: r.numTurns,
    sessionId: r.sessionId,
    logPath: r.logPath,
    result: r.result,
    message: r.message,
    recordProblem: r.recordProblem ?? null,
    webUrl,
  });
}
