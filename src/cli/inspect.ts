// Read-only views of what runs on the Temporal server, for `status` and `logs`: running jobs with their
// agent's pid and phase (from the activity's heartbeat and the workflow's current details), running
// batches, and each project's last outcome (from visibility, filtered on this orchestrator's task queue).
import type { Client, Connection, WorkflowExecutionInfo } from '@temporalio/client';
import {
  BATCH_PROGRESS_QUERY,
  SearchAttr,
  accountWaitSummary,
  agentProgressOf,
  rowFinished,
  waitsInItsJob,
  type AgentProgress,
  type BatchResult,
  type JobKind,
} from '../temporal/types';
import { pendingAgentHeartbeat } from '../temporal/client';

/** A string literal in a visibility query. */
export function q(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** This orchestrator's queues: the shared one and every host's (`<queue>@<host>`). */
export function queueClause(taskQueue: string | string[]): string {
  const queues = Array.isArray(taskQueue) ? taskQueue : [taskQueue];
  return queues.length === 1 ? `TaskQueue = ${q(queues[0])}` : `TaskQueue IN (${queues.map(q).join(', ')})`;
}

/** Queries and metadata need a worker to answer: never let a stopped worker hang the CLI. */
const QUERY_DEADLINE_MS = 2000;
/** Visibility records scanned for the last outcome per project. */
const MAX_SCANNED = 2000;

export interface RunningJob {
  workflowId: string;
  runId: string;
  project: string;
  kind: JobKind | string;
  startedAt: string;
  elapsedMs: number;
  /** The agent's pid, from the runAgentJob activity's last heartbeat. */
  pid: number | null;
  /** What the job is doing: preparing, running agent, waiting for a slot or a usage-limit reset, … */
  phase: string;
  /** The agent's last output line, from the heartbeat. */
  lastLine: string | null;
  /** The activity attempt, when past the first. */
  attempt: number | null;
  /** What the agent is doing, read off its event stream: turn, tool, tokens and cost so far, … */
  progress?: AgentProgress | null;
}

export interface RunningBatch {
  workflowId: string;
  runId: string;
  kind: string;
  startedAt: string;
  elapsedMs: number;
  progress: string;
}

export interface LastOutcome {
  project: string;
  outcome: string;
  finishedAt: string | null;
  workflowId: string;
  runId: string;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function attr(wf: WorkflowExecutionInfo, key: (typeof SearchAttr)[keyof typeof SearchAttr]): string | null {
  try {
    return str(wf.typedSearchAttributes.get(key));
  } catch {
    return null;
  }
}

/** The workflow's current details (what it says it is doing), or null when no worker answers in time. */
export async function currentDetails(
  client: Client,
  connection: Connection,
  workflowId: string,
  runId?: string,
): Promise<string | null> {
  try {
    const meta = await connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      client.workflow.getHandle(workflowId, runId).query<{ currentDetails?: string }>('__temporal_workflow_metadata'),
    );
    return str(meta?.currentDetails) || null;
  } catch {
    return null;
  }
}

/**
 * The agent's last output line, readable: stream-json lines (possibly cut short by the heartbeat) become
 * "says: …", "tool: Edit" or their type; plain text stays as it is.
 */
export function describeLine(line: string | null): string | null {
  const l = line?.trim();
  if (!l) return null;
  if (!l.startsWith('{')) return l;
  const pick = (re: RegExp) => re.exec(l)?.[1] ?? null;
  const tool = pick(/"type":"tool_use"[^}]*?"name":"([^"]+)"/);
  if (tool) return `tool: ${tool}`;
  const text = pick(/"type":"text","text":"((?:[^"\\]|\\.)*)/);
  if (text) return `says: ${text.replace(/\\n/g, ' ').replace(/\\(.)/g, '$1')}`;
  if (/"type":"user"/.test(l) && /"tool_result"/.test(l)) return 'tool result';
  const type = pick(/"type":"([^"]+)"/);
  const subtype = pick(/"subtype":"([^"]+)"/);
  return type ? `${type}${subtype ? `/${subtype}` : ''}` : l;
}

/** proto PendingActivityState: 1 scheduled, 2 started, 3 cancel requested. */
const ACTIVITY_SCHEDULED = 1;
const ACTIVITY_CANCEL_REQUESTED = 3;

/** pid, phase and last line of one running job. */
export async function inspectJob(
  client: Client,
  connection: Connection,
  workflowId: string,
  runId?: string,
): Promise<Pick<RunningJob, 'pid' | 'phase' | 'lastLine' | 'attempt' | 'progress'>> {
  const desc = await client.workflow.getHandle(workflowId, runId).describe();
  const pending = desc.raw.pendingActivities ?? [];
  const details = await currentDetails(client, connection, workflowId, desc.runId);
  const said = details?.split('\n').find((l) => l.trim()) ?? null;
  const agent = pending.find((a) => a.activityType?.name === 'runAgentJob');
  const other = pending.find((a) => a !== agent);
  if (agent) {
    const hb = pendingAgentHeartbeat(client, agent.heartbeatDetails);
    const pid = hb?.pid ?? null;
    const attempt = agent.attempt && agent.attempt > 1 ? agent.attempt : null;
    let phase: string;
    if (agent.state === ACTIVITY_CANCEL_REQUESTED) phase = 'cancelling: stopping the agent';
    else if (hb?.phase) phase = hb.phase;
    else if (pid !== null) phase = 'running agent';
    else if (agent.state === ACTIVITY_SCHEDULED)
      phase = attempt ? `agent retry ${attempt} scheduled` : 'waiting for a worker';
    else phase = 'starting agent';
    const lastLine = describeLine(hb?.lastLine ?? null);
    return { pid, phase, lastLine, attempt, progress: agentProgressOf(hb) };
  }
  if (other) {
    const name = other.activityType?.name ?? 'activity';
    return {
      pid: null,
      phase: name === 'prepareJob' ? 'preparing' : name,
      lastLine: null,
      attempt: null,
      progress: null,
    };
  }
  return { pid: null, phase: said ?? 'between steps', lastLine: null, attempt: null, progress: null };
}

/** Jobs running on this orchestrator's task queue, oldest first. */
export async function runningJobs(
  client: Client,
  connection: Connection,
  taskQueue: string | string[],
): Promise<RunningJob[]> {
  const out: RunningJob[] = [];
  const now = Date.now();
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'agentJob' AND ExecutionStatus = 'Running' AND ${queueClause(taskQueue)}`,
  })) {
    const base = {
      workflowId: wf.workflowId,
      runId: wf.runId,
      project: attr(wf, SearchAttr.project) ?? wf.workflowId.replace(/^job\//, ''),
      kind: attr(wf, SearchAttr.kind) ?? '?',
      startedAt: wf.startTime.toISOString(),
      elapsedMs: now - wf.startTime.getTime(),
    };
    let more: Pick<RunningJob, 'pid' | 'phase' | 'lastLine' | 'attempt' | 'progress'>;
    try {
      more = await inspectJob(client, connection, wf.workflowId, wf.runId);
    } catch {
      more = { pid: null, phase: 'finishing', lastLine: null, attempt: null, progress: null }; // ended since the list
    }
    out.push({ ...base, ...more });
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** cycle / EOD / rollover workflows running on this task queue, with their progress. */
export async function runningBatches(
  client: Client,
  connection: Connection,
  taskQueue: string | string[],
): Promise<RunningBatch[]> {
  const out: RunningBatch[] = [];
  const now = Date.now();
  for await (const wf of client.workflow.list({
    query: `WorkflowType IN ('cycle', 'eod', 'rollover') AND ExecutionStatus = 'Running' AND ${queueClause(taskQueue)}`,
  })) {
    let progress = 'starting';
    try {
      const r = await connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
        client.workflow.getHandle(wf.workflowId, wf.runId).query<BatchResult>(BATCH_PROGRESS_QUERY),
      );
      const done = r.rows.filter(rowFinished).length;
      const running = r.rows.filter((x) => x.status === 'running' && !waitsInItsJob(x)).map((x) => x.project);
      progress = `${r.date}: ${done}/${r.rows.length} done${running.length ? `, running ${running.join(', ')}` : ''}${accountWaitSummary(r.rows) ? `, ${accountWaitSummary(r.rows)}` : ''}`;
    } catch {
      // not past its first workflow task, or no worker answering
    }
    out.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      kind: wf.type,
      startedAt: wf.startTime.toISOString(),
      elapsedMs: now - wf.startTime.getTime(),
      progress,
    });
  }
  return out;
}

/** The most recent finished job of each project (by close time) on this task queue. */
export async function lastOutcomes(
  client: Client,
  taskQueue: string | string[],
  projects: string[],
): Promise<Map<string, LastOutcome>> {
  const found = new Map<string, LastOutcome>();
  const wanted = new Set(projects);
  let scanned = 0;
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'agentJob' AND ExecutionStatus != 'Running' AND ${queueClause(taskQueue)}`,
  })) {
    const project = attr(wf, SearchAttr.project);
    if (project && wanted.has(project)) {
      const prev = found.get(project);
      const closed = wf.closeTime?.toISOString() ?? null;
      if (!prev || (closed && (!prev.finishedAt || closed > prev.finishedAt))) {
        found.set(project, {
          project,
          outcome: attr(wf, SearchAttr.outcome) ?? wf.status.name.toLowerCase(),
          finishedAt: closed,
          workflowId: wf.workflowId,
          runId: wf.runId,
        });
      }
    }
    // Visibility lists the most recently closed first, so once every project is seen we are done.
    if (++scanned >= MAX_SCANNED || found.size === wanted.size) break;
  }
  return found;
}
