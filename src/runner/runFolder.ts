// The files of a run folder (<state_dir>/runs/<project>/<runKey>/attempt-N/), through which an agent's
// launch outlives the worker that started it:
//   launch.json    which process runs (pid and start time), written before anything else can go wrong;
//   exit.code      its exit status, written by the `sh` wrapper even when no worker is left to wait for it;
//   reported.json  what the activity attempt reported about it, so that a lost completion is delivered again.
// And one per job (<state_dir>/runs/<project>/<runKey>/):
//   job.json       whose job this is and the settings its launches are watched and collected with;
//   lease/         the attempts' claims (./lease).
import { ApplicationFailure } from '@temporalio/common';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import type { AgentRunResult, JobKind, JobPlan } from '../temporal/types';
import { RUN_FOLDER_ERROR, SETUP_ERROR, leaseLost } from '../temporal/failures';
import { scrubDeep, scrubKeyShapes, type Scrubber } from '../lib/scrub';
import { JOB_FILE, LAUNCH_FILE, REPORTED_FILE, readLaunch, type Launch } from './runFiles';
import type { Lease } from './lease';

export {
  EXIT_FILE,
  JOB_FILE,
  LAUNCH_FILE,
  REPORTED_FILE,
  STDERR_FILE,
  STDOUT_FILE,
  launchAlive,
  readExitFile,
  type Launch,
} from './runFiles';

/**
 * The wrapper: joins the job's cgroup when there is one, before anything else runs, so every descendant is in it
 * (made again only if joining fails: another worker's start-up may have removed it as empty; failing that, the
 * marker sweep still finds them); runs the agent ("$@": every argument passed through untouched, never
 * shell-parsed); and records its exit status, even when no worker is left to wait for it. Only `sh` builtins run
 * in the common case (each external command is a fork and exec inside the agent's slot): the status is written in
 * place with one write of a newline-terminated line, and readers take only a complete line (readExitFile), so a
 * status cut short by a crash counts as none, as a never-renamed temporary file did.
 */
export const WRAPPER =
  '[ -z "$ORCHESTRATE_CGROUP" ] || { echo $$ > "$ORCHESTRATE_CGROUP/cgroup.procs" || { mkdir -p "$ORCHESTRATE_CGROUP" && echo $$ > "$ORCHESTRATE_CGROUP/cgroup.procs"; }; } 2>/dev/null; "$@"; c=$?; printf "%s\\n" "$c" > "$ORCHESTRATE_EXIT_FILE"; exit $c';

/**
 * Whose run folder this is: failures name the project and the config key to fix. With a lease, every write
 * to the folder is fenced: a stale attempt (see ./lease) writes nothing.
 */
export interface RunFolderOwner {
  config: { orchestrator: Pick<Config['orchestrator'], 'stateDir'> };
  plan: Pick<JobPlan, 'project'>;
  /** The job's secrets, scrubbed from what reported.json keeps. */
  scrub?: Scrubber;
  lease?: Lease;
}

/**
 * job.json: the job a run folder belongs to, and what watching and collecting its launches needs, recorded
 * before the first launch. Adopting or collecting a running agent reads this, never today's config file,
 * which may have been broken or changed since; the orphan sweep reads it to ask the server about the job.
 */
export interface JobRecord {
  workflowId: string;
  runId: string;
  project: string;
  kind: JobKind;
  /** The machine the agents run on: pids mean nothing elsewhere. */
  host: string;
  stateDir: string;
  profile: ProjectConfig['agent']['profile'];
  outputFormat: ProjectConfig['agent']['outputFormat'];
  allowPermissionDenials?: boolean;
  exitGraceMs?: number;
  stallTimeoutMs?: number | null;
  onShutdown: Config['orchestrator']['onShutdown'];
}

/** Writes job.json once: the first launch's settings stay the job's. */
export async function writeJobRecord(o: RunFolderOwner, baseDir: string, record: JobRecord): Promise<void> {
  const file = path.join(baseDir, JOB_FILE);
  try {
    await fs.writeFile(`${file}.tmp`, JSON.stringify(record) + '\n');
    await fs.link(`${file}.tmp`, file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    await fs.unlink(`${file}.tmp`);
  } catch (e) {
    throw runFolderFailure(o, 'write', file, e);
  }
}

export function readJobRecord(baseDir: string): JobRecord | null {
  try {
    return JSON.parse(readFileSync(path.join(baseDir, JOB_FILE), 'utf8')) as JobRecord;
  } catch {
    return null;
  }
}

/** The attempt folders of a job (whether or not they launched an agent), in no order. */
export async function attemptFolders(baseDir: string): Promise<string[]> {
  try {
    return (await fs.readdir(baseDir)).filter((name) => /^attempt-\d+$/.test(name));
  } catch {
    return [];
  }
}

/** The earlier launches of a job, oldest first. */
export async function findLaunches(baseDir: string): Promise<Launch[]> {
  const launches: Launch[] = [];
  for (const name of await attemptFolders(baseDir)) {
    const m = /^attempt-(\d+)$/.exec(name);
    if (!m) continue;
    const dir = path.join(baseDir, name);
    const l = readLaunch(dir);
    // none: this attempt never launched an agent (adopted, collected, or failed before the spawn)
    if (l) launches.push({ ...l, dir, attempt: Number(m[1]) });
  }
  return launches.sort((a, b) => a.attempt - b.attempt);
}

/**
 * launch.json, written in two steps so that a full or read-only disk fails the job before any agent runs:
 * its space is reserved before the spawn (pid and start time padded to their widest), and after the spawn it
 * is only filled in and renamed into place.
 */
export interface PendingLaunchRecord {
  file: string;
  /** Writes the launched process into the reserved space and renames the file into place; throws the OS error. */
  fill(pid: number, startTicks: number | null): Promise<void>;
  /** Gives the reservation up (the agent did not start, or cannot be recorded). */
  abandon(): Promise<void>;
}

export async function reserveLaunchRecord(
  o: RunFolderOwner,
  dir: string,
  fields: { startedAt: number; command: string; cwd: string },
): Promise<PendingLaunchRecord> {
  const file = path.join(dir, LAUNCH_FILE);
  const pending = `${file}.tmp`;
  // No environment values here: only what identifies the process.
  const record = (pid: number, startTicks: number | null) => JSON.stringify({ pid, startTicks, ...fields });
  const reserve = Buffer.byteLength(record(2 ** 31, Number.MAX_SAFE_INTEGER));
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(pending, 'w');
  } catch (e) {
    throw runFolderFailure(o, 'write', pending, e);
  }
  const abandon = () => handle.close().catch(() => undefined);
  try {
    await handle.write(Buffer.alloc(reserve, ' '), 0, reserve, 0);
    await handle.sync();
  } catch (e) {
    await abandon();
    throw runFolderFailure(o, 'write', pending, e);
  }
  return {
    file,
    abandon,
    async fill(pid, startTicks) {
      const buf = Buffer.alloc(reserve, ' ');
      buf.write(record(pid, startTicks));
      await handle.write(buf, 0, reserve, 0);
      await handle.close();
      await fs.rename(pending, file);
    },
  };
}

/**
 * reported.json: what this launch's activity attempt reported. `final` outcomes ended the activity (a result,
 * a last crash, a cancel); the rest (a crash to be launched again, a vanished agent) let the next attempt
 * launch anew. A final one is kept whole, so that if its completion never reached the server (the worker died
 * right after, or the server lost its last commits) the next attempt delivers it again instead of running the
 * agent a second time.
 */
export interface Reported {
  outcome: string;
  at: string;
  final: boolean;
  result?: AgentRunResult;
}

/**
 * Records what this launch's attempt reported. A final outcome that cannot be recorded (a full or read-only
 * disk) is still delivered: the record only spares a re-collection if the completion gets lost. A non-final
 * one must be recorded, or the next attempt would collect the same launch again and again: that is a
 * non-retryable setup error instead of a crash loop.
 *
 * A launch is reported once: the record is linked into place, which fails if another attempt reported it
 * first, and a stale attempt (a newer one holds the lease) writes nothing. Either way this attempt reports
 * nothing and records nothing else (the leaseLost failure).
 */
export async function markReported(
  o: RunFolderOwner,
  l: Launch,
  outcome: string,
  final: boolean,
  result?: AgentRunResult,
): Promise<void> {
  fence(o, `record the outcome (${outcome}) of agent pid ${l.pid}`);
  const record: Reported = scrubDeep(
    { outcome, at: new Date().toISOString(), final, result },
    o.scrub ?? scrubKeyShapes,
  );
  const file = path.join(l.dir, REPORTED_FILE);
  const tmp = `${file}.tmp`;
  try {
    await fs.writeFile(tmp, JSON.stringify(record));
    await fs.link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      await fs.unlink(tmp).catch(() => undefined);
      throw leaseLost(
        `${o.plan.project}: agent pid ${l.pid} was already reported by another attempt; this one leaves it`,
      );
    }
    await fs.unlink(tmp).catch(() => undefined);
    if (final) return;
    throw runFolderFailure(o, `record the outcome (${outcome}) of agent pid ${l.pid} in`, file, e);
  }
  await fs.unlink(tmp).catch(() => undefined);
}

/** Throws leaseLost when a newer attempt has claimed the job: this one must not act on it any more. */
export function fence(o: Pick<RunFolderOwner, 'plan' | 'lease'>, what: string): void {
  if (o.lease && !o.lease.held())
    throw leaseLost(`${o.plan.project}: a newer attempt has taken the job over; this stale one did not ${what}`);
}

export function readReported(l: Launch): Reported | null {
  try {
    return JSON.parse(readFileSync(path.join(l.dir, REPORTED_FILE), 'utf8')) as Reported;
  } catch {
    return null;
  }
}

/** OS errors that mean the state folder's disk cannot take our files: they never pass by retrying. */
const DISK_ERRORS = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'EEXIST']);

/**
 * The failure for a run folder or file we cannot write, naming the path, the OS error and the config key to
 * fix: a non-retryable setup error for a full, read-only or unwritable disk; retryable otherwise (EMFILE, EIO…).
 */
export function runFolderFailure(o: RunFolderOwner, what: string, file: string, e: unknown): ApplicationFailure {
  const err = e as NodeJS.ErrnoException;
  const why = err.code ? `${err.code}: ${err.message}` : String(err.message ?? e);
  const disk = err.code !== undefined && DISK_ERRORS.has(err.code);
  return ApplicationFailure.create({
    type: disk ? SETUP_ERROR : RUN_FOLDER_ERROR,
    nonRetryable: disk,
    message: `${o.plan.project}: cannot ${what} ${file} (${why}) — make orchestrator.state_dir (${o.config.orchestrator.stateDir}) writable and check free disk space`,
  });
}

/** Creates the run folder of one attempt. */
export async function createRunFolder(o: RunFolderOwner, dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    throw runFolderFailure(o, 'create the run folder', dir, e);
  }
}
