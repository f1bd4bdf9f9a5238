// The names of a run folder's files and the reads that need nothing but the file system: what the CLI reads of a
// run folder (`orchestrate logs`) without loading the runner, the Temporal SDK or a config. The folder's layout and
// its writers are in ./runFolder.
import { readFileSync } from 'node:fs';
import { constants as osConstants, hostname } from 'node:os';
import path from 'node:path';
import type { AgentExit } from './process';
import { processStartTicks } from './processGroup';

export const LAUNCH_FILE = 'launch.json';
export const EXIT_FILE = 'exit.code';
export const REPORTED_FILE = 'reported.json';
export const STDOUT_FILE = 'stdout.log';
export const STDERR_FILE = 'stderr.log';
export const JOB_FILE = 'job.json';

/** One agent launch, as launch.json records it. */
export interface Launch {
  dir: string;
  attempt: number;
  pid: number;
  startTicks: number | null;
  startedAt: number;
}

/** The very process we launched, not a later one that reused its pid. */
export function launchAlive(l: Pick<Launch, 'pid' | 'startTicks'>): boolean {
  const ticks = processStartTicks(l.pid);
  return ticks !== null && (l.startTicks === null || ticks === l.startTicks);
}

/** The attempt folder's launch.json, or null when it launched no agent (or the file is unreadable). */
export function readLaunch(dir: string): Omit<Launch, 'dir' | 'attempt'> | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, LAUNCH_FILE), 'utf8')) as Omit<Launch, 'dir' | 'attempt'>;
  } catch {
    return null;
  }
}

/**
 * Whether the agent an attempt folder launched still runs, from the folder alone: launched on this machine (its
 * job.json's host: a pid means nothing elsewhere), no exit status yet, and the very process (pid and start time)
 * still alive. False when any of it is unknown.
 */
export function agentStillRuns(attemptDir: string): boolean {
  const launch = readLaunch(attemptDir);
  if (!launch || launch.startTicks === null || readExitFile(attemptDir) !== null) return false;
  try {
    const job = JSON.parse(readFileSync(path.join(attemptDir, '..', JOB_FILE), 'utf8')) as { host?: string };
    if (job.host !== hostname()) return false;
  } catch {
    return false;
  }
  return launchAlive(launch);
}

/**
 * The wrapper's record: `sh` reports a signal death as 128+N, which we turn back into the signal. Null until the
 * line is complete (the wrapper creates the file, then writes it).
 */
export function readExitFile(dir: string): AgentExit | null {
  let text: string;
  try {
    text = readFileSync(path.join(dir, EXIT_FILE), 'utf8');
  } catch {
    return null;
  }
  if (!text.endsWith('\n')) return null;
  text = text.trim();
  if (text === '') return null;
  const code = Number(text);
  if (!Number.isInteger(code)) return null;
  if (code > 128) {
    const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name) return { exitCode: null, signal: name };
  }
  return { exitCode: code, signal: null };
}
