// Process groups and /proc: the one place that reads a process's state from the OS and signals a whole group.
// Agents run as leaders of their own process group, so stopping one means stopping its group (grandchildren
// included); on Linux, liveness is read from /proc because zombies still answer kill(0).
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../lib/sleep';

/** The fields of /proc/<pid>/stat this code reads. */
export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), … */
  state: string;
  ppid: number;
  pgrp: number;
  /** Start time in clock ticks since boot (field 22): with the pid, it tells a process from a later one. */
  startTicks: number;
}

/**
 * Parses /proc/<pid>/stat (Linux); null when the process is gone. The command name is parenthesised and may
 * itself hold spaces and ')', so the fields are counted from the last ')'.
 */
export function readProcStat(pid: number | string): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name: state ppid pgrp session tty_nr tpgid flags … starttime (the 20th).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), startTicks: Number(fields[19]) };
}

/** A zombie (exited, not yet reaped) or a dead process is not alive, though it still has a /proc entry. */
export function isLiveState(stat: ProcStat): boolean {
  return stat.state !== 'Z' && stat.state !== 'X';
}

/** Process start time in clock ticks since boot; null if gone or a zombie. */
export function processStartTicks(pid: number): number | null {
  const stat = readProcStat(pid);
  return stat && isLiveState(stat) ? stat.startTicks : null;
}

/**
 * Live (non-zombie) processes of a process group. On Linux this reads /proc, because zombies still
 * answer kill(0) and an init that does not reap them would make a dead tree look alive.
 */
export function groupMembers(pgid: number): number[] {
  if (pgid <= 0) return [];
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    // No process at all in the group, not even a zombie (the common case once an agent ended): no scan.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH' || process.platform !== 'linux') return [];
  }
  if (process.platform !== 'linux') return [pgid];
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(entry); // null: exited while we looked
    if (stat && stat.pgrp === pgid && isLiveState(stat)) members.push(Number(entry));
  }
  return members;
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/**
 * Sends `signal` to the process group `pgid`; a group already gone is no error. With `orProcess`, a pid that
 * leads no group (a process started by another tool) is signalled itself instead.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals, opts: { orProcess?: boolean } = {}): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, signal);
    return;
  } catch {
    // ESRCH: already gone, or not a group leader
  }
  if (!opts.orProcess) return;
  try {
    process.kill(pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM to the whole group, then SIGKILL after `graceMs`; resolves once no process of the group is
 * left (grandchildren included), or after a bounded wait.
 */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGTERM');
  const termDeadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < termDeadline) await sleep(50);
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (groupAlive(pgid) && Date.now() < killDeadline) await sleep(20);
}
