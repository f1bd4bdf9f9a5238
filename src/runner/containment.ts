// Containment: everything a job's agent started, found and stopped as one, including what left its process group
// (`setsid`, a double-forked daemon reparented to init). Two mechanisms, the second always on:
//   - a cgroup v2 per job, where the machine offers one (a writable cgroup2 hierarchy with `cgroup.kill`): the
//     wrapper moves itself into it before it runs the agent, so every descendant is in it and one write to
//     `cgroup.kill` stops them all, whatever they did to their session, group or environment;
//   - a sweep by marker: the agent gets ORCHESTRATE_JOB=<project>/<run key>, which its descendants inherit, and the
//     sweep kills every process whose /proc/<pid>/environ holds it. A process that clears its environment escapes
//     this one; the cgroup catches it.
// A job's processes are stopped at its timeout, on cancel, and after the agent exits (jobs are immutable: a daemon
// an agent leaves behind is stopped with it).
import { mkdirSync, promises as fs, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../lib/sleep';
import { groupMembers, isLiveState, readProcStat, signalGroup } from './processGroup';

/** The marker every process of a job inherits: `<project>/<run key>` (a run key is unique within its project). */
export const JOB_MARKER_VAR = 'ORCHESTRATE_JOB';
/** The job's cgroup folder, for the wrapper to move itself into; unset when there is no cgroup. */
export const JOB_CGROUP_VAR = 'ORCHESTRATE_CGROUP';
/** Job cgroups are named `<prefix><project>.<run key>`, next to the worker's own cgroup's processes. */
const CGROUP_PREFIX = 'orchestrate-job.';
/** After SIGKILL, how long to wait for the last processes to go before giving up on them. */
const KILL_WAIT_MS = 5000;
/** /proc/<pid>/environ files the marker sweep reads between two turns of the event loop. */
const SCAN_BATCH = 32;

/** Which containment this worker's jobs get (said at the worker's start and in docs/reliability.md). */
export interface ContainmentSupport {
  /** The folder job cgroups are created in; null: marker sweep only. */
  cgroupParent: string | null;
  /** One line for the worker's start-up log. */
  description: string;
}

let support: ContainmentSupport | null = null;

/** Detects (once per process) whether job cgroups can be made here, and clears empty ones left by a dead worker. */
export function containmentSupport(): ContainmentSupport {
  if (support) return support;
  const found = findCgroupParent();
  support = found.parent
    ? {
        cgroupParent: found.parent,
        description: `agent containment: a cgroup v2 per job under ${found.parent} (stopped with cgroup.kill), and a sweep by the ${JOB_MARKER_VAR} marker`,
      }
    : {
        cgroupParent: null,
        description: `agent containment: process group and a sweep by the ${JOB_MARKER_VAR} marker in /proc/<pid>/environ (no cgroup per job: ${found.why})`,
      };
  if (support.cgroupParent) removeEmptyJobCgroups(support.cgroupParent);
  return support;
}

/** This process's cgroup v2 folder, if it can hold job cgroups with cgroup.kill; else why not. */
function findCgroupParent(): { parent: string | null; why: string } {
  if (process.platform !== 'linux') return { parent: null, why: 'not Linux' };
  let mount: string | undefined;
  let own: string | undefined;
  try {
    mount = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
    own = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
  } catch (e) {
    return { parent: null, why: `cannot read /proc (${(e as Error).message})` };
  }
  if (!mount || own === undefined) return { parent: null, why: 'no cgroup v2 hierarchy is mounted' };
  const parent = path.resolve(mount, `.${own}`);
  const probe = path.join(parent, `${CGROUP_PREFIX}probe-${process.pid}`);
  try {
    mkdirSync(probe);
  } catch (e) {
    return { parent: null, why: `cannot create a cgroup in ${parent} (${(e as NodeJS.ErrnoException).code})` };
  }
  try {
    return readdirSync(probe).includes('cgroup.kill')
      ? { parent, why: '' }
      : { parent: null, why: `the kernel's cgroup v2 has no cgroup.kill (Linux 5.14 or later has)` };
  } finally {
    rmdirSync(probe);
  }
}

/** Empty job cgroups are what a worker that died left; a populated one is a running job's and stays (EBUSY). */
function removeEmptyJobCgroups(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(CGROUP_PREFIX)) continue;
    try {
      rmdirSync(path.join(parent, name));
    } catch {
      // still populated: a running (or adoptable) job's
    }
  }
}

/** One job's containment: its marker, and its cgroup folder when the machine offers one. */
export interface JobContainment {
  marker: string;
  cgroup: string | null;
}

export function jobContainment(project: string, runKey: string): JobContainment {
  const { cgroupParent } = containmentSupport();
  return {
    marker: `${project}/${runKey}`,
    cgroup: cgroupParent ? path.join(cgroupParent, `${CGROUP_PREFIX}${project}.${runKey}`) : null,
  };
}

/**
 * The environment that puts the agent in its containment (the wrapper joins the cgroup), creating the job's
 * cgroup. A cgroup that cannot be made leaves the marker sweep, which needs nothing.
 */
export async function containmentEnv(job: JobContainment): Promise<Record<string, string>> {
  const env: Record<string, string> = { [JOB_MARKER_VAR]: job.marker };
  if (!job.cgroup) return env;
  try {
    await fs.mkdir(job.cgroup, { recursive: true });
    env[JOB_CGROUP_VAR] = job.cgroup;
  } catch {
    // the marker sweep still finds every process that keeps its environment
  }
  return env;
}

/** Live processes whose environment holds `marker` (never this process). Reading another user's environ fails. */
export async function markedProcesses(marker: string): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const needle = Buffer.from(`${JOB_MARKER_VAR}=${marker}\0`);
  const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid);
  const found: number[] = [];
  // A machine runs hundreds of processes and a worker scans them all after every agent. Synchronous reads are the
  // cheapest (a promise-based read of each costs several times the CPU), so they stay, a few dozen at a time with
  // the event loop let go in between: a scan never holds up the worker's workflow tasks and heartbeats for long.
  for (let i = 0; i < pids.length; i += SCAN_BATCH) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const entry of pids.slice(i, i + SCAN_BATCH)) {
      let environ: Buffer;
      try {
        environ = readFileSync(`/proc/${entry}/environ`);
      } catch {
        continue; // exited while we looked, or not ours to read (then not ours to kill either)
      }
      // Entries are NUL-separated: the marker counts at the start or right after a NUL, never inside a value.
      const at = environ.indexOf(needle);
      if (at < 0 || (at > 0 && environ[at - 1] !== 0) || !isAlive(entry)) continue;
      found.push(Number(entry));
    }
  }
  return found;
}

function isAlive(pid: number | string): boolean {
  const stat = readProcStat(pid);
  return stat !== null && isLiveState(stat);
}

/** Live processes in the job's cgroup. */
function cgroupProcesses(cgroup: string | null): number[] {
  if (!cgroup) return [];
  try {
    return readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => isAlive(pid));
  } catch {
    return [];
  }
}

/** Every live process of the job: its leader's group, its cgroup and everything carrying its marker. */
export async function jobProcesses(job: JobContainment, pgid: number): Promise<number[]> {
  const all = new Set([...groupMembers(pgid), ...cgroupProcesses(job.cgroup), ...(await markedProcesses(job.marker))]);
  all.delete(process.pid);
  return [...all];
}

/** Signals the job's group and `found` (its processes, as jobProcesses just listed them). */
function signalJob(job: JobContainment, pgid: number, signal: NodeJS.Signals, found: number[]): void {
  if (signal === 'SIGKILL' && job.cgroup) {
    try {
      writeFileSync(path.join(job.cgroup, 'cgroup.kill'), '1');
    } catch {
      // no cgroup (it was never joined, or is gone): the signals below still reach every process found
    }
  }
  signalGroup(pgid, signal);
  for (const pid of found) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Waits until no process of the job is left, up to `ms`; what is left then. */
async function waitEmpty(job: JobContainment, pgid: number, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await jobProcesses(job, pgid);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(100);
  }
}

/**
 * Stops every process of the job: SIGTERM, SIGKILL after `graceMs` to what is left (again until none is: a
 * process may fork while it is being killed), then removes the job's cgroup. Resolves once none is left, or after
 * a bounded wait.
 */
export async function stopJob(job: JobContainment, pgid: number, graceMs: number): Promise<void> {
  // One sweep says what is left; the common case (the agent exited and took everything with it) costs only it.
  let left = await jobProcesses(job, pgid);
  if (graceMs > 0 && left.length > 0) {
    signalJob(job, pgid, 'SIGTERM', left);
    left = await waitEmpty(job, pgid, graceMs);
  }
  const deadline = Date.now() + KILL_WAIT_MS;
  while (left.length > 0 && Date.now() < deadline) {
    signalJob(job, pgid, 'SIGKILL', left);
    await sleep(50);
    left = await jobProcesses(job, pgid);
  }
  await removeJobCgroup(job);
}

/** Removes the job's (empty) cgroup; a populated one stays, to be emptied by the next stop. */
async function removeJobCgroup(job: JobContainment): Promise<void> {
  if (!job.cgroup) return;
  await fs.rmdir(job.cgroup).catch(() => undefined);
}
