// The agent job's rules, with stubbed activities: usage-limit waits, transient retries, cancels, setup errors.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import type { NotifyEvent } from '../../src/lib/notify';
import type { JobWorklogInput, WorklogCheck } from '../../src/temporal/activities';
import {
  ACCOUNT_HOLD_MEMO,
  AGENT_PROGRESS_SIGNAL,
  AGENT_STARTED_SIGNAL,
  SearchAttr,
  bareRunResult,
  type AgentProgressed,
  type AgentStarted,
  type AgentJobInput,
  type AgentRunResult,
  type JobPlan,
  type JobResult,
  type JobStartPlan,
  type RunAgentInput,
  isStartPlan,
} from '../../src/temporal/types';
import { JOB_FAILED, SETUP_ERROR, setupFailureWithResult } from '../../src/temporal/failures';
import { accountHoldWorkflowId } from '../../src/temporal/ids';
import { heldAcrossRunsResult } from '../../src/activities/accountHold';
import { waitFor, waitForDetails } from '../helpers/env';
import { outcomeOf, plan, stubEnv, succeeded, timersOf, type StubEnv } from './stubs';

/** What the stubs do for one project's job, and what they were asked. */
interface Job {
  prepareJob: (input: AgentJobInput) => Promise<JobPlan>;
  runAgentJob: (input: RunAgentInput, n: number) => Promise<AgentRunResult>;
  sendNotification: (event: NotifyEvent) => Promise<boolean>;
  /** EOD: the job's own work-log check. */
  checkJobWorklog?: (input: JobWorklogInput) => Promise<WorklogCheck>;
  worklogChecks?: JobWorklogInput[];
  prepared: number;
  runs: RunAgentInput[];
  events: NotifyEvent[];
}
const jobs = new Map<string, Job>();
const jobOf = (project: string): Job => {
  const job = jobs.get(project);
  if (!job) throw new Error(`no stubs for ${project}`);
  return job;
};

let env: StubEnv;
let worker: { stop: () => Promise<void> };
beforeAll(async () => {
  env = await stubEnv();
  // One worker for the file: each test's job finds its own stubs by project.
  worker = await env.worker({
    prepareJob: async (input) => {
      const job = jobOf(input.project);
      job.prepared++;
      return job.prepareJob(input);
    },
    runAgentJob: async (input) => {
      const job = jobOf(input.plan.project);
      job.runs.push(input);
      return job.runAgentJob(input, job.runs.length);
    },
    checkJobWorklog: async (input) => {
      const job = jobOf(input.project);
      (job.worklogChecks ??= []).push(input);
      if (!job.checkJobWorklog) throw new Error(`no work-log stub for ${input.project}`);
      return job.checkJobWorklog(input);
    },
    sendNotification: async (event) => {
      const job = jobOf((event as { project: string }).project);
      job.events.push(event);
      return job.sendNotification(event);
    },
  });
});
afterAll(async () => {
  await worker?.stop();
  await env?.close();
});

const usageLimit = (resetsAt: string | null = null) =>
  bareRunResult('usage_limit', 'usage limit reached', { usageLimitResetsAt: resetsAt });
const transient = () => bareRunResult('agent_error', 'API overloaded (529)', { transient: true });
/** A stub that reads the account's hold first, as the agent activity does before it launches (from the server). */
const throughHold =
  (run: Job['runAgentJob']): Job['runAgentJob'] =>
  async (input, n) =>
    (await heldAcrossRunsResult(
      { client: env.client, info: { taskQueue: env.taskQueue }, log: { warn: () => undefined } },
      input.plan,
    )) ?? run(input, n);

/** Starts one agentJob with these stubs; its handle, and what the stubs were asked. */
async function runJob(
  runAgentJob: Job['runAgentJob'],
  more: Partial<Pick<Job, 'prepareJob' | 'sendNotification' | 'checkJobWorklog'>> & {
    kind?: 'run' | 'eod';
    /** Start it with its plan in the input, as the CLI and batches do. */
    withPlan?: boolean;
  } = {},
) {
  const project = `p-${randomUUID().slice(0, 8)}`;
  const job: Job = {
    prepareJob: more.prepareJob ?? (async () => plan(project)),
    runAgentJob,
    sendNotification: more.sendNotification ?? (async () => true),
    checkJobWorklog: more.checkJobWorklog,
    prepared: 0,
    runs: [],
    events: [],
  };
  jobs.set(project, job);
  const handle = await env.client.workflow.start('agentJob', {
    taskQueue: env.taskQueue,
    workflowId: `job/${project}`,
    args: [
      {
        project,
        kind: more.kind ?? 'run',
        date: '2026-03-14',
        ...(more.withPlan ? { plan: startPlan(project, more.kind ?? 'run') } : {}),
      } satisfies AgentJobInput,
    ],
  });
  return { handle, runs: job.runs, events: job.events, project, job };
}

/** A starter's plan: the stub plan without its prompt, for the day. */
function startPlan(project: string, kind: 'run' | 'eod'): JobStartPlan {
  const { prompt: _rendered, ...settings } = plan(project, { kind });
  return { ...settings, date: '2026-03-14' };
}

/** The JobResult a failed job carries in its failure's details. */
async function failedJob(result: Promise<unknown>): Promise<JobResult> {
  const err = await result.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(JOB_FAILED);
  return (cause as ApplicationFailure).details?.[0] as JobResult;
}

test('a succeeded run is the job result; one run, no notification', async () => {
  const { handle, runs, events, project } = await runJob(async () => succeeded());
  const job = (await handle.result()) as JobResult;
  expect(job).toMatchObject({ outcome: 'succeeded', project, kind: 'run', workflowId: `job/${project}` });
  expect(runs).toHaveLength(1);
  expect(runs[0].transientRetriesLeft).toBe(3);
  expect(events).toEqual([]);
  expect(await outcomeOf(handle)).toBe('succeeded');
});

test('a job sets its cost in OrchestrateCostUsd when it ends, succeeded or not', async () => {
  const ok = await runJob(async () => succeeded());
  await ok.handle.result();
  expect((await ok.handle.describe()).typedSearchAttributes.get(SearchAttr.costUsd)).toBe(0.01);
  const failed = await runJob(async () => bareRunResult('agent_error', 'max turns', { costUsd: 0.25 }));
  await failedJob(failed.handle.result());
  expect((await failed.handle.describe()).typedSearchAttributes.get(SearchAttr.costUsd)).toBe(0.25);
  // No cost reported, no attribute (not a made-up 0).
  const setup = await runJob(async () => succeeded(), {
    prepareJob: async () => {
      throw ApplicationFailure.create({ type: SETUP_ERROR, message: 'no path', nonRetryable: true });
    },
  });
  await failedJob(setup.handle.result());
  expect((await setup.handle.describe()).typedSearchAttributes.get(SearchAttr.costUsd)).toBeUndefined();
});

test('an EOD job checks its own work log: written, it succeeds with the path; missing, the job fails', async () => {
  const written = await runJob(async () => succeeded(), {
    kind: 'eod',
    checkJobWorklog: async ({ project }) => ({ ok: true, path: `/logs/${project}.md`, reason: 'work log written' }),
  });
  const ok = (await written.handle.result()) as JobResult;
  expect(ok).toMatchObject({ outcome: 'succeeded', worklogPath: `/logs/${written.project}.md` });
  expect(written.job.worklogChecks).toHaveLength(1);
  expect(written.job.worklogChecks![0]).toMatchObject({ date: '2026-03-14', result: { outcome: 'succeeded' } });

  const missing = await runJob(async () => succeeded(), {
    kind: 'eod',
    checkJobWorklog: async ({ project }) => ({
      ok: false,
      path: `/logs/${project}.md`,
      reason: 'work log not written: docs/worklog/2026-03-14.md does not exist',
    }),
  });
  const failed = await failedJob(missing.handle.result());
  expect(failed).toMatchObject({
    outcome: 'agent_error',
    message: `${missing.project}: work log not written: docs/worklog/2026-03-14.md does not exist`,
    costUsd: 0.01,
    worklogPath: null,
  });
  expect(await outcomeOf(missing.handle)).toBe('agent_error');

  // A failed run is not checked; a run job never is.
  const crashed = await runJob(async () => bareRunResult('agent_error', 'max turns'), { kind: 'eod' });
  await failedJob(crashed.handle.result());
  const plain = await runJob(async () => succeeded());
  await plain.handle.result();
  expect([crashed.job.worklogChecks, plain.job.worklogChecks]).toEqual([undefined, undefined]);
});

test('at most 6 usage-limit waits, each announced; then the job reports usage_limit', async () => {
  const { handle, runs, events } = await runJob(async () => usageLimit());
  const job = await failedJob(handle.result());
  expect(job.outcome).toBe('usage_limit');
  expect(runs).toHaveLength(7);
  // Each run after a wait gets its own run folder.
  expect(new Set(runs.map((r) => r.runKey)).size).toBe(7);
  expect(runs.slice(1).every((r, i) => r.runKey === `${runs[0].runKey}-r${i + 1}`)).toBe(true);
  expect(events.map((e) => e.type)).toEqual(Array(6).fill('usage_limit_wait'));
  // Each wait is a durable timer.
  expect(await timersOf(handle)).toHaveLength(6);
  expect(await outcomeOf(handle)).toBe('usage_limit');
});

test("waits for the account's hold count as usage-limit waits: at most 6, none announced, no hold started", async () => {
  const account = `acct-${randomUUID().slice(0, 8)}`;
  // Its agent activity finds the account held every time (another run's job keeps hitting the limit).
  const held = () => {
    const until = new Date(Date.now() + 20).toISOString();
    return bareRunResult('usage_limit', 'not started: held', {
      usageLimitResetsAt: until,
      notLaunched: true,
      heldAcrossRuns: { project: 'elsewhere', until },
    });
  };
  const { handle, runs, events } = await runJob(async () => held(), {
    prepareJob: async (input) => plan(input.project, { account }),
  });
  const job = await failedJob(handle.result());
  expect(job.outcome).toBe('usage_limit');
  expect(runs).toHaveLength(7);
  expect(events).toEqual([]);
  expect(await timersOf(handle)).toHaveLength(6);
  // The job that hit the limit holds the account; this one started no hold of its own.
  const hold = env.client.workflow.getHandle(accountHoldWorkflowId(account, env.taskQueue));
  await expect(hold.describe()).rejects.toThrow();
});

test('a usage limit that resets: the job waits once and runs again', async () => {
  const { handle, runs } = await runJob(async (_, n) =>
    n === 1 ? usageLimit(new Date(Date.now() + 50).toISOString()) : succeeded(),
  );
  expect(((await handle.result()) as JobResult).outcome).toBe('succeeded');
  expect(runs).toHaveLength(2);
  expect(await timersOf(handle)).toHaveLength(1);
});

test('transient errors are retried up to 3 times with doubling back-off, then reported', async () => {
  const { handle, runs, events } = await runJob(async () => transient());
  const job = await failedJob(handle.result());
  expect(job.outcome).toBe('agent_error');
  expect(job.message).toBe('API overloaded (529) (still failing after 3 retries)');
  expect(runs.map((r) => r.transientRetriesLeft)).toEqual([3, 2, 1, 0]);
  expect(await timersOf(handle)).toEqual([10, 20, 40]);
  // Transient retries are not usage-limit waits: nothing is announced.
  expect(events).toEqual([]);
});

test('a transient error that passes: the job succeeds after one back-off', async () => {
  const { handle, runs } = await runJob(async (_, n) => (n === 1 ? transient() : succeeded()));
  expect(((await handle.result()) as JobResult).outcome).toBe('succeeded');
  expect(runs).toHaveLength(2);
  expect(await timersOf(handle)).toEqual([10]);
});

test('a job cancelled during its usage-limit wait is marked cancelled', async () => {
  // The reset is an hour away: the job is cancelled while it waits.
  const { handle, runs } = await runJob(async () => usageLimit(new Date(Date.now() + 3600_000).toISOString()));
  await waitForDetails(handle, /waiting for usage limit reset/);
  expect(await outcomeOf(handle)).toBe('usage_limit');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  expect(await outcomeOf(handle)).toBe('cancelled');
  expect(runs).toHaveLength(1);
});

test('a setup error is reported once, never retried, with a job_failed notification', async () => {
  const {
    handle,
    runs,
    events,
    project,
    job: stubs,
  } = await runJob(async () => succeeded(), {
    prepareJob: async () => {
      throw ApplicationFailure.create({ type: SETUP_ERROR, message: 'x: project path does not exist' });
    },
  });
  const job = await failedJob(handle.result());
  expect(job.outcome).toBe('setup_error');
  expect(job.message).toBe('x: project path does not exist');
  expect(stubs.prepared).toBe(1);
  expect(runs).toEqual([]);
  expect(events).toMatchObject([{ type: 'job_failed', project, outcome: 'setup_error' }]);
});

test('a job started with its plan runs no prepareJob: the agent activity gets the plan to render', async () => {
  const { handle, runs, job: stubs, project } = await runJob(async () => succeeded(), { withPlan: true });
  expect(((await handle.result()) as JobResult).outcome).toBe('succeeded');
  expect(stubs.prepared).toBe(0);
  expect(runs).toHaveLength(1);
  expect(isStartPlan(runs[0].plan)).toBe(true);
  expect(runs[0].plan).toMatchObject({ project, date: '2026-03-14', path: `/nowhere/${project}` });
  const history = await handle.fetchHistory();
  const activities = history.events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
  expect(activities).toEqual(['runAgentJob']);
});

test("a job started with its plan: the agent activity's setup error ends it as prepareJob's would", async () => {
  const { handle, runs } = await runJob(
    async () => {
      const message = 'x: project path does not exist';
      throw setupFailureWithResult(
        ApplicationFailure.create({ type: SETUP_ERROR, message, nonRetryable: true }),
        bareRunResult('setup_error', message),
      );
    },
    { withPlan: true },
  );
  const job = await failedJob(handle.result());
  expect(job).toMatchObject({ outcome: 'setup_error', message: 'x: project path does not exist' });
  expect(runs).toHaveLength(1);
  expect(await outcomeOf(handle)).toBe('setup_error');
});

test('a failing notification hook never changes the job', async () => {
  const { handle, runs, events } = await runJob(async (_, n) => (n === 1 ? usageLimit() : succeeded()), {
    sendNotification: async () => {
      throw ApplicationFailure.create({ message: 'hook exited 1', nonRetryable: true });
    },
  });
  expect(((await handle.result()) as JobResult).outcome).toBe('succeeded');
  expect(runs).toHaveLength(2);
  expect(events.map((e) => e.type)).toEqual(['usage_limit_wait']);
});

test("an activity failure that carries the agent's result reports that result", async () => {
  const { handle } = await runJob(async () => {
    throw ApplicationFailure.create({
      type: 'AgentCrashed',
      message: 'agent died',
      nonRetryable: true,
      details: [bareRunResult('crashed', 'p: the agent was killed by SIGKILL', { signal: 'SIGKILL' })],
    });
  });
  const job = await failedJob(handle.result());
  expect(job).toMatchObject({ outcome: 'crashed', message: 'p: the agent was killed by SIGKILL', signal: 'SIGKILL' });
});

test('a failure without a result: crashed, naming the project', async () => {
  const { handle, project } = await runJob(async () => {
    throw ApplicationFailure.create({ message: 'boom', nonRetryable: true });
  });
  const job = await failedJob(handle.result());
  expect(job.outcome).toBe('crashed');
  expect(job.message).toBe(`${project}: boom`);
  await waitFor('search attribute', async () => (await outcomeOf(handle)) === 'crashed');
});

test("the agent's progress signal shows its turn and tool in the job's current details; no command added", async () => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const { handle } = await runJob(async () => {
    await released;
    return succeeded();
  });
  await waitForDetails(handle, /^running agent in /);
  await handle.signal(AGENT_STARTED_SIGNAL, { pid: 4242 } satisfies AgentStarted);
  await waitForDetails(handle, /^running agent pid 4242 in /);
  const progressed: AgentProgressed = {
    pid: 4242,
    progress: { turn: 3, tool: 'Bash: npm test', costUsd: 0.0412, tokens: tokens(5_210) },
  };
  await handle.signal(AGENT_PROGRESS_SIGNAL, progressed);
  const details = await waitForDetails(handle, /Bash: npm test/);
  expect(details).toBe(
    `running agent pid 4242 in /nowhere/${handle.workflowId.slice(4)}\n\ndo the thing\n\nturn 3 · Bash: npm test · 5.2k tokens · $0.0412`,
  );
  release();
  await handle.result();
  // The handler only set details: between the agent activity's start and its result, the history holds the
  // two signals and workflow tasks, no command.
  const events = (await handle.fetchHistory()).events ?? [];
  const from = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAgentJob');
  const to = events.findIndex((e, i) => i > from && e.activityTaskCompletedEventAttributes);
  const between = events.slice(from + 1, to);
  expect(
    between
      .filter((e) => e.workflowExecutionSignaledEventAttributes)
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName),
  ).toEqual([AGENT_STARTED_SIGNAL, AGENT_PROGRESS_SIGNAL]);
  expect(
    between.filter(
      (e) =>
        !e.workflowExecutionSignaledEventAttributes &&
        !e.activityTaskStartedEventAttributes &&
        !e.workflowTaskScheduledEventAttributes &&
        !e.workflowTaskStartedEventAttributes &&
        !e.workflowTaskCompletedEventAttributes,
    ),
  ).toEqual([]);
});

function tokens(total: number) {
  return { input: total - 100, output: 100, cacheRead: 0, cacheCreation: 0 };
}

test("a usage limit holds the account's jobs outside any batch: a later job waits for the reset, one notification", async () => {
  const account = `acct-${randomUUID().slice(0, 8)}`;
  const prepareJob = async (input: AgentJobInput) => plan(input.project, { account });
  const resetsAt = Date.now() + 4_000;
  const first = await runJob(async (_, n) => (n === 1 ? usageLimit(new Date(resetsAt).toISOString()) : succeeded()), {
    prepareJob,
  });
  await waitForDetails(first.handle, /^waiting for usage limit reset/);
  // The hold lives in Temporal: a workflow with the account's ID and the reset in its memo.
  const hold = env.client.workflow.getHandle(accountHoldWorkflowId(account, env.taskQueue));
  const described = await hold.describe();
  expect(described.status.name).toBe('RUNNING');
  expect(described.memo?.[ACCOUNT_HOLD_MEMO]).toMatchObject({ account, project: first.project });

  const startedAt: number[] = [];
  const second = await runJob(
    throughHold(async () => {
      startedAt.push(Date.now());
      return succeeded();
    }),
    { prepareJob },
  );
  const details = await waitForDetails(second.handle, /^waiting for usage-limit reset at /);
  expect(details).toContain(`${first.project}'s job hit the usage limit of this agent account`);
  // Its agent activity found the account held and launched nothing.
  expect(startedAt).toHaveLength(0);

  expect(((await second.handle.result()) as JobResult).outcome).toBe('succeeded');
  expect(((await first.handle.result()) as JobResult).outcome).toBe('succeeded');
  // The later job launched its agent only after the reset, on a durable timer; the hold ended with it.
  expect(startedAt).toHaveLength(1);
  expect(startedAt[0]).toBeGreaterThanOrEqual(resetsAt);
  expect(second.runs).toHaveLength(2);
  expect(await timersOf(second.handle)).toHaveLength(1);
  // No local activity on the way: the hold was read by the agent activity.
  expect(JSON.stringify(await second.handle.fetchHistory())).not.toContain('readAccountHold');
  await hold.result();
  // One usage_limit_wait for the account and reset: the first job's.
  expect(first.events.map((e) => e.type)).toEqual(['usage_limit_wait']);
  expect(second.events).toEqual([]);
});

test('cancelling the job that holds its account ends the hold: the account’s next job runs at once', async () => {
  const account = `acct-${randomUUID().slice(0, 8)}`;
  const prepareJob = async (input: AgentJobInput) => plan(input.project, { account });
  const first = await runJob(async () => usageLimit(new Date(Date.now() + 3_600_000).toISOString()), { prepareJob });
  await waitForDetails(first.handle, /^waiting for usage limit reset/);
  const hold = env.client.workflow.getHandle(accountHoldWorkflowId(account, env.taskQueue));
  expect((await hold.describe()).status.name).toBe('RUNNING');
  await first.handle.cancel();
  await first.handle.result().catch(() => undefined);
  await waitFor('the hold to end', async () => (await hold.describe()).status.name === 'CANCELLED');
  const next = await runJob(
    throughHold(async () => succeeded()),
    { prepareJob },
  );
  expect(((await next.handle.result()) as JobResult).outcome).toBe('succeeded');
  expect(await timersOf(next.handle)).toEqual([]);
  expect(next.runs).toHaveLength(1);
});
