// A batch's result table and how the Web UI shows it: one row per project, a headline, a markdown table.
import type { BatchKind, BatchRow, GateDecision } from '../../temporal/types';

/** The table a batch starts from: a row per decision, pending when it runs, skipped when it does not. */
export function rowsFor(decisions: GateDecision[]): BatchRow[] {
  return decisions.map((d) => ({
    project: d.project,
    decision: d.decision,
    status: d.decision === 'run' ? 'pending' : 'skipped',
    reason: d.reason,
    durationMs: null,
    costUsd: null,
    numTurns: null,
    workflowId: null,
    logPath: null,
  }));
}

/** A gate could not decide, or the job ran and did not succeed. */
export function rowFailed(r: BatchRow): boolean {
  return r.decision === 'error' || (r.status !== 'succeeded' && r.status !== 'skipped');
}

/** The final headline: how many succeeded, failed and were skipped. */
export function finishedHeadline(rows: BatchRow[]): string {
  const count = (status: BatchRow['status']) => rows.filter((r) => r.status === status).length;
  return `finished: ${count('succeeded')} succeeded, ${rows.filter(rowFailed).length} failed, ${count('skipped')} skipped`;
}

/** The batch's current details in the Web UI: a headline and one table row per project (Temporal markdown). */
export function progressDetails(
  kind: BatchKind,
  date: string,
  rows: BatchRow[],
  running: number,
  phases: Map<string, string>,
  headline?: string,
): string {
  const done = rows.filter((r) => r.status !== 'pending' && r.status !== 'running').length;
  const cell = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 100);
  const shown = rows.slice(0, 50);
  const lines = [
    `**${kind} ${date}** · ${headline ?? `${done}/${rows.length} done, ${running} running`}`,
    '',
    '| project | status | detail |',
    '| --- | --- | --- |',
    ...shown.map((r) => `| ${cell(r.project)} | ${cell(phases.get(r.project) ?? r.status)} | ${cell(r.reason)} |`),
  ];
  if (rows.length > shown.length) lines.push('', `… and ${rows.length - shown.length} more (see the progress query)`);
  return lines.join('\n');
}

/** A succeeded job's row shows the first line of its answer, capped. */
export function firstLineOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}
