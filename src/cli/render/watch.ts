// Live view of a running cycle / EOD / rollover: one line per project, redrawn in place on a terminal;
// on a pipe, one plain line each time a project's status changes.
import type { WorkflowHandle } from '@temporalio/client';
import { batchProgress } from '../../temporal/client';
import type { BatchResult } from '../../temporal/types';
import { formatElapsed } from '../../lib/duration';
import { BATCH_HEADERS, batchRowCells, renderTable } from './table';
import { sleep } from '../../lib/sleep';

export async function watchBatch(handle: WorkflowHandle, out: NodeJS.WriteStream, pollMs = 1000): Promise<BatchResult> {
  const tty = Boolean(out.isTTY) && process.env.TERM !== 'dumb';
  const started = Date.now();
  const seen = new Map<string, string>();
  let drawnLines = 0;
  for (;;) {
    const { done, result } = await batchProgress(handle);
    if (result) {
      if (tty) {
        const text = `${result.kind} ${result.date} · ${formatElapsed(Date.now() - started)}\n${renderTable(BATCH_HEADERS, result.rows.map(batchRowCells))}\n`;
        if (drawnLines) out.write(`\x1b[${drawnLines}A\x1b[0J`);
        out.write(text);
        drawnLines = text.split('\n').length - 1;
      } else {
        for (const r of result.rows) {
          const key = `${r.status}`;
          if (seen.get(r.project) === key) continue;
          seen.set(r.project, key);
          out.write(
            `${r.project}: ${r.status}${r.status === 'pending' || r.status === 'running' ? '' : ` — ${r.reason}`}\n`,
          );
        }
      }
    }
    if (done && result) {
      if (tty && drawnLines) out.write(`\x1b[${drawnLines}A\x1b[0J`);
      return result;
    }
    await sleep(pollMs);
  }
}
