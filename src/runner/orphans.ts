// The orphan sweep: agents still running for a job that is closed.
//
// An agent outlives its worker on purpose (the next attempt adopts it). But a job closed while no worker ran
// (`temporal workflow terminate`, the Web UI's Terminate, a workflow that failed) has no next attempt: its
// agent would run to its end, unrecorded, perhaps next to a new job in the same repo. A worker looks for such
// launches when it starts and every few minutes: an unreported launch whose agent is alive on this machine and
// whose workflow is closed (or gone) is stopped (its whole process group), reported cancelled in its run
// folder and in the ledger, and named in the worker's log.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appendJobLedger } from '../lib/jobRecord';
import { isLeaseLost } from '../temporal/failures';
import { CANCEL_GRACE_MS } from './attempt';
import { killGroup } from './processGroup';
import {
  EXIT_FILE,
  REPORTED_FILE,
  findLaunches,
  launchAlive,
  markReported,
  readJobRecord,
  type JobRecord,
  type Launch,
} from './runFolder';

/** How often a running worker sweeps (it also sweeps once at start). */
export const ORPHAN_SWEEP_EVERY_MS = 2 * 60_000;

/** The workflow's status name (RUNNING, TERMINATED, …), or NOT_FOUND when the server has no such run. */
export async function jobStatus(client: Client, workflowId: string, runId?: string): Promise<string> {
  try {
    const desc = await client.workflow.getHandle(workflowId, runId || undefined).describe();
    return desc.status.name;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw e;
  }
}

/** True when the job's workflow run is over (or gone): nothing will adopt its agent any more. */
export async function jobClosed(client: Client, workflowId: string, runId?: string): Promise<boolean> {
  return (await jobStatus(client, workflowId, runId)) !== 'RUNNING';
}

export interface StoppedOrphan {
  project: string;
  workflowId: string;
  pid: number;
  status: string;
}

/**
 * Stops the agents under `<stateDir>/runs` whose job is closed; returns what it stopped. A launch it cannot
 * decide on (the server unreachable) is left for the next sweep.
 */
export async function sweepOrphans(
  stateDir: string,
  client: Client,
  log: (msg: string) => void,
): Promise<StoppedOrphan[]> {
  const stopped: StoppedOrphan[] = [];
  for (const baseDir of await jobFolders(stateDir)) {
    for (const launch of await findLaunches(baseDir)) {
      if (existsSync(path.join(launch.dir, REPORTED_FILE)) || existsSync(path.join(launch.dir, EXIT_FILE))) continue;
      if (!launchAlive(launch)) continue;
      const job = whoseJob(baseDir, launch);
      if (!job) continue;
      let status: string;
      try {
        status = await jobStatus(client, job.workflowId, job.runId);
      } catch (e) {
        log(`orphan sweep: cannot ask the server about job ${job.workflowId} (${(e as Error).message}); next time`);
        continue;
      }
      if (status === 'RUNNING') continue;
      if (await stopOrphan(stateDir, job, launch, status, log))
        stopped.push({ project: job.project, workflowId: job.workflowId, pid: launch.pid, status });
    }
  }
  return stopped;
}

/** Every job folder (<stateDir>/runs/<project>/<runKey>). */
async function jobFolders(stateDir: string): Promise<string[]> {
  const runs = path.join(stateDir, 'runs');
  const list = (dir: string) => fs.readdir(dir).catch(() => [] as string[]);
  const folders: string[] = [];
  for (const project of await list(runs)) {
    for (const runKey of await list(path.join(runs, project))) folders.push(path.join(runs, project, runKey));
  }
  return folders;
}

/**
 * The job a launch belongs to: job.json, or for a launch recorded before it existed the workflow ID in the
 * agent's environment. Null for a launch of another machine (its pid means nothing here) or of no known job.
 */
function whoseJob(
  baseDir: string,
  launch: Launch,
): Pick<JobRecord, 'workflowId' | 'runId' | 'project' | 'kind'> | null {
  const record = readJobRecord(baseDir);
  if (record) return record.host === os.hostname() && record.workflowId ? record : null;
  let environ: string;
  try {
    environ = readFileSync(`/proc/${launch.pid}/environ`, 'utf8');
  } catch {
    return null;
  }
  const vars = new Map(environ.split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const workflowId = vars.get('ORCHESTRATE_WORKFLOW_ID');
  const project = vars.get('ORCHESTRATE_PROJECT');
  const kind = vars.get('ORCHESTRATE_JOB_KIND');
  if (!workflowId || !project || !kind) return null;
  return { workflowId, runId: '', project, kind: kind as JobRecord['kind'] };
}

/** Stops one orphaned agent and records it once (another worker's sweep may race this one). */
async function stopOrphan(
  stateDir: string,
  job: Pick<JobRecord, 'workflowId' | 'runId' | 'project' | 'kind'>,
  launch: Launch,
  status: string,
  log: (msg: string) => void,
): Promise<boolean> {
  const how = status === 'NOT_FOUND' ? 'no longer known to the server' : status.toLowerCase().replace(/_/g, ' ');
  await killGroup(launch.pid, CANCEL_GRACE_MS);
  const message = `${job.project}: job ${job.workflowId} was ${how} while its agent (pid ${launch.pid}) still ran with no worker watching; the worker's orphan sweep stopped the agent's process group`;
  const owner = { config: { orchestrator: { stateDir } }, plan: { project: job.project } };
  try {
    await markReported(owner, launch, 'cancelled', true);
  } catch (e) {
    if (isLeaseLost(e)) return false; // another worker recorded it first
    throw e;
  }
  await appendJobLedger(
    stateDir,
    job,
    { outcome: 'cancelled', message, logPath: launch.dir, pid: launch.pid, durationMs: Date.now() - launch.startedAt },
    { workflowExecution: { workflowId: job.workflowId, runId: job.runId }, attempt: launch.attempt },
    { warn: log },
  );
  log(`orphan sweep: ${message}; recorded as cancelled in the ledger`);
  return true;
}
