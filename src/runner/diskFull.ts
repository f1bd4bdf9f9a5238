// A full disk under the run folder: the agent's output (and the wrapper's exit record) may have been cut off
// while it ran, so whatever the output says, the job cannot be reported as a success.
import { promises as fs } from 'node:fs';
import { bareRunResult, type AgentRunResult } from '../temporal/types';
import type { AgentExit } from './process';
import type { Launch, RunFolderOwner } from './runFolder';

/** Less free space than this under the run folder counts as full: the last writes may not have fitted. */
export const FULL_BELOW_BYTES = 64 * 1024;

/** Free bytes for unprivileged writers on the disk holding `dir`; null when it cannot be told. */
export async function freeBytes(dir: string): Promise<number | null> {
  try {
    const st = await fs.statfs(dir);
    return st.bavail * st.bsize;
  } catch {
    return null;
  }
}

/**
 * The result of a launch that ended on a full disk: `crashed`, final (launching again would fill it again), and
 * naming the disk, the state folder and the fix. Null when the disk has room.
 */
export async function fullDiskResult(
  o: RunFolderOwner,
  l: Launch,
  base: Pick<AgentRunResult, 'durationMs' | 'logPath' | 'pid'>,
  exit: AgentExit,
): Promise<AgentRunResult | null> {
  const free = await freeBytes(l.dir);
  if (free === null || free >= FULL_BELOW_BYTES) return null;
  const stateDir = o.config.orchestrator.stateDir;
  const message =
    `${o.plan.project}: the disk holding the state folder ${stateDir} (orchestrator.state_dir) is full ` +
    `(${Math.floor(free / 1024)} KB free) — the agent's output in ${l.dir} may be cut off, so its result cannot be ` +
    `trusted; free space there (or point orchestrator.state_dir at a bigger disk) and run the job again`;
  return bareRunResult('crashed', message, { ...base, exitCode: exit.exitCode, signal: exit.signal });
}
