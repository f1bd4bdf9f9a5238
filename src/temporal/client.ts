// Client-side operations shared by the CLI and client scripts: connect, start a job (one per project),
// and turn a finished workflow, failed or not, back into its JobResult.
import {
  CancelledFailure,
  Client,
  Connection,
  TerminatedFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowClient,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { jobSettings, projectSnapshot, type Config } from '../config';
import { temporalTarget } from './connection';
import { dataConverterFromEnv } from './codec';
import { firstLine } from '../lib/prompts';
import { localDate } from '../lib/dates';
import { jobStartPlan } from './jobPlan';
import {
  BATCH_PROGRESS_QUERY,
  SearchAttr,
  bareRunResult,
  readAgentHeartbeat,
  type AgentHeartbeat,
  type AgentJobInput,
  type BatchInput,
  type BatchKind,
  type BatchResult,
  type JobResult,
} from './types';
import { failedJobResult } from './failures';
import { batchWorkflowId, taskQueueFor, jobWorkflowId } from './ids';
import { jobStaticDetails } from './ui';
import type { agentJob } from '../workflows';

export interface Connected {
  client: Client;
  connection: Connection;
  namespace: string;
  address: string;
}

export async function connectClient(config: Pick<Config, 'server'>): Promise<Connected> {
  const target = temporalTarget(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: '5 seconds' });
  } catch (e) {
    throw new Error(
      `cannot reach Temporal at ${target.connectionOptions.address} (${(e as Error).message}) — start it with \`orchestrate server start\` (or \`orchestrate up\`), or point TEMPORAL_ADDRESS / your envconfig profile at your cluster`,
    );
  }
  return {
    client: new Client({ connection, namespace: target.namespace, dataConverter: dataConverterFromEnv() }),
    connection,
    namespace: target.namespace,
    address: target.connectionOptions.address,
  };
}

export class AlreadyRunningError extends Error {
  constructor(
    readonly workflowId: string,
    readonly runId: string | undefined,
  ) {
    super(`already running: ${workflowId} — see \`orchestrate status\``);
  }
}

export interface StartJobOptions {
  /** When a job for the project is already running, follow it instead of refusing. */
  attach?: boolean;
  /** Static details for the Web UI: project path and the prompt's first line. */
  path?: string;
  prompt?: string;
}

/** Starts `agentJob` under the project's fixed workflow ID: at most one running job per project. */
export async function startJob(
  client: Client,
  config: Config,
  input: AgentJobInput,
  opts: StartJobOptions = {},
): Promise<{ handle: WorkflowHandle<typeof agentJob>; attached: boolean }> {
  const workflowId = jobWorkflowId(input.project);
  const project = config.projects[input.project];
  // The job's plan, so it runs no prepareJob of its own. Its account is keyed with this process's environment,
  // which is the worker's where both run as the same user with the same credentials (or with [agent] account set);
  // the worker keys its own holds with its own environment.
  const plan =
    project &&
    jobStartPlan(
      { timezone: config.orchestrator.timezone, jobSettings: jobSettings(config) },
      projectSnapshot(project, process.env),
      {
        kind: input.kind,
        date: input.date ?? localDate(new Date(), config.orchestrator.timezone),
        ...(input.prompt !== undefined ? { prompt: input.prompt } : {}),
      },
    );
  const promptLine = firstLine(
    input.prompt ?? (input.kind === 'run' || input.kind === 'cycle' ? (project?.prompt ?? '') : `${input.kind} prompt`),
  );
  try {
    const handle = await client.workflow.start<typeof agentJob>('agentJob', {
      // A project pinned to a host runs its whole job (workflow and activities) on that host's queue.
      taskQueue: taskQueueFor(config.orchestrator.taskQueue, project?.host),
      workflowId,
      args: [plan ? { ...input, plan } : input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: SearchAttr.project, value: input.project },
        { key: SearchAttr.kind, value: input.kind },
        ...(project?.host ? [{ key: SearchAttr.host, value: project.host }] : []),
      ],
      staticSummary: `${input.kind} · ${input.project}`,
      staticDetails: jobStaticDetails(opts.path ?? project?.path ?? '?', promptLine),
    });
    return { handle, attached: false };
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    const running = client.workflow.getHandle<typeof agentJob>(workflowId);
    if (opts.attach) return { handle: running, attached: true };
    const desc = await running.describe().catch(() => undefined);
    throw new AlreadyRunningError(workflowId, desc?.runId);
  }
}

/** Waits for a job and returns its JobResult whatever the outcome (failed jobs carry it in their failure). */
export async function jobResult(handle: WorkflowHandle, project: string): Promise<JobResult> {
  try {
    return (await handle.result()) as JobResult;
  } catch (e) {
    return jobResultFromError(e, handle.workflowId, project);
  }
}

export function jobResultFromError(e: unknown, workflowId: string, project: string): JobResult {
  if (!(e instanceof WorkflowFailedError)) throw e;
  const cause = e.cause;
  const failed = failedJobResult(cause);
  if (failed) return failed;
  const cancelled = cause instanceof CancelledFailure;
  const terminated = cause instanceof TerminatedFailure;
  const message = cancelled
    ? `${project}: job cancelled`
    : terminated
      ? `${project}: job terminated (${cause?.message ?? 'no reason given'})`
      : `${project}: ${cause?.message ?? e.message}`;
  return {
    workflowId,
    project,
    kind: 'run',
    startedAt: '',
    ...bareRunResult(cancelled || terminated ? 'cancelled' : 'crashed', message),
  };
}

/** Starts a cycle / EOD / rollover; refuses while one of the same kind started from the CLI runs. */
export async function startBatch(
  client: Client,
  config: Config,
  kind: BatchKind,
  input: BatchInput,
): Promise<WorkflowHandle> {
  const workflowId = batchWorkflowId(kind, config.orchestrator.taskQueue);
  try {
    return await client.workflow.start(kind, {
      taskQueue: config.orchestrator.taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [{ key: SearchAttr.kind, value: kind }],
      staticSummary: `${kind}${input.projects ? ` · ${input.projects.join(', ')}` : ' · all projects'}`,
      staticDetails: [
        `**projects** ${(input.projects ?? Object.keys(config.projects)).join(', ') || '(none)'}`,
        `**day** ${input.date ?? 'today'} (${config.orchestrator.timezone})`,
        `**started from** the orchestrate CLI`,
      ].join('\n\n'),
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) throw new AlreadyRunningError(workflowId, undefined);
    throw e;
  }
}

/** The batch's live table (query), or its final result once it has finished. */
export async function batchProgress(handle: WorkflowHandle): Promise<{ done: boolean; result: BatchResult | null }> {
  const desc = await handle.describe();
  if (desc.status.name !== 'RUNNING') {
    try {
      return { done: true, result: (await handle.result()) as BatchResult };
    } catch (e) {
      // A cancelled batch ends Cancelled, its table (cancelled rows included) still answers the query.
      if (e instanceof WorkflowFailedError && desc.status.name === 'CANCELLED') {
        const table = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY).catch(() => null);
        if (table) return { done: true, result: table };
      }
      if (e instanceof WorkflowFailedError)
        throw new Error(`${handle.workflowId} ${desc.status.name.toLowerCase()}: ${e.cause?.message ?? e.message}`);
      throw e;
    }
  }
  try {
    return { done: false, result: await handle.query<BatchResult>(BATCH_PROGRESS_QUERY) };
  } catch {
    return { done: false, result: null }; // not yet past its first workflow task
  }
}

/**
 * The agent activity's last heartbeat, from a pending activity's raw heartbeat details (as `describe()` returns
 * them), or null when it has sent none that decode.
 */
export function pendingAgentHeartbeat(
  client: Pick<Client, 'options'> | WorkflowClient,
  heartbeatDetails: unknown,
): AgentHeartbeat | null {
  const list = (heartbeatDetails as { payloads?: unknown[] } | null | undefined)?.payloads;
  if (!list?.length) return null;
  try {
    return readAgentHeartbeat(
      client.options.loadedDataConverter.payloadConverter.fromPayload(list[list.length - 1] as never),
    );
  } catch {
    return null;
  }
}

/** Workers polling a workflow task queue recently (the server remembers pollers for a few minutes). */
export async function queuePollers(client: Client, namespace: string, taskQueue: string): Promise<number> {
  const r = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return r.pollers?.length ?? 0;
}
