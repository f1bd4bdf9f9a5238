// The persistent sessions on the orchestrator's tmux socket: listing them (`orchestrate sessions list`) and the
// stale-session reaper (start of each cycle, and `orchestrate sessions reap`).
//
// A session is the orchestrator's own only if its name has the session prefix AND it carries the tmux options
// orchestrate sets when it creates one, with this orchestrator's task queue as owner. Everything else on the
// socket (sessions a person made, another orchestrator's) is listed as such and never touched. The reaper kills
// an own session only when its project is not in orchestrator.persistent (any more), no running job uses it
// (Temporal: the project's job workflow is not running) and nobody is attached to it.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { jobWorkflowId } from '../temporal/ids';
import { TmuxError } from './tmux';
import { SESSION_OPTIONS, SESSION_OPTION_NAMES, attachCommand, tmuxFor } from './projectSession';

export interface SessionInfo {
  session: string;
  /** The project it was created for (null for sessions orchestrate did not create). */
  project: string | null;
  createdAt: string;
  ageMs: number;
  /** Clients (people) attached right now. */
  attached: number;
  /** Created by this orchestrator (prefix, orchestrate's tags, this task queue). Only these are ever reaped. */
  own: boolean;
  /** Why a session is not this orchestrator's own, when it is not. */
  foreign: string | null;
  /** The project is in orchestrator.persistent. */
  persistent: boolean;
  /** A running job uses it; null when Temporal could not be asked. */
  inUse: boolean | null;
  jobWorkflowId: string | null;
  /** Own, not persistent any more: the reaper kills it once it is idle and nobody is attached. */
  stale: boolean;
  attach: string;
}

export interface SessionList {
  socket: string;
  prefix: string;
  sessions: SessionInfo[];
  /** tmux is not installed on this host (then there are no sessions). */
  tmuxMissing: boolean;
}

export interface ReapReport {
  socket: string;
  killed: Array<{ session: string; project: string; reason: string }>;
  kept: Array<{ session: string; project: string | null; reason: string }>;
  /** Set when the reaper could not look at all (e.g. tmux missing); nothing was killed. */
  note: string | null;
}

/** Is the project's job workflow running? Throws when Temporal cannot say. */
export type JobRunningCheck = (project: string) => Promise<boolean>;

/** Asks Temporal whether `job/<project>` is running. Only "not found" means no; any other error is raised. */
export function jobRunningCheck(client: Client): JobRunningCheck {
  return async (project) => {
    try {
      const d = await client.workflow.getHandle(jobWorkflowId(project)).describe();
      return d.status.name === 'RUNNING';
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return false;
      throw e;
    }
  };
}

/** Every session on the socket, each classified. `isJobRunning` omitted: inUse is null. */
export async function listSessions(config: Config, isJobRunning?: JobRunningCheck): Promise<SessionList> {
  const { tmuxSocket: socket, sessionPrefix: prefix, taskQueue } = config.orchestrator;
  const tmux = tmuxFor(config);
  let raw;
  try {
    raw = await tmux.listSessions(SESSION_OPTION_NAMES);
  } catch (e) {
    if (e instanceof TmuxError && e.notInstalled) return { socket, prefix, sessions: [], tmuxMissing: true };
    throw e;
  }
  const now = Date.now();
  const sessions: SessionInfo[] = [];
  for (const s of raw) {
    const project = s.options[SESSION_OPTIONS.project] || null;
    const owner = s.options[SESSION_OPTIONS.owner] || null;
    let foreign: string | null = null;
    if (!s.name.startsWith(prefix)) foreign = `not named ${prefix}*`;
    else if (!project) foreign = 'not started by orchestrate';
    else if (owner !== taskQueue) foreign = `started by another orchestrator (task queue ${owner ?? '?'})`;
    const own = foreign === null;
    const persistent = own && project !== null && config.orchestrator.persistent.includes(project);
    let inUse: boolean | null = null;
    if (own && project && isJobRunning) {
      try {
        inUse = await isJobRunning(project);
      } catch {
        inUse = null;
      }
    }
    sessions.push({
      session: s.name,
      project,
      createdAt: s.createdAt.toISOString(),
      ageMs: Math.max(0, now - s.createdAt.getTime()),
      attached: s.attached,
      own,
      foreign,
      persistent,
      inUse,
      jobWorkflowId: own && project ? jobWorkflowId(project) : null,
      stale: own && !persistent,
      attach: attachCommand(config, s.name),
    });
  }
  return { socket, prefix, sessions, tmuxMissing: false };
}

/**
 * Kills this orchestrator's sessions whose project is not persistent (any more), that no running job uses and
 * nobody is attached to. When Temporal cannot say whether a job runs, the session is kept.
 */
export async function reapSessions(config: Config, isJobRunning: JobRunningCheck): Promise<ReapReport> {
  const socket = config.orchestrator.tmuxSocket;
  const list = await listSessions(config, isJobRunning);
  const report: ReapReport = { socket, killed: [], kept: [], note: null };
  if (list.tmuxMissing) {
    report.note = 'tmux is not installed on this host: no sessions to reap';
    return report;
  }
  const tmux = tmuxFor(config);
  for (const s of list.sessions) {
    if (!s.own) continue; // never touched, not even reported as kept
    const keep = (reason: string) => report.kept.push({ session: s.session, project: s.project, reason });
    if (s.persistent) keep('persistent (in orchestrator.persistent)');
    else if (s.inUse === null) keep(`could not ask Temporal whether ${s.jobWorkflowId} is running`);
    else if (s.inUse) keep(`in use by the running job ${s.jobWorkflowId}`);
    else if (s.attached > 0) keep(`${s.attached} client(s) attached`);
    else {
      await tmux.killSession(s.session);
      await removeSessionDir(config, s.session);
      report.killed.push({
        session: s.session,
        project: s.project!,
        reason: `project ${s.project} is not in orchestrator.persistent and no job uses the session`,
      });
    }
  }
  return report;
}

/** The session's files, only ever inside <state_dir>/sessions/<socket>/. */
async function removeSessionDir(config: Config, session: string): Promise<void> {
  const base = path.join(config.orchestrator.stateDir, 'sessions', config.orchestrator.tmuxSocket);
  const dir = path.join(base, session);
  if (path.dirname(dir) !== base) return;
  await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
