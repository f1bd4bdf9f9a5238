// What the tests ask the OS about a process. Read from /proc (Linux), not kill(pid, 0): an exited child that
// nobody has reaped yet (a zombie) still answers kill(pid, 0), and would make a stopped agent look alive.
import { readdirSync, readFileSync } from 'node:fs';

/** A live (non-zombie) process's state letter and process group; null when it is gone or a zombie. */
export function liveProcess(pid: number): { state: string; pgid: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the parenthesised command name (which may hold spaces): state ppid pgrp ...
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return { state: fields[0], pgid: Number(fields[2]) };
}

/** SIGKILLs the process; one that already exited (after a scan of the process table found it) is fine. */
export function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** The process is alive and not a zombie. */
export function processAlive(pid: number): boolean {
  return liveProcess(pid) !== null;
}

/**
 * Live processes whose environment has `name` set to a value starting with `valuePrefix` (e.g. the job marker
 * ORCHESTRATE_JOB=<project>/…), found by scanning /proc/<pid>/environ: what a job may have left running.
 */
export function processesWithEnv(name: string, valuePrefix: string): Array<{ pid: number; cmd: string }> {
  const needle = `${name}=${valuePrefix}`;
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const vars = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!vars.some((v) => v.startsWith(needle)) || !processAlive(Number(entry))) continue;
      found.push({
        pid: Number(entry),
        cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
      });
    } catch {
      // exited while we looked
    }
  }
  return found;
}
