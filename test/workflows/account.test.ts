// One account, one limit, with stubbed activities: a job's usage limit holds the batch's unstarted jobs of the
// same agent account until the reset (one notification), its run after the wait resumes the session, and an
// auth failure skips the account's other jobs while other accounts' jobs run.
import { randomUUID } from 'node:crypto';
import type { WorkflowActivities } from '../../src/temporal/activities';
import {
  BATCH_PROGRESS_QUERY,
  USAGE_LIMIT_WAIT_NOTE,
  bareRunResult,
  type AgentRunResult,
  type BatchResult,
  type ConfigSnapshot,
  type RunAgentInput,
} from '../../src/temporal/types';
import type { NotifyEvent } from '../../src/lib/notify';
import { Scenarios, plan, snapshot, stubEnv, succeeded, uniqueNames, type StubEnv } from './stubs';
import { waitFor, waitForDetails } from '../helpers/env';

interface Scenario {
  snap: ConfigSnapshot;
  /** The job's result for its n-th run (0-based). */
  run: (project: string, n: number, input: RunAgentInput) => AgentRunResult | Promise<AgentRunResult>;
  /** Every agent run: project, when it started, what it was asked. */
  runs: Array<{ project: string; at: number; input: RunAgentInput }>;
  notifications: NotifyEvent[];
}
const scenarios = new Scenarios<Scenario>();
const scenario = () => scenarios.current();

const activities: Partial<WorkflowActivities> = {
  snapshotConfig: async () => scenario().snap,
  otherRunningBatch: async () => null,
  openCycle: async () => ({ snap: scenario().snap, otherRunning: null }),
  reapStaleSessions: async () => ({ reaped: [] }),
  evaluateGates: async ({ projects }) =>
    projects.map((project) => ({ project, decision: 'run', gate: 'all', reason: 'has work' })),
  prepareJob: async (input) => {
    const account = scenario().snap.projects.find((p) => p.name === input.project)?.account;
    return plan(input.project, { kind: input.kind, account, resume: true });
  },
  runAgentJob: async (input) => {
    const s = scenario();
    const n = s.runs.filter((r) => r.project === input.plan.project).length;
    s.runs.push({ project: input.plan.project, at: Date.now(), input });
    return s.run(input.plan.project, n, input);
  },
  sendNotification: async (event) => {
    scenario().notifications.push(event);
    return true;
  },
};

let env: StubEnv;
let worker: { stop: () => Promise<void> };
beforeAll(async () => {
  env = await stubEnv();
  worker = await env.worker(activities);
});
afterAll(async () => {
  await worker?.stop();
  await env?.close();
});

/** Starts a cycle over `projects` whose agent runs `run` answers. */
async function startCycle(
  projects: Array<{ name: string; account: string }>,
  run: Scenario['run'],
  concurrency: number,
) {
  const s: Scenario = { snap: snapshot(env.taskQueue, projects, { concurrency }), run, runs: [], notifications: [] };
  const workflowId = `cycle-${randomUUID()}`;
  scenarios.add(
    workflowId,
    projects.map((p) => p.name),
    s,
  );
  const handle = await env.client.workflow.start('cycle', { taskQueue: env.taskQueue, workflowId, args: [{}] });
  return { handle, s };
}

async function runCycle(
  projects: Array<{ name: string; account: string }>,
  run: Scenario['run'],
  concurrency: number,
): Promise<{ result: BatchResult; s: Scenario }> {
  const { handle, s } = await startCycle(projects, run, concurrency);
  return { result: (await handle.result()) as BatchResult, s };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a job's usage limit holds the account's unstarted jobs until the reset; one notification; the job resumes", async () => {
  const [limited, slow, held1, held2, other] = uniqueNames('limited', 'slow', 'held1', 'held2', 'other');
  let resetAt = 0;
  const { result, s } = await runCycle(
    [
      { name: limited, account: 'acct-a' },
      { name: slow, account: 'acct-a' },
      { name: held1, account: 'acct-a' },
      { name: held2, account: 'acct-a' },
      { name: other, account: 'acct-b' },
    ],
    async (project, n) => {
      if (project === limited && n === 0) {
        resetAt = Date.now() + 4000;
        return bareRunResult('usage_limit', `${project}: usage limit reached`, {
          usageLimitResetsAt: new Date(resetAt).toISOString(),
          sessionId: 'session-of-limited',
        });
      }
      // Still running when the limit is reported: it was started before anyone knew.
      if (project === slow) await sleep(1500);
      return succeeded(`Done: ${project}`);
    },
    2,
  );
  expect(result.rows.map((r) => r.status)).toEqual(Array(5).fill('succeeded'));
  const startedBeforeReset = s.runs.filter((r) => r.at < resetAt).map((r) => r.project);
  // The other account's job ran during the wait; the limited account's unstarted jobs waited for the reset.
  expect(startedBeforeReset.sort()).toEqual([limited, slow, other].sort());
  expect(s.runs.filter((r) => r.project === held1 || r.project === held2)).toHaveLength(2);
  expect(s.notifications.filter((e) => e.type === 'usage_limit_wait')).toHaveLength(1);
  const again = s.runs.filter((r) => r.project === limited);
  expect(again).toHaveLength(2);
  expect(again[0].input.resumeSessionId).toBeUndefined();
  expect(again[1].input.resumeSessionId).toBe('session-of-limited');
});

test('the usage_limit_wait names the job that hit the limit, not one its worker launched no agent for', async () => {
  // Both start at once (concurrency 2). The worker knew the account held when held's turn came, so held's job
  // reports first, launched nothing, and waits; the job that hit the limit reports after it.
  const [limited, held] = uniqueNames('limited', 'held');
  const resetAt = Date.now() + 3000;
  const limit = (project: string, extra: Partial<AgentRunResult>) =>
    bareRunResult('usage_limit', `${project}: usage limit reached`, {
      usageLimitResetsAt: new Date(resetAt).toISOString(),
      ...extra,
    });
  const { result, s } = await runCycle(
    [
      { name: limited, account: 'acct-n' },
      { name: held, account: 'acct-n' },
    ],
    async (project, n) => {
      if (n > 0) return succeeded(`Done: ${project}`);
      if (project === held) return limit(project, { notLaunched: true });
      await sleep(500);
      return limit(project, {});
    },
    2,
  );
  expect(result.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  const waits = s.notifications.filter((e) => e.type === 'usage_limit_wait');
  expect(waits.map((e) => e.project)).toEqual([limited]);
});

test("an auth failure skips the account's other jobs with its reason; other accounts' jobs run", async () => {
  const [first, second, third, other] = uniqueNames('first', 'second', 'third', 'other');
  const { result, s } = await runCycle(
    [
      { name: first, account: 'acct-a' },
      { name: second, account: 'acct-a' },
      { name: third, account: 'acct-a' },
      { name: other, account: 'acct-b' },
    ],
    (project) =>
      project === first
        ? {
            ...bareRunResult('agent_error', `${project}: agent is not authenticated — run \`claude /login\``),
            authFailure: true,
          }
        : succeeded(),
    1,
  );
  const row = (p: string) => result.rows.find((r) => r.project === p);
  expect(row(first)).toMatchObject({ status: 'agent_error' });
  for (const p of [second, third]) {
    expect(row(p)).toMatchObject({ status: 'skipped', reason: expect.stringContaining('claude /login') });
  }
  expect(row(other)).toMatchObject({ status: 'succeeded' });
  expect(s.runs.map((r) => r.project)).toEqual([first, other]);
  expect(s.notifications).toEqual([]);
});

test("a job held by another run's hold: its row says it waits; the batch holds the account's next job; no notice", async () => {
  const [held, other, next] = uniqueNames('held', 'other', 'next');
  const until = Date.now() + 2500;
  const projects = [
    { name: held, account: 'acct-h' },
    { name: other, account: 'acct-o' },
    { name: next, account: 'acct-h' },
  ];
  const { handle, s } = await startCycle(
    projects,
    async (project, n) => {
      // The worker's agent activity found the account held by a job of another run: it launched nothing.
      if (project === held && n === 0)
        return bareRunResult('usage_limit', `${project}: not started: its account is held`, {
          notLaunched: true,
          heldAcrossRuns: { project: 'elsewhere', until: new Date(until).toISOString() },
        });
      if (project === other) await sleep(1000);
      return succeeded();
    },
    2,
  );
  await waitFor('the held row to say it waits for the reset', async () => {
    // (No answer before the batch's first workflow task has registered its query.)
    const p = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY).catch(() => null);
    const row = p?.rows.find((r) => r.project === held);
    return row?.status === 'running' && row.reason.startsWith(USAGE_LIMIT_WAIT_NOTE);
  });
  const result = (await handle.result()) as BatchResult;
  expect(result.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  // The account's next job started no agent before the hold's end; nobody was notified twice (the hold did).
  const nextRun = s.runs.find((r) => r.project === next);
  expect(nextRun && nextRun.at).toBeGreaterThanOrEqual(until);
  expect(s.notifications).toEqual([]);
});

test('the hold lives in the workflow: a worker restarted during it keeps the held job waiting for the reset', async () => {
  const [limited, slow, held] = uniqueNames('limited', 'slow', 'held');
  let resetAt = 0;
  const projects = [
    { name: limited, account: 'acct-a' },
    { name: slow, account: 'acct-b' },
    { name: held, account: 'acct-a' },
  ];
  const { handle, s } = await startCycle(
    projects,
    async (project, n) => {
      if (project === limited && n === 0) {
        resetAt = Date.now() + 6000;
        return bareRunResult('usage_limit', `${project}: usage limit reached`, {
          usageLimitResetsAt: new Date(resetAt).toISOString(),
        });
      }
      // Holds the second slot until the limit is known: then the held job gets the slot and is held.
      if (project === slow) await sleep(1500);
      return succeeded();
    },
    2,
  );
  await waitForDetails(handle, new RegExp(`${held} \\| waiting for usage-limit reset at`), 30_000);
  await worker.stop();
  worker = await env.worker(activities);
  const result = (await handle.result()) as BatchResult;
  expect(result.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  const heldRun = s.runs.find((r) => r.project === held);
  expect(heldRun && heldRun.at).toBeGreaterThanOrEqual(resetAt);
});
