// P4: cancel latency.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { groupMembers } from '../src/runner/processGroup';
import { jobResult, startJob } from '../src/temporal/client';
import { median, processGroupOf, round, sleep, startOrchestrator, type BenchBase } from './lib';
import { QUICK_PROMPT } from './p1';
import type { Params } from './params';

/** The fake agent's pid, from the marker file it writes once it runs (`[marker]` in the prompt). */
export async function agentPid(marker: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      // The file can exist before its content is written: retry until it parses.
      return (JSON.parse(readFileSync(marker, 'utf8')) as { pid: number }).pid;
    } catch {
      if (Date.now() > deadline) throw new Error(`P4: the agent never started (no ${marker})`);
      await sleep(5);
    }
  }
}

export async function p4(base: BenchBase, q: Params['p4']) {
  const orch = await startOrchestrator(base, { name: 'p4', projects: 1, prompt: QUICK_PROMPT, concurrency: 4 });
  try {
    const project = orch.projects[0];
    const cwd = orch.projectPath(project);
    const marker = path.join(cwd, '.fake-claude-marker');
    const variants = [
      { name: 'agent exits on SIGTERM', prompt: '[marker] [scenario:slow:600] bench: cancel me' },
      { name: 'agent ignores SIGTERM (SIGKILL after grace)', prompt: '[marker] [scenario:hang] bench: cancel me' },
    ];
    const out = [];
    for (const v of variants) {
      const goneMs: number[] = [];
      const reportedMs: number[] = [];
      for (let i = 0; i < q.repeats; i++) {
        rmSync(marker, { force: true });
        const { handle } = await startJob(base.client, orch.config, { project, kind: 'run', prompt: v.prompt });
        const pid = await agentPid(marker);
        // The job's process group: led by the agent itself, or by a wrapper around it.
        const pgid = processGroupOf(pid);
        if (pgid === null) throw new Error(`P4: agent ${pid} is already gone before the cancel`);
        // Spread the cancel over the heartbeat cycle (the activity reports every 500 ms, flushed ≤ 1 s).
        await sleep(200 + (1000 * i) / q.repeats);
        const t0 = performance.now();
        const result = jobResult(handle, project).then(() => performance.now() - t0);
        await handle.cancel();
        while (groupMembers(pgid).length > 0 || processGroupOf(pid) !== null) {
          if (performance.now() - t0 > 30_000) throw new Error(`P4: agent group ${pgid} still alive 30 s after cancel`);
          await sleep(5);
        }
        goneMs.push(performance.now() - t0);
        reportedMs.push(await result);
      }
      out.push({
        variant: v.name,
        repeats: q.repeats,
        groupGoneMs: { p50: round(median(goneMs)), max: round(Math.max(...goneMs)), raw: goneMs.map((x) => round(x)) },
        cancelledReportedMs: { p50: round(median(reportedMs)), max: round(Math.max(...reportedMs)) },
      });
    }
    return out;
  } finally {
    await orch.stop();
  }
}
