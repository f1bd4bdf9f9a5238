// A batch's result table and how the Web UI shows it: one row per project, a headline, a markdown table.
import { rowFinished, waitsInItsJob, type BatchKind, type BatchRow, type GateDecision } from '../../temporal/types';
import { clipAtWord } from '../../lib/clip';
import { batchCounts } from '../../lib/outcomes';

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

/** The final headline: how many succeeded, failed and were skipped; each row counts once (lib/outcomes.ts). */
export function finishedHeadline(rows: BatchRow[], cancelled = false): string {
  const { succeeded, failed, skipped } = batchCounts(rows);
  return `${cancelled ? 'cancelled' : 'finished'}: ${succeeded} succeeded, ${failed} failed, ${skipped} skipped`;
}

/**
 * The batch's current details in the Web UI: a headline and one table row per project (Temporal markdown);
 * `gating` projects still wait for their gates.
 */
export function progressDetails(
  kind: BatchKind,
  date: string,
  rows: BatchRow[],
  running: number,
  phases: Map<string, string>,
  headline?: string,
  gating = 0,
): string {
  const done = rows.filter(rowFinished).length;
  const waiting = rows.filter(waitsInItsJob).length;
  const runs = `${running - waiting} running${waiting ? `, ${waiting} waiting for usage-limit reset` : ''}`;
  const cell = (s: string) => clipAtWord(s.replace(/\s+/g, ' ').trim(), 100).replace(/\|/g, '\\|');
  const shown = rows.slice(0, 50);
  const lines = [
    `**${kind} ${date}** · ${headline ?? `${done}/${rows.length} done, ${runs}${gating ? `, ${gating} at their gates` : ''}`}`,
    '',
    '| project | status | detail |',
    '| --- | --- | --- |',
    ...shown.map((r) => `| ${cell(r.project)} | ${cell(phases.get(r.project) ?? r.status)} | ${cell(r.reason)} |`),
  ];
  if (rows.length > shown.length) lines.push('', `… and ${rows.length - shown.length} more (see the progress query)`);
  return lines.join('\n');
}

/** A succeeded job's row shows the first line of its answer, capped at a word boundary. */
export function firstLineOf(text: string): string {
  return clipAtWord(text.split('\n').find((l) => l.trim()) ?? '', 160);
}
