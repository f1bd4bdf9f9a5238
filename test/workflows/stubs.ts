// Workflow tests without the fake agent: the real workflow bundle on the shared dev server, with the
// activities replaced by stubs each test writes. A rule of the workflow (how often it waits, what it marks
// cancelled) is then checked in seconds, from what the stubs were asked and what the workflow returned.
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import type { createActivities } from '../../src/activities';
import { createAccountHoldActivities } from '../../src/activities/accountHold';
import type { WorkflowActivities } from '../../src/temporal/activities';
import { bareRunResult, type AgentRunResult, type ConfigSnapshot, type JobPlan } from '../../src/temporal/types';
import { testServer, testWorkflowBundle } from '../helpers/server';

export interface StubEnv {
  client: Client;
  taskQueue: string;
  /** Starts a worker on the task queue with these activities; stop() shuts it down. */
  worker: (activities: Partial<WorkflowActivities>, taskQueue?: string) => Promise<{ stop: () => Promise<void> }>;
  close: () => Promise<void>;
}

/** Compile-time: the worker's activities are the ones the workflows (and these stubs) are typed against. */
type WorkerImplementsContract = ReturnType<typeof createActivities> extends WorkflowActivities ? true : never;
export const WORKER_IMPLEMENTS_CONTRACT: WorkerImplementsContract = true;

let quiet = false;

/** One client and native connection per test file; a fresh task queue, so workers of other files never answer. */
export async function stubEnv(): Promise<StubEnv> {
  if (!quiet) {
    // Expected job failures are logged as warnings by the SDK: keep test output to real errors.
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // already installed in this process
    }
    quiet = true;
  }
  const { address, namespace } = testServer();
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  const taskQueue = `wf-${randomUUID()}`;
  return {
    client,
    taskQueue,
    worker: async (activities, queue = taskQueue) => {
      const worker = await Worker.create({
        connection: native,
        namespace,
        taskQueue: queue,
        workflowBundle: testWorkflowBundle(),
        // The account-hold read is the real one (it asks the server); a test may replace it too.
        activities: { ...createAccountHoldActivities(), ...activities },
      });
      const running = worker.run();
      return {
        stop: async () => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        },
      };
    },
    close: async () => {
      await native.close();
      await connection.close();
    },
  };
}

/** A job plan with back-offs of a few milliseconds, so waits cost nothing. */
export function plan(project: string, overrides: Partial<JobPlan> = {}): JobPlan {
  return {
    project,
    kind: 'run',
    path: `/nowhere/${project}`,
    prompt: 'do the thing',
    promptFirstLine: 'do the thing',
    timeoutMs: 60_000,
    killGraceMs: 1000,
    heartbeatTimeoutMs: 10_000,
    usageLimitMarginMs: 0,
    usageLimitBackoffMs: 10,
    transientBackoffMs: 10,
    timezone: 'Europe/London',
    persistent: false,
    host: null,
    ...overrides,
  };
}

export function succeeded(result = 'Done: it works'): AgentRunResult {
  return bareRunResult('succeeded', 'agent succeeded', { result, costUsd: 0.01, numTurns: 2, durationMs: 5 });
}

/** A config snapshot of projects (all enabled, on the shared queue unless said otherwise). */
export function snapshot(
  taskQueue: string,
  projects: Array<Partial<ConfigSnapshot['projects'][number]> & { name: string }>,
  overrides: Partial<ConfigSnapshot> = {},
): ConfigSnapshot {
  return {
    timezone: 'Europe/London',
    concurrency: 2,
    taskQueue,
    hostWaitMs: 1000,
    jobSettings: {
      killGraceMs: 1000,
      heartbeatTimeoutMs: 10_000,
      usageLimitMarginMs: 0,
      usageLimitBackoffMs: 10,
      transientBackoffMs: 10,
    },
    projects: projects.map((p) => ({ enabled: true, host: null, persistent: false, ...p })),
    ...overrides,
  };
}

/** The timers the workflow started, in order, in milliseconds (from its history). */
export async function timersOf(handle: WorkflowHandle): Promise<number[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const t = e.timerStartedEventAttributes?.startToFireTimeout;
    return t ? [Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6)] : [];
  });
}

/** The workflow's outcome search attribute (what the Web UI's list filters on). */
export async function outcomeOf(handle: WorkflowHandle): Promise<unknown> {
  const d = await handle.describe();
  return d.typedSearchAttributes.getAll().find((p) => p.key.name === 'OrchestrateOutcome')?.value;
}

/**
 * A test file's scenarios (what its stubs do and what they were asked), each found by the workflow its activity
 * runs for: a batch by its workflow ID, a job by its project (`job/<project>`).
 */
export class Scenarios<S> {
  private readonly byBatch = new Map<string, S>();
  private readonly byProject = new Map<string, S>();

  /** `s` answers the batch `workflowId` and the jobs of `projects`. */
  add(workflowId: string, projects: string[], s: S): void {
    this.byBatch.set(workflowId, s);
    for (const p of projects) this.byProject.set(p, s);
  }

  /** The scenario of the workflow the current activity runs for. */
  current(): S {
    const id = Context.current().info.workflowExecution?.workflowId ?? '';
    const s = id.startsWith('job/') ? this.byProject.get(id.slice('job/'.length)) : this.byBatch.get(id);
    if (!s) throw new Error(`no scenario for ${id}`);
    return s;
  }
}

/** Unique project names for one test (jobs have one workflow ID per project). */
export function uniqueNames(...short: string[]): string[] {
  const tag = randomUUID().slice(0, 6);
  return short.map((s) => `${s}-${tag}`);
}
