// Which activity attempt owns a job's run folder: the fence that keeps a stale attempt from touching a job
// another attempt has taken over.
//
// An attempt goes stale when its worker froze (SIGSTOP, a paused VM, a closed laptop lid) past the heartbeat
// timeout: the server has scheduled a newer attempt, which adopted the agent. When the frozen worker thaws,
// its attempt still runs: its timers fire, its agent may have finished. It must not stop the agent, write
// reported.json or add a ledger line. Every attempt claims the run folder when it starts, with a token that
// grows from attempt to attempt; an attempt holds the lease while no newer claim exists. The token is the
// time the server scheduled the attempt (then the attempt number), so it keeps growing across an activity
// reset, which starts the attempt numbers again.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LEASE_DIR = 'lease';

/** An attempt's claim on its job's run folder. */
export interface Lease {
  token: string;
  /** False once a newer attempt has claimed the run folder: this one must then leave the job alone. */
  held(): boolean;
}

/** A claim's token: sortable as text, later attempts sort later. */
export function leaseToken(scheduledAtMs: number, attempt: number): string {
  return `${String(Math.max(0, Math.floor(scheduledAtMs))).padStart(15, '0')}-${String(attempt).padStart(4, '0')}`;
}

/**
 * Claims the run folder `baseDir` for the attempt with this token (creating the folder). Throws the OS error
 * when the folder cannot be written. A stale attempt that starts late (its task sat in a frozen worker's poll)
 * claims too, but a newer claim already exists, so it never holds the lease.
 */
export function claimLease(baseDir: string, token: string, attempt: number): Lease {
  const dir = path.join(baseDir, LEASE_DIR);
  mkdirSync(dir, { recursive: true });
  const claim = { attempt, pid: process.pid, host: os.hostname(), at: new Date().toISOString() };
  writeFileSync(path.join(dir, token), JSON.stringify(claim) + '\n');
  return { token, held: () => newestClaim(baseDir) <= token };
}

/** The newest claim on a run folder ('' when none). */
export function newestClaim(baseDir: string): string {
  let names: string[];
  try {
    names = readdirSync(path.join(baseDir, LEASE_DIR));
  } catch {
    return '';
  }
  return names.reduce((max, n) => (n > max ? n : max), '');
}
