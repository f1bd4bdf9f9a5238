// The batches' rules, with stubbed activities: what a cycle gates and runs, how EOD and rollover decide,
// check work logs and write the digest, when a batch stands down, and that every project is accounted for.
import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import type { WorkflowActivities, WorklogCheck } from '../../src/temporal/activities';
import {
  BATCH_PROGRESS_QUERY,
  SearchAttr,
  bareRunResult,
  isStartPlan,
  type AgentRunResult,
  type BatchInput,
  type BatchKind,
  type BatchResult,
  type BatchRow,
  type ConfigSnapshot,
  type GateDecision,
} from '../../src/temporal/types';
import { tellFirstWaveSlot } from '../../src/activities/attemptContext';
import { Scenarios, plan, snapshot, stubEnv, succeeded, uniqueNames, type StubEnv } from './stubs';
import { waitFor } from '../helpers/env';

/** What the stubs do for one batch (and the jobs it starts), and what they were asked. */
interface Scenario {
  snap: ConfigSnapshot;
  gates?: (projects: string[]) => GateDecision[];
  /** Holds a gate evaluation (one chunk of projects) until it resolves. */
  gateHold?: (projects: string[]) => Promise<void>;
  otherRunning?: string | null;
  run?: (project: string) => AgentRunResult;
  verify?: (project: string) => WorklogCheck;
  /** Projects whose agent runs until the job is cancelled. */
  hangs?: string[];
  /** Activity names in the order they were called (job activities as `<name> <project>`). */
  calls: string[];
  gated: string[][];
  digests: Array<{ date: string; rows: BatchRow[]; kind: BatchKind }>;
  running: number;
  peak: number;
  /** Agents wait until this many run at once (no agent-slot cap here: what runs at once is what the batch started). */
  holdUntil?: number;
  /** Projects whose job returns at once, outside holdUntil's wait. */
  quick?: string[];
  held?: Array<() => void>;
  /** The job activities tell their batch run they have an agent slot (as a worker's do), when in its first wave. */
  tellsSlot?: boolean;
  /** The projects whose plan said they are in their batch run's first wave. */
  firstWave?: string[];
}
const scenarios = new Scenarios<Scenario>();
/** The scenario of the workflow this activity runs for: its batch, or the batch of its job. */
const scenario = () => scenarios.current();

const activities: Partial<WorkflowActivities> = {
  snapshotConfig: async () => {
    const s = scenario();
    s.calls.push('snapshotConfig');
    return s.snap;
  },
  openCycle: async () => {
    const s = scenario();
    s.calls.push('openCycle');
    return { snap: s.snap, otherRunning: s.otherRunning ?? null };
  },
  otherRunningBatch: async () => {
    const s = scenario();
    s.calls.push('otherRunningBatch');
    return s.otherRunning ?? null;
  },
  reapStaleSessions: async () => {
    scenario().calls.push('reapStaleSessions');
    return { reaped: [] };
  },
  evaluateGates: async ({ projects }) => {
    const s = scenario();
    s.calls.push('evaluateGates');
    s.gated.push(projects);
    await s.gateHold?.(projects);
    return s.gates
      ? s.gates(projects)
      : projects.map((project) => ({ project, decision: 'run', gate: 'all', reason: 'has work' }));
  },
  hostReady: async () => Context.current().info.taskQueue,
  checkJobWorklog: async ({ project }) => {
    const s = scenario();
    s.calls.push(`checkJobWorklog ${project}`);
    return s.verify?.(project) ?? { ok: true, path: `/logs/${project}.md`, reason: 'work log written' };
  },
  verifyWorklog: async ({ project }) => {
    const s = scenario();
    s.calls.push(`verifyWorklog ${project}`);
    return s.verify?.(project) ?? { ok: true, path: `/logs/${project}.md`, reason: 'work log written' };
  },
  writeDigest: async (input) => {
    const s = scenario();
    s.calls.push('writeDigest');
    s.digests.push(input);
    return `/digests/${input.date}.md`;
  },
  prepareJob: async (input) => plan(input.project, { kind: input.kind }),
  runAgentJob: async ({ plan: p }) => {
    const s = scenario();
    s.calls.push(`runAgentJob ${p.project}`);
    if (isStartPlan(p) && p.firstWaveOf) {
      (s.firstWave ??= []).push(p.project);
      if (s.tellsSlot) tellFirstWaveSlot(Context.current(), p.project, p.firstWaveOf);
    }
    s.running++;
    s.peak = Math.max(s.peak, s.running);
    try {
      if (s.holdUntil !== undefined && !s.quick?.includes(p.project)) {
        const held = (s.held ??= []);
        if (s.running >= s.holdUntil) {
          s.holdUntil = undefined;
          for (const release of held.splice(0)) release();
        } else await new Promise<void>((resolve) => held.push(resolve));
      }
      // Long enough for the jobs the semaphore lets through to overlap.
      await new Promise((r) => setTimeout(r, 200));
      // Until cancelled (heartbeats carry the cancel to the activity).
      while (s.hangs?.includes(p.project)) {
        Context.current().heartbeat();
        await Context.current().sleep(100);
      }
      return s.run?.(p.project) ?? succeeded(`Done: ${p.project}`);
    } finally {
      s.running--;
    }
  },
  sendNotification: async () => true,
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

type ProjectSpec = Partial<ConfigSnapshot['projects'][number]> & { name: string };

async function runBatch(
  kind: BatchKind,
  projects: ProjectSpec[],
  opts: Partial<Omit<Scenario, 'snap' | 'calls' | 'gated' | 'digests' | 'running' | 'peak'>> & {
    input?: BatchInput;
    concurrency?: number;
    /** Return once started, without waiting for the result. */
    started?: boolean;
    hostWaitMs?: number;
  } = {},
) {
  const s: Scenario = {
    snap: snapshot(env.taskQueue, projects, {
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      ...(opts.hostWaitMs ? { hostWaitMs: opts.hostWaitMs } : {}),
    }),
    ...opts,
    calls: [],
    gated: [],
    digests: [],
    running: 0,
    peak: 0,
  };
  const workflowId = `${kind}-${randomUUID()}`;
  scenarios.add(
    workflowId,
    projects.map((p) => p.name),
    s,
  );
  const handle = await env.client.workflow.start(kind, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [opts.input ?? {}],
  });
  if (opts.hangs || opts.started)
    return { result: null as unknown as BatchResult, row: () => null as unknown as BatchRow, s, handle };
  const result = (await handle.result()) as BatchResult;
  const row = (project: string) => {
    const r = result.rows.find((x) => x.project === project);
    if (!r) throw new Error(`no row for ${project}`);
    return r;
  };
  return { result, row, s, handle };
}

test('cycle: disabled projects skip the gates, gated ones run or skip, one failure never stops the others', async () => {
  const [ok, fails, nowork, off] = uniqueNames('ok', 'fails', 'nowork', 'off');
  const { result, row, s } = await runBatch(
    'cycle',
    [{ name: ok }, { name: fails }, { name: nowork }, { name: off, enabled: false }],
    {
      gates: (projects) =>
        projects.map((project) =>
          project === nowork
            ? { project, decision: 'skip', gate: 'command', reason: 'no work (gate command exit 1)' }
            : { project, decision: 'run', gate: 'all', reason: 'has work' },
        ),
      run: (project) => (project === fails ? bareRunResult('agent_error', `${project}: max turns`) : succeeded()),
    },
  );
  expect(result.refused).toBeNull();
  // In chunks: the first of `concurrency` (2) projects, then twice as many.
  expect(s.gated).toEqual([[ok, fails], [nowork]]);
  // The first chunk alone; the reaper once it is in.
  expect(s.calls.slice(0, 2)).toEqual(['openCycle', 'evaluateGates']);
  expect(s.calls.slice(2)).toContain('reapStaleSessions');
  expect(row(ok)).toMatchObject({ decision: 'run', status: 'succeeded', reason: 'Done: it works', costUsd: 0.01 });
  expect(row(ok).workflowId).toBe(`job/${ok}`);
  expect(row(fails)).toMatchObject({ decision: 'run', status: 'agent_error', reason: `${fails}: max turns` });
  expect(row(nowork)).toMatchObject({ decision: 'skip', status: 'skipped', reason: /no work/ });
  expect(row(off)).toMatchObject({
    decision: 'skip',
    status: 'skipped',
    reason: `disabled in config (enabled = false in [projects.${off}])`,
  });
  // A cycle writes no digest.
  expect(s.digests).toEqual([]);
  expect(result.digestPath).toBeNull();
});

test("a batch whose snapshot has the jobs' settings starts each job with its plan: no prepareJob", async () => {
  const [p, old] = uniqueNames('p', 'old');
  const { result, s } = await runBatch('rollover', [
    { name: p, path: `/nowhere/${p}`, timeoutMs: 60_000, resume: true },
    // A project as older snapshots had it (no timeout): its job prepares itself.
    { name: old, path: `/nowhere/${old}` },
  ]);
  expect(s.snap.jobSettings).toBeDefined();
  expect(result.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  const scheduled = async (project: string) =>
    (await env.client.workflow.getHandle(`job/${project}`).fetchHistory()).events!.flatMap(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
  expect(await scheduled(p)).toEqual(['runAgentJob']);
  expect(await scheduled(old)).toEqual(['prepareJob', 'runAgentJob']);
});

test('a batch starts `concurrency` jobs, then keeps up to 2 × `concurrency` in flight once one is done', async () => {
  // Seven jobs at concurrency 2. The first wave is c1 and c2; c1 is quick, and the others wait until four run at
  // once: the batch must widen to four after c1, never beyond. The agents themselves are capped by the
  // worker's agent slots, which these stubs leave out.
  const projects = uniqueNames('c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7');
  const { result, s } = await runBatch(
    'rollover',
    projects.map((name) => ({ name })),
    { concurrency: 2, holdUntil: 4, quick: [projects[0]] },
  );
  expect(result.rows.map((r) => r.status)).toEqual(Array(7).fill('succeeded'));
  const agentRuns = s.calls.filter((c) => c.startsWith('runAgentJob'));
  expect(agentRuns).toHaveLength(7);
  expect(agentRuns.slice(0, 2).sort()).toEqual([`runAgentJob ${projects[0]}`, `runAgentJob ${projects[1]}`].sort());
  expect(s.peak).toBe(4);
});

test("a batch widens to 2 × `concurrency` once its first wave's agents have their slots, before any is done", async () => {
  // Six jobs at concurrency 2, none quick: every agent waits until four run at once. Only the first wave's word
  // that their agents have slots can widen the batch (no job is done before four run).
  const projects = uniqueNames('w1', 'w2', 'w3', 'w4', 'w5', 'w6');
  const { result, s } = await runBatch(
    'rollover',
    // A folder and a timeout: the batch passes each job its plan (first-wave jobs are told so there).
    projects.map((name) => ({ name, path: `/work/${name}`, timeoutMs: 60_000 })),
    { concurrency: 2, holdUntil: 4, tellsSlot: true },
  );
  expect(result.rows.map((r) => r.status)).toEqual(Array(6).fill('succeeded'));
  expect(s.firstWave?.sort()).toEqual(projects.slice(0, 2).sort());
  // Each agent activity ran once: none timed out waiting (a batch that had not widened would leave two waiting).
  const agentRuns = s.calls.filter((c) => c.startsWith('runAgentJob'));
  expect(agentRuns).toHaveLength(6);
  expect(agentRuns.slice(0, 2).sort()).toEqual(
    projects
      .slice(0, 2)
      .map((p) => `runAgentJob ${p}`)
      .sort(),
  );
  expect(s.peak).toBe(4);
});

test('cycle: a host without a worker skips its projects, saying why; the others are gated and run', async () => {
  const [here, there] = uniqueNames('here', 'there');
  const { row, s } = await runBatch('cycle', [{ name: here }, { name: there, host: 'nohost' }]);
  expect(s.gated).toEqual([[here]]);
  expect(row(here).status).toBe('succeeded');
  expect(row(there)).toMatchObject({
    decision: 'error',
    status: 'skipped',
    reason: 'no worker for host nohost (start `orchestrate worker --host nohost` on it)',
  });
});

test.each(['cycle', 'eod', 'rollover'] as const)(
  'a %s stands down when another of its kind runs: nothing decided, run or written',
  async (kind) => {
    const [p] = uniqueNames('p');
    const { result, s } = await runBatch(kind, [{ name: p }], { otherRunning: `${kind}-other` });
    expect(result.refused).toBe(`another ${kind} is already running (${kind}-other); this one did nothing`);
    expect(result.rows).toEqual([]);
    expect(result.digestPath).toBeNull();
    // A cycle reads its snapshot and checks for another in one activity.
    expect(s.calls).toEqual(kind === 'cycle' ? ['openCycle'] : ['snapshotConfig', 'otherRunningBatch']);
  },
);

test("EOD: every enabled project runs without gates; a succeeded job's work log is checked; the digest lists all", async () => {
  const [writer, lazy, fails, off] = uniqueNames('writer', 'lazy', 'fails', 'off');
  const { result, row, s } = await runBatch(
    'eod',
    [{ name: writer }, { name: lazy }, { name: fails }, { name: off, enabled: false }],
    {
      input: { date: '2026-03-14' },
      run: (project) => (project === fails ? bareRunResult('agent_error', `${project}: failed`) : succeeded()),
      verify: (project) =>
        project === lazy
          ? { ok: false, path: `/logs/${project}.md`, reason: 'work log not written: it does not exist' }
          : { ok: true, path: `/logs/${project}.md`, reason: 'work log written' },
    },
  );
  expect(result.date).toBe('2026-03-14');
  expect(s.gated).toEqual([]);
  expect(row(writer)).toMatchObject({ status: 'succeeded', worklogPath: `/logs/${writer}.md` });
  // The job checks its own work log: a missing one fails the job, and so its row.
  expect(row(lazy)).toMatchObject({
    status: 'agent_error',
    reason: `${lazy}: work log not written: it does not exist`,
  });
  expect(s.calls).toEqual(expect.arrayContaining([`checkJobWorklog ${writer}`, `checkJobWorklog ${lazy}`]));
  expect(s.calls.some((c) => c.startsWith('verifyWorklog'))).toBe(false);
  // A failed job's work log is not checked.
  expect(row(fails).status).toBe('agent_error');
  expect(s.calls).not.toContain(`checkJobWorklog ${fails}`);
  expect(row(off)).toMatchObject({
    decision: 'skip',
    status: 'skipped',
    reason: 'disabled in config (enabled = false)',
  });
  // The digest comes last, from the finished rows.
  expect(s.calls[s.calls.length - 1]).toBe('writeDigest');
  expect(s.digests).toHaveLength(1);
  expect(s.digests[0]).toMatchObject({ date: '2026-03-14', kind: 'eod' });
  expect(s.digests[0].rows).toEqual(result.rows);
  expect(result.digestPath).toBe('/digests/2026-03-14.md');
});

test('EOD: a project pinned to a host without a worker is skipped after host_wait, saying why', async () => {
  const [here, there] = uniqueNames('here', 'there');
  const { row, s } = await runBatch('eod', [{ name: here }, { name: there, host: 'nohost' }]);
  expect(row(here).status).toBe('succeeded');
  expect(row(there)).toMatchObject({
    decision: 'error',
    status: 'skipped',
    reason: 'no worker for host nohost (start `orchestrate worker --host nohost` on it)',
  });
  expect(s.calls).not.toContain(`runAgentJob ${there}`);
});

test('rollover: an unknown project is an error row; no work log check, no digest', async () => {
  const [p] = uniqueNames('p');
  const { row, s, result } = await runBatch('rollover', [{ name: p }], { input: { projects: [p, 'nosuch'] } });
  expect(row(p).status).toBe('succeeded');
  expect(row('nosuch')).toMatchObject({ decision: 'error', status: 'skipped', reason: 'unknown project "nosuch"' });
  expect(s.calls.some((c) => /^(verifyWorklog|checkJobWorklog)/.test(c))).toBe(false);
  expect(s.digests).toEqual([]);
  expect(result.digestPath).toBeNull();
});

test('past its history limit a batch continues as new and still accounts for every project', async () => {
  const projects = uniqueNames('h1', 'h2', 'h3', 'h4', 'h5');
  const { result, handle, s } = await runBatch(
    'eod',
    projects.map((name) => ({ name })),
    { input: { historyEventsLimit: 30, date: '2026-03-15' }, concurrency: 1 },
  );
  expect(result.rows.map((r) => [r.project, r.status])).toEqual(projects.map((p) => [p, 'succeeded']));
  // Decided once (the fresh run carries the rows), the digest written once, by the last run.
  expect(s.calls.filter((c) => c === 'otherRunningBatch')).toHaveLength(1);
  expect(s.digests).toHaveLength(1);
  expect(s.digests[0].rows.map((r) => r.project)).toEqual(projects);
  const runs: string[] = [];
  for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
    runs.push(wf.runId);
  expect(runs.length).toBeGreaterThan(1);
});

/** The batch's status, OrchestrateOutcome and current details, as the Web UI's list and page show them. */
async function shown(handle: Awaited<ReturnType<typeof runBatch>>['handle']) {
  const d = await handle.describe();
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return {
    status: d.status.name,
    outcome: d.typedSearchAttributes.get(SearchAttr.outcome),
    details: metadata.currentDetails ?? '',
  };
}

test('a batch with a failed row is not green: outcome failed, counts that add up in its final details', async () => {
  const [a, b, c, gone] = uniqueNames('a', 'b', 'c', 'gone');
  const { handle, result } = await runBatch('cycle', [{ name: a }, { name: b }, { name: c }, { name: gone }], {
    gates: (projects) =>
      projects.map((project) =>
        project === gone
          ? { project, decision: 'error', gate: 'path', reason: `project path /x/${gone} does not exist` }
          : { project, decision: 'run', gate: 'all', reason: 'has work' },
      ),
  });
  expect(result.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'skipped']);
  const view = await shown(handle);
  expect(view).toMatchObject({ status: 'COMPLETED', outcome: 'failed' });
  expect(view.details).toContain('finished: 3 succeeded, 1 failed, 0 skipped');
  const fine = await runBatch('rollover', [{ name: uniqueNames('fine')[0] }]);
  expect((await shown(fine.handle)).outcome).toBe('succeeded');
});

test('a cycle cancelled while its jobs run ends Cancelled, its outcome cancelled, its jobs cancelled', async () => {
  const [slow] = uniqueNames('slow');
  const { handle, s } = await runBatch('cycle', [{ name: slow }], { hangs: [slow] });
  await waitFor('the job runs', async () => s.calls.includes(`runAgentJob ${slow}`), 30_000);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const view = await shown(handle);
  expect(view).toMatchObject({ status: 'CANCELLED', outcome: 'cancelled' });
  const table = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY);
  expect(table.rows.map((r) => [r.project, r.status])).toEqual([[slow, 'cancelled']]);
  const job = await env.client.workflow.getHandle(`job/${slow}`).describe();
  expect(job.status.name).toBe('CANCELLED');
});

/** The decisions of a gate stub: every project runs but `skipped`, which has no work. */
const gatesSkipping =
  (...skipped: string[]) =>
  (projects: string[]): GateDecision[] =>
    projects.map((project) =>
      skipped.includes(project)
        ? { project, decision: 'skip', gate: 'command', reason: 'no work (gate command exit 1)' }
        : { project, decision: 'run', gate: 'all', reason: 'has work' },
    );

/** A cycle over `projects` whose gate chunks that `holds` picks wait until `release` is called. */
async function cycleHoldingChunks(
  projects: string[],
  holds: (chunk: string[]) => boolean,
  gates: ReturnType<typeof gatesSkipping>,
  concurrency?: number,
) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const { handle, s } = await runBatch(
    'cycle',
    projects.map((name) => ({ name })),
    {
      started: true,
      gates,
      gateHold: (chunk) => (holds(chunk) ? released : Promise.resolve()),
      ...(concurrency ? { concurrency } : {}),
    },
  );
  return { handle, s, release };
}

test("cycle: gates in chunks; the first wave starts on its own chunk's decisions; the table ends as if gated first", async () => {
  // Eight projects at concurrency 2: chunks of 2, 4 and 2. The two later chunks are held until the test lets
  // them go, so the first jobs must start (and the table show the rest at their gates) before they return.
  const projects = uniqueNames('g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8');
  const { handle, s, release } = await cycleHoldingChunks(
    projects,
    (chunk) => !chunk.includes(projects[0]),
    gatesSkipping(projects[4]),
  );
  try {
    await waitFor('the first wave runs, the later chunks are at their gates', async () =>
      [0, 1].every((i) => s.calls.includes(`runAgentJob ${projects[i]}`)) && s.gated.length === 3 ? true : null,
    );
    expect(s.gated).toEqual([projects.slice(0, 2), projects.slice(2, 6), projects.slice(6)]);
    const table = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY);
    expect(table.rows.map((r) => r.project)).toEqual(projects);
    expect(table.rows.slice(2).map((r) => [r.status, r.reason])).toEqual(
      Array(6).fill(['pending', 'waiting for its gates']),
    );
    expect((await shown(handle)).details).toMatch(/, 6 at their gates/);
  } finally {
    release();
  }
  const result = (await handle.result()) as BatchResult;
  expect(result.rows.map((r) => [r.project, r.decision, r.status, r.reason])).toEqual(
    projects.map((p) =>
      p === projects[4]
        ? [p, 'skip', 'skipped', 'no work (gate command exit 1)']
        : [p, 'run', 'succeeded', `Done: ${p}`],
    ),
  );
  expect(s.calls.filter((c) => c.startsWith('runAgentJob')).length).toBe(7);
  // The first chunk went alone: the later chunks and the reaper were asked for once it had answered.
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = (name: string) =>
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name)
      .map((e) => Number(e.eventId));
  const [first, ...later] = scheduled('evaluateGates');
  const firstAnswered = events.find(
    (e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === first,
  )?.eventId;
  expect(later).toHaveLength(2);
  for (const id of [...later, ...scheduled('reapStaleSessions')]) expect(id).toBeGreaterThan(Number(firstAnswered));
});

test('cycle: a later chunk that answers first waits for the earlier one: jobs start in the batch order', async () => {
  // Six projects at concurrency 1: chunks of 1, 2 and 3. The second chunk is held; the third is decided meanwhile,
  // and none of its jobs may start before the second chunk's (they would start an account's jobs out of order).
  const projects = uniqueNames('o1', 'o2', 'o3', 'o4', 'o5', 'o6');
  const { handle, s, release } = await cycleHoldingChunks(
    projects,
    (chunk) => chunk.includes(projects[1]),
    gatesSkipping(),
    1,
  );
  const agents = () => s.calls.filter((c) => c.startsWith('runAgentJob ')).map((c) => c.slice('runAgentJob '.length));
  try {
    await waitFor('the last chunk decided', async () => {
      // (the query handler exists once the cycle's first workflow task ran)
      const table = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY).catch(() => null);
      return table?.rows.slice(3).every((r) => r.reason === 'has work') ? true : null;
    });
    expect(agents().filter((p) => p !== projects[0])).toEqual([]);
  } finally {
    release();
  }
  await handle.result();
  expect(agents().slice(0, 3).sort()).toEqual(projects.slice(0, 3).sort());
  expect(agents().sort()).toEqual([...projects].sort());
});

test('cycle: a host without a worker skips all its projects after one wait, whatever its number of chunks', async () => {
  // At concurrency 1, nohost's four projects are three chunks (1, 2, 1): the first one waits host_wait and times
  // out; the later ones are not asked for.
  const [here, ...there] = uniqueNames('here', 't1', 't2', 't3', 't4');
  const { result, handle, s } = await runBatch(
    'cycle',
    [{ name: here }, ...there.map((name) => ({ name, host: 'nohost' }))],
    { concurrency: 1 },
  );
  expect(s.gated).toEqual([[here]]);
  expect(result.rows.map((r) => [r.project, r.decision, r.status, r.reason])).toEqual([
    [here, 'run', 'succeeded', `Done: ${here}`],
    ...there.map((p) => [
      p,
      'error',
      'skipped',
      'no worker for host nohost (start `orchestrate worker --host nohost` on it)',
    ]),
  ]);
  const history = await handle.fetchHistory();
  const gateEvaluations = (history.events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'evaluateGates',
  );
  expect(gateEvaluations).toHaveLength(2);
});

test('cycle: past its history limit with gates still in flight, it continues as new once every gate decided', async () => {
  // Concurrency 1, six projects: chunks of 1, 2 and 3. The last chunk is out for two seconds, past the limit; the
  // fresh run must carry every decided row (none still at its gates) and gate nothing again.
  const projects = uniqueNames('h1', 'h2', 'h3', 'h4', 'h5', 'h6');
  const { result, handle, s } = await runBatch(
    'cycle',
    projects.map((name) => ({ name })),
    {
      concurrency: 1,
      input: { historyEventsLimit: 30 },
      gates: gatesSkipping(projects[5]),
      gateHold: (chunk) =>
        chunk.includes(projects[5]) ? new Promise((resolve) => setTimeout(resolve, 2000)) : Promise.resolve(),
    },
  );
  expect(result.rows.map((r) => [r.project, r.status])).toEqual(
    projects.map((p) => [p, p === projects[5] ? 'skipped' : 'succeeded']),
  );
  expect(s.gated).toEqual([projects.slice(0, 1), projects.slice(1, 3), projects.slice(3)]);
  expect(s.calls.filter((c) => c === 'openCycle')).toHaveLength(1);
  const runs: string[] = [];
  for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
    runs.push(wf.runId);
  expect(runs.length).toBeGreaterThan(1);
});

test('a cycle cancelled while gates are still out ends Cancelled; the rows still at their gates say cancelled', async () => {
  // slow's job runs until cancelled; held's gates wait for a worker of its host (none comes within the test).
  const [slow, held] = uniqueNames('slow', 'held');
  const { handle, s } = await runBatch('cycle', [{ name: slow }, { name: held, host: 'later' }], {
    hangs: [slow],
    hostWaitMs: 120_000,
  });
  await waitFor('the job runs', async () => s.calls.includes(`runAgentJob ${slow}`), 30_000);
  const gating = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY);
  expect(gating.rows.map((r) => [r.project, r.status, r.reason])).toEqual([
    [slow, 'running', 'has work'],
    [held, 'pending', 'waiting for its gates'],
  ]);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  expect(await shown(handle)).toMatchObject({ status: 'CANCELLED', outcome: 'cancelled' });
  const table = await handle.query<BatchResult>(BATCH_PROGRESS_QUERY);
  expect(table.rows.map((r) => [r.project, r.status])).toEqual([
    [slow, 'cancelled'],
    [held, 'cancelled'],
  ]);
  expect(table.rows[1].reason).toBe('batch cancelled before its gates decided');
});
