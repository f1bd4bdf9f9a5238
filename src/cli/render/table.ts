// Plain-text tables for the terminal: the cycle / EOD / rollover result, history, costs.
import { clipAtWord } from '../../lib/clip';
import { formatDuration } from '../../lib/duration';
import { batchCounts, batchRowFailed } from '../../lib/outcomes';
import type { BatchResult, BatchRow } from '../../temporal/types';
import { formatUsd } from './format';

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const clip = clipAtWord;

export function batchRowCells(r: BatchRow): string[] {
  return [
    r.project,
    r.decision,
    r.status,
    r.durationMs !== null ? formatDuration(r.durationMs) : '',
    formatUsd(r.costUsd),
    clip(r.reason.replace(/\s+/g, ' '), 100),
  ];
}

export const BATCH_HEADERS = ['PROJECT', 'DECISION', 'OUTCOME', 'DURATION', 'COST', 'REASON'];

export function renderBatch(result: BatchResult): string {
  const lines = [`${result.kind} ${result.date}`];
  if (result.refused) lines.push(`refused: ${result.refused}`);
  lines.push(renderTable(BATCH_HEADERS, result.rows.map(batchRowCells)));
  const { succeeded, failed, skipped } = batchCounts(result.rows);
  const cost = result.rows.reduce((s, r) => s + (r.costUsd ?? 0), 0);
  lines.push(`${succeeded} succeeded, ${failed} failed, ${skipped} skipped · total $${cost.toFixed(4)}`);
  if (result.digestPath) lines.push(`digest: ${result.digestPath}`);
  return lines.join('\n');
}

/** True when the batch has failures worth a non-zero exit code. */
export function batchFailed(result: BatchResult): boolean {
  return result.rows.some(batchRowFailed);
}
