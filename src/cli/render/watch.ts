// Live view of a running cycle / EOD / rollover: one line per project, redrawn in place on a terminal (a
// running job's line shows its agent's progress: turn, tool, cost so far); on a pipe, one plain line each
// time a project's status changes.
import type { WorkflowHandle } from '@temporalio/client';
import { batchProgress, pendingAgentHeartbeat } from '../../temporal/client';
import { agentProgressOf, rowFinished, type BatchResult, type BatchRow } from '../../temporal/types';
import { formatElapsed } from '../../lib/duration';
import { progressLine } from '../../lib/agentProgress';
import { BATCH_HEADERS, batchRowCells, renderTable } from './table';
import { sleep } from '../../lib/sleep';

/** The agent's progress of a running row's job, from its activity's heartbeat; null when there is none. */
async function rowProgress(handle: WorkflowHandle, row: BatchRow): Promise<string | null> {
  if (row.status !== 'running' || !row.workflowId) return null;
  try {
    const desc = await handle.client.getHandle(row.workflowId).describe();
    const agent = desc.raw.pendingActivities?.find((a) => a.activityType?.name === 'runAgentJob');
    return agent
      ? progressLine(agentProgressOf(pendingAgentHeartbeat(handle.client, agent.heartbeatDetails)), Date.now(), 100)
      : null;
  } catch {
    return null; // ended since the query
  }
}

async function tableText(handle: WorkflowHandle, result: BatchResult, started: number): Promise<string> {
  const progress = await Promise.all(result.rows.map((r) => rowProgress(handle, r)));
  const cells = result.rows.map((r, i) => {
    const row = batchRowCells(r);
    if (progress[i]) row[row.length - 1] = progress[i];
    return row;
  });
  return `${result.kind} ${result.date} · ${formatElapsed(Date.now() - started)}\n${renderTable(BATCH_HEADERS, cells)}\n`;
}

export async function watchBatch(handle: WorkflowHandle, out: NodeJS.WriteStream, pollMs = 1000): Promise<BatchResult> {
  const tty = Boolean(out.isTTY) && process.env.TERM !== 'dumb';
  const started = Date.now();
  const seen = new Map<string, string>();
  let drawnLines = 0;
  for (;;) {
    const { done, result } = await batchProgress(handle);
    if (result) {
      if (tty) {
        const text = await tableText(handle, result, started);
        if (drawnLines) out.write(`\x1b[${drawnLines}A\x1b[0J`);
        out.write(text);
        drawnLines = text.split('\n').length - 1;
      } else {
        for (const r of result.rows) {
          const key = `${r.status}`;
          if (seen.get(r.project) === key) continue;
          seen.set(r.project, key);
          out.write(`${r.project}: ${r.status}${rowFinished(r) ? ` — ${r.reason}` : ''}\n`);
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
