// Re-records the workflow histories that test/replay.test.ts replays (test/histories/*.json): runs each workflow
// type once on the test dev server, with the fake agent, and saves its event history as the JSON of
// `(await handle.fetchHistory()).toJSON()` (protobufjs: int64 as strings, enum names, bytes in base64). Not part
// of `npm test` (the name does not end in .test.ts); run it with `npm run record-histories`, which is
//   jest --testMatch '**/test/record-histories.ts' --forceExit
// Re-record only when a workflow change is intended AND safe for workflows already running: see docs/deploy.md.
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import execa from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jobResult, startBatch, startJob } from '../src/temporal/client';
import type { BatchResult, JobResult } from '../src/temporal/types';
import { Tmux } from '../src/persistent/tmux';
import { accountHoldWorkflowId } from '../src/temporal/ids';
import { startAccountHold } from './helpers/accountHold';
import { makeEnv, waitFor, waitForDetails, type TestEnv } from './helpers/env';

const HISTORIES_DIR = path.join(__dirname, 'histories');
const FAKE_TUI = path.resolve(__dirname, 'fixtures/fake-claude-tui.js');
/** Set in a project's agent env: agent env values never reach workflow history, and the check below proves it. */
const PLANTED_SECRET = `rp-planted-secret-${randomBytes(8).toString('hex')}`;
const TMUX_SOCKET = `orch-rp-${randomBytes(4).toString('hex')}`;
const HAVE_TMUX = execa.sync('tmux', ['-V'], { reject: false }).exitCode === 0;

let env: TestEnv;

beforeAll(async () => {
  mkdirSync(HISTORIES_DIR, { recursive: true });
  env = await makeEnv({
    concurrency: 2,
    projects: {
      // agentJob
      rpok: `prompt = "Fix the bug"\n[projects.rpok.agent]\nenv = { RP_SECRET = "${PLANTED_SECRET}" }`,
      rpfail: 'prompt = "[scenario:error_max_turns]"',
      // started with its plan, its agent command is not installed: the agent activity's setup error
      rpnoagent: 'prompt = "never runs"\n[projects.rpnoagent.agent]\ncommand = "orchestrate-no-such-agent"',
      rplimit: 'prompt = "[scenario:usage_limit_once:whenever]"',
      rptransient: 'prompt = "[scenario:api_error:529:1]"',
      // hits the usage limit every time; its reset (1pm London) is hours away: cancelled while it waits
      rpwait: 'prompt = "[scenario:usage_limit]"',
      // pinned to a host no worker serves: EOD skips it after host_wait
      rphost: 'host = "rp-nohost"\neod_prompt = "never runs"',
      rptmx: `prompt = "persistent job"\n[projects.rptmx.agent]\ninteractive_command = "node '${FAKE_TUI}'"\ntimeout = "30s"`,
      // cycle: two run, one disabled, one without work
      rpc1: 'prompt = "[scenario:slow:1]"',
      rpc2: 'prompt = "cycle job"',
      rpcoff: 'enabled = false',
      rpcnowork: '[projects.rpcnowork.gates]\ncommand = "test -s TODO.md"',
      // cycle with the 2 × concurrency window: five jobs, four in flight at concurrency 2
      rpw1: 'prompt = "[scenario:slow:1]"',
      rpw2: 'prompt = "[scenario:slow:1]"',
      rpw3: 'prompt = "[scenario:slow:1]"',
      // eod and rollover
      rpe1: 'eod_prompt = "Write the log [write:{worklog_path}]"\nrollover_prompt = "carry {yesterday} into {date}"',
      rpeoff: 'enabled = false',
      // eod: exits 0 without writing its work log (the job itself fails it)
      rpelazy: 'eod_prompt = "[scenario:noop]"',
      // cycle: cancelled while its job runs
      rpcslow: 'prompt = "[scenario:slow:60]"',
      // one account, one limit: rpalim's usage limit holds rpaheld (same account) until the reset; rpanologin's
      // auth failure (slowed, so the limit is known first) skips rpaskip (its account)
      rpalim: 'prompt = "[scenario:usage_limit_once:in 1m]"\n[projects.rpalim.agent]\naccount = "rp-a"',
      rpanologin:
        'prompt = "[scenario:not_logged_in]"\n[projects.rpanologin.agent]\naccount = "rp-b"\nenv = { FAKE_CLAUDE_SLEEP_MS = "3000" }',
      rpaskip: 'prompt = "never runs"\n[projects.rpaskip.agent]\naccount = "rp-b"',
      rpaheld: 'prompt = "held job"\n[projects.rpaheld.agent]\naccount = "rp-a"',
      // the early window: rpbheld (rpblim's account) starts while rpblim runs, its worker launches no agent once
      // rpblim hit the limit, and it waits in its own workflow (its row says so); rpbother is another account
      rpblim: 'prompt = "[scenario:usage_limit_once:in 1m]"\n[projects.rpblim.agent]\naccount = "rp-c"',
      rpbother: 'prompt = "[scenario:slow:3]"\n[projects.rpbother.agent]\naccount = "rp-d"',
      rpbheld: 'prompt = "held in its job"\n[projects.rpbheld.agent]\naccount = "rp-c"',
      // a batch's job held by another run's hold of its account (started by hand here): it tells its batch
      rpqheld: 'prompt = "held by another run"\n[projects.rpqheld.agent]\naccount = "rp-q"',
      // one account, one limit across separate runs: rpxlim's usage limit holds the account in Temporal, and
      // rpxheld (a run of its own, same account) waits for the reset before it launches
      rpxlim: 'prompt = "[scenario:usage_limit_once:in 1m]"\n[projects.rpxlim.agent]\naccount = "rp-x"',
      rpxheld: 'prompt = "held elsewhere"\n[projects.rpxheld.agent]\naccount = "rp-x"',
      // an account's job cancelled while it waits for its reset: the hold it started is cancelled with it
      rpzcancel: 'prompt = "[scenario:usage_limit]"\n[projects.rpzcancel.agent]\naccount = "rp-z"',
      // a job of an account nothing holds: its agent activity reads the hold and launches
      rpyok: 'prompt = "not held"\n[projects.rpyok.agent]\naccount = "rp-y"',
      // jobs that record one patch marker for all of agentJob's branches: a success, and a usage-limit wait
      rpone: 'prompt = "one marker"',
      rponelimit: 'prompt = "[scenario:usage_limit_once:whenever]"',
    },
    orchestratorExtra: [
      `tmux_socket = "${TMUX_SOCKET}"`,
      'idle_seconds = 1',
      'persistent = ["rptmx"]',
      'transient_backoff = "1s"',
      'host_wait = "2s"',
    ],
  });
});

afterAll(async () => {
  await env?.stop();
  if (HAVE_TMUX) {
    await new Tmux(TMUX_SOCKET).killServer().catch(() => undefined);
    // tmux leaves its socket file behind.
    const uid = process.getuid?.() ?? 0;
    rmSync(path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${uid}`, TMUX_SOCKET), { force: true });
  }
});

/**
 * Fetches the history, checks it leaks nothing secret, and writes test/histories/<name>.json. Returns the JSON
 * followed by every payload decoded, for the checks below.
 */
async function save(name: string, handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  // Identities (`<pid>@<hostname>`) and the sticky task queues named after them: keep host names out of the
  // repository. Replay ignores both.
  const hostname = os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const json = JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON(), null, 2)
    .replace(/("identity":\s*)"[^"]*"/g, '$1"orchestrate-recorder"')
    .replace(new RegExp(`\\d+@${hostname}`, 'g'), 'orchestrate-recorder');
  const readable = `${json}\n${payloadTexts(JSON.parse(json)).join('\n')}`;
  const leaks = [PLANTED_SECRET, ...secretEnvValues()].filter((s) => readable.includes(s));
  if (leaks.length) throw new Error(`${name}: the history contains a secret value; not written`);
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json.endsWith('\n') ? json : `${json}\n`);
  return readable;
}

/** Every payload's data, decoded (payloads are base64 in the JSON, so a plain search would miss them). */
function payloadTexts(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) payloadTexts(x, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'data' && typeof v === 'string') out.push(Buffer.from(v, 'base64').toString('utf8'));
      else payloadTexts(v, out);
    }
  }
  return out;
}

/** Values of this process's env vars that look like credentials (API keys, tokens, passwords). */
function secretEnvValues(): string[] {
  return Object.entries(process.env)
    .filter(([k, v]) => /KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL/i.test(k) && v && v.length >= 8)
    .map(([, v]) => v as string);
}

async function job(project: string): Promise<{ result: JobResult; handle: WorkflowHandle }> {
  const { handle } = await startJob(env.client, env.config, { project, kind: 'run' });
  return { result: await jobResult(handle, project), handle };
}

async function batch(kind: 'cycle' | 'eod' | 'rollover', projects: string[], date?: string) {
  const handle = await startBatch(env.client, env.config, kind, { projects, ...(date ? { date } : {}) });
  return { result: (await handle.result()) as BatchResult, handle };
}

const status = (r: BatchResult, project: string) => r.rows.find((x) => x.project === project)?.status;

test('agentJob: succeeded', async () => {
  const { result, handle } = await job('rpok');
  expect(result.outcome).toBe('succeeded');
  // The payload decoding the secret check relies on works: the result is there in clear.
  expect(await save('agentJob-succeeded', handle)).toContain('Done: Fix the bug');
});

test('agentJob: started with its plan (no prepareJob, no agent-pid signal), succeeded', async () => {
  const { result, handle } = await job('rpok');
  expect(result.outcome).toBe('succeeded');
  const json = await save('agentJob-lean', handle);
  expect(json).toContain('lean-job-plan-in-input');
  expect(json).not.toContain('"prepareJob"');
  expect(json).not.toContain('agentStarted');
});

test('agentJob: started with its plan, a setup error in the agent activity', async () => {
  const { result, handle } = await job('rpnoagent');
  expect(result.outcome).toBe('setup_error');
  const json = await save('agentJob-lean-setup_error', handle);
  expect(json).toContain('lean-job-plan-in-input');
});

test('cycle: start-up steps at once, its jobs started with their plans', async () => {
  const { result, handle } = await batch('cycle', ['rpc1', 'rpc2', 'rpcoff', 'rpcnowork']);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([
    ['rpc1', 'succeeded'],
    ['rpc2', 'succeeded'],
    ['rpcoff', 'skipped'],
    ['rpcnowork', 'skipped'],
  ]);
  const json = await save('cycle-start_at_once', handle);
  expect(json).toContain('cycle-start-at-once');
  const child = await save('agentJob-lean-cycle', env.client.workflow.getHandle('job/rpc2'));
  expect(child).toContain('lean-job-plan-in-input');
});

/** A cycle whose gates go in two chunks at concurrency 2 (rpc1, rpc2; then rpw1, rpcnowork; rpcoff is not gated). */
async function gatedCycle(): Promise<WorkflowHandle> {
  const { result, handle } = await batch('cycle', ['rpc1', 'rpc2', 'rpcoff', 'rpw1', 'rpcnowork']);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([
    ['rpc1', 'succeeded'],
    ['rpc2', 'succeeded'],
    ['rpcoff', 'skipped'],
    ['rpw1', 'succeeded'],
    ['rpcnowork', 'skipped'],
  ]);
  return handle;
}

test("cycle: gates in chunks, each job started as soon as its own chunk's gates said run", async () => {
  const handle = await gatedCycle();
  const json = await save('cycle-gates_in_chunks', handle);
  expect(json).toContain('cycle-gates-in-chunks');
  expect(json.match(/"evaluateGates"/g)).toHaveLength(2);
});

test("cycle: snapshot and overlap check in one activity, the first chunk's gates alone, the rest after", async () => {
  const handle = await gatedCycle();
  const json = await save('cycle-first_wave_sooner', handle);
  expect(json).toContain('cycle-first-wave-sooner');
  expect(json).toContain('"openCycle"');
  const events = JSON.parse(json.slice(0, json.indexOf('\n}\n') + 2)).events as Array<{
    eventId: string;
    activityTaskScheduledEventAttributes?: { activityType: { name: string } };
    activityTaskCompletedEventAttributes?: { scheduledEventId: string };
  }>;
  const scheduled = (name: string) =>
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === name).map((e) => +e.eventId);
  const [first, second] = scheduled('evaluateGates');
  const answered = +events.find((e) => +(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? 0) === first)!
    .eventId;
  expect(second).toBeGreaterThan(answered);
  expect(scheduled('reapStaleSessions')[0]).toBeGreaterThan(answered);
});

test('agentJob: agent_error', async () => {
  const { result, handle } = await job('rpfail');
  expect(result.outcome).toBe('agent_error');
  await save('agentJob-agent_error', handle);
});

test('agentJob: usage-limit wait (durable timer), then succeeded', async () => {
  const { result, handle } = await job('rplimit');
  expect(result.outcome).toBe('succeeded');
  const json = await save('agentJob-usage_limit_wait', handle);
  expect(json).toContain('EVENT_TYPE_TIMER_FIRED');
});

test('agentJob: a transient API error (529), a durable back-off, then succeeded', async () => {
  const { result, handle } = await job('rptransient');
  expect(result.outcome).toBe('succeeded');
  const json = await save('agentJob-transient_retry', handle);
  expect(json).toContain('EVENT_TYPE_TIMER_FIRED');
});

test('agentJob: cancelled while it waits for the usage limit to reset', async () => {
  const { handle } = await startJob(env.client, env.config, { project: 'rpwait', kind: 'run' });
  await waitForDetails(handle, /^waiting for usage limit reset/);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const json = await save('agentJob-cancelled_wait', handle);
  expect(json).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED');
});

test('agentJob: an account’s job cancelled while it waits for the reset: the hold it started is cancelled too', async () => {
  const { handle } = await startJob(env.client, env.config, { project: 'rpzcancel', kind: 'run' });
  await waitForDetails(handle, /^waiting for usage limit reset/);
  const hold = env.client.workflow.getHandle(accountHoldWorkflowId('account:rp-z', env.taskQueue));
  await waitFor('the account hold', async () => (await hold.describe()).status.name === 'RUNNING');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  await expect(hold.result()).rejects.toThrow();
  const json = await save('agentJob-cancelled_hold', handle);
  expect(json).toContain('EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED');
  expect(json).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED');
  await save('accountHold-cancelled', hold);
});

(HAVE_TMUX ? test : test.skip)('agentJob: persistent project (tmux session)', async () => {
  const { result, handle } = await job('rptmx');
  expect(result).toMatchObject({ outcome: 'succeeded', result: 'Done: persistent job', costUsd: null });
  await save('agentJob-persistent', handle);
});

test('cycle: gates, two jobs, a disabled and a no-work project skipped', async () => {
  const { result, handle } = await batch('cycle', ['rpc1', 'rpc2', 'rpcoff', 'rpcnowork']);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([
    ['rpc1', 'succeeded'],
    ['rpc2', 'succeeded'],
    ['rpcoff', 'skipped'],
    ['rpcnowork', 'skipped'],
  ]);
  await save('cycle', handle);
});

test("cycle: a usage limit holds the account's next job until the reset (resumed session); an auth failure skips", async () => {
  const { result, handle } = await batch('cycle', ['rpalim', 'rpanologin', 'rpaskip', 'rpaheld']);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([
    ['rpalim', 'succeeded'],
    ['rpanologin', 'agent_error'],
    ['rpaskip', 'skipped'],
    ['rpaheld', 'succeeded'],
  ]);
  const json = await save('cycle-account_hold', handle);
  expect(json).toContain('account-hold');
  expect(json).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
  const child = await save('agentJob-account_limit_resume', env.client.workflow.getHandle('job/rpalim'));
  expect(child).toContain('account-limit-signal');
  expect(child).toContain('resume-agent-session');
}, 180_000);

/** A cycle of five jobs at concurrency 2, all succeeded, saved as `name`: what its window did is in the history. */
async function windowCycle(name: string): Promise<string> {
  const projects = ['rpc1', 'rpc2', 'rpw1', 'rpw2', 'rpw3'];
  const { result, handle } = await batch('cycle', projects);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual(projects.map((p) => [p, 'succeeded']));
  return save(name, handle);
}

test('cycle: with the early window, a job of a limited account waits in its own workflow (a notLaunched signal, the row timer)', async () => {
  const { result, handle } = await batch('cycle', ['rpblim', 'rpbother', 'rpbheld']);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([
    ['rpblim', 'succeeded'],
    ['rpbother', 'succeeded'],
    ['rpbheld', 'succeeded'],
  ]);
  const readable = await save('cycle-limit_early_window', handle);
  expect(readable).toContain('batch-window-at-first-wave-slots');
  expect(readable).toContain('usage-limit-wait-from-launched-job');
  expect(readable).toContain('"notLaunched":true');
  expect(readable).toContain('EVENT_TYPE_TIMER_STARTED');
}, 180_000);

test("agentJob: a batch's job held by another run's account hold tells its batch, then waits", async () => {
  const until = new Date(Date.now() + 3_000).toISOString();
  const { hold } = await startAccountHold(env.client, env.taskQueue, 'account:rp-q', until);
  const { result } = await batch('cycle', ['rpqheld']);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([['rpqheld', 'succeeded']]);
  await hold.result();
  const readable = await save('agentJob-held_across_runs_tells_batch', env.client.workflow.getHandle('job/rpqheld'));
  expect(readable).toContain('held-across-runs-tells-batch');
  expect(readable).toContain('EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED');
});

test('cycle: concurrency children, then up to 2 × concurrency in flight once one is done (batch-child-window)', async () => {
  expect(await windowCycle('cycle-child_window')).toContain('batch-child-window');
});

test("cycle: the window opens once the first wave's agents have worker slots (batch-window-at-first-wave-slots)", async () => {
  const readable = await windowCycle('cycle-window_at_first_wave_slots');
  expect(readable).toContain('batch-window-at-first-wave-slots');
  expect(readable).toContain('firstWaveAgentSlot');
});

test('agentJob: a usage limit holds the account in Temporal; a separate run of the account waits for it', async () => {
  const limited = await startJob(env.client, env.config, { project: 'rpxlim', kind: 'run' });
  await waitForDetails(limited.handle, /^waiting for usage limit reset/);
  const held = await startJob(env.client, env.config, { project: 'rpxheld', kind: 'run' });
  await waitForDetails(held.handle, /^waiting for usage-limit reset at /);
  expect((await jobResult(limited.handle, 'rpxlim')).outcome).toBe('succeeded');
  expect((await jobResult(held.handle, 'rpxheld')).outcome).toBe('succeeded');
  const hold = env.client.workflow.getHandle(accountHoldWorkflowId('account:rp-x', env.taskQueue));
  await hold.result();
  // agentJob-account_hold_across_runs and agentJob-held_across_runs, recorded before hold-read-in-activity (the
  // held job read the hold in a local activity), are not recorded again: they replay the old branch.
  const limitedJson = await save('agentJob-hold_in_activity_limited', limited.handle);
  expect(limitedJson).toContain('hold-read-in-activity');
  // The job that hit the limit still reads the hold's ID (a local activity) to start it.
  expect(limitedJson).toContain('readAccountHold');
  const waited = await save('agentJob-held_in_activity', held.handle);
  expect(waited).toContain('hold-read-in-activity');
  expect(waited).not.toContain('readAccountHold');
  expect(waited).toContain('not started: its agent account is held at its usage limit');
  expect(waited).toContain('EVENT_TYPE_TIMER_FIRED');
  await save('accountHold', hold);
}, 180_000);

test('agentJob: a job of an account reads its hold in the agent activity (none) and runs: no local activity', async () => {
  const { result, handle } = await job('rpyok');
  expect(result.outcome).toBe('succeeded');
  const json = await save('agentJob-hold_read_in_activity', handle);
  expect(json).toContain('hold-read-in-activity');
  expect(json).not.toContain('readAccountHold');
});

test('agentJob: one patch marker for all of its branches (agent-job-one-marker): a success, a usage-limit wait', async () => {
  const markers = (json: string) => json.match(/"markerName": "core_patch"/g)?.length ?? 0;
  const ok = await job('rpone');
  expect(ok.result.outcome).toBe('succeeded');
  const okJson = await save('agentJob-one_marker', ok.handle);
  expect(okJson).toContain('agent-job-one-marker');
  expect(markers(okJson)).toBe(1);
  const limited = await job('rponelimit');
  expect(limited.result.outcome).toBe('succeeded');
  const limitedJson = await save('agentJob-one_marker_usage_limit', limited.handle);
  expect(limitedJson).toContain('EVENT_TYPE_TIMER_FIRED');
  expect(markers(limitedJson)).toBe(1);
}, 120_000);

test('eod: work log verified, a disabled project skipped, digest written', async () => {
  const { result, handle } = await batch('eod', ['rpe1', 'rpeoff']);
  expect(status(result, 'rpe1')).toBe('succeeded');
  expect(status(result, 'rpeoff')).toBe('skipped');
  expect(result.digestPath).toBeTruthy();
  await save('eod', handle);
});

test('rollover (first of a month)', async () => {
  const { result, handle } = await batch('rollover', ['rpe1'], '2026-04-01');
  expect(status(result, 'rpe1')).toBe('succeeded');
  await save('rollover', handle);
});

test('eod started by a schedule: its day comes from the scheduled time', async () => {
  const scheduleId = `rp-eod-${randomBytes(4).toString('hex')}`;
  const schedule = await env.client.schedule.create({
    scheduleId,
    spec: { calendars: [{ hour: 23, comment: 'EOD at 23:00' }], timezone: 'Europe/London' },
    action: {
      type: 'startWorkflow',
      workflowType: 'eod',
      workflowId: `eod@${env.taskQueue}`,
      taskQueue: env.taskQueue,
      args: [{ projects: ['rpe1'] }],
    },
  });
  try {
    await schedule.trigger();
    const wf = await waitFor('the scheduled eod', async () => {
      for await (const w of env.client.workflow.list({
        query: `WorkflowType = 'eod' AND TaskQueue = '${env.taskQueue}' AND TemporalScheduledStartTime IS NOT NULL`,
      }))
        return w;
      return null;
    });
    const handle = env.client.workflow.getHandle(wf.workflowId, wf.runId);
    const result = (await handle.result()) as BatchResult;
    expect(status(result, 'rpe1')).toBe('succeeded');
    const json = await save('eod-scheduled', handle);
    expect(json).toContain('scheduled-date');
  } finally {
    await schedule.delete();
  }
});

test('eod with a project whose host has no worker: skipped after host_wait', async () => {
  const { result, handle } = await batch('eod', ['rpe1', 'rphost']);
  expect(status(result, 'rpe1')).toBe('succeeded');
  expect(result.rows.find((r) => r.project === 'rphost')?.reason).toMatch(/no worker for host rp-nohost/);
  const json = await save('eod-host_wait', handle);
  expect(json).toContain('batch-host-wait');
});

test('eod: a job exits 0 without its work log: the job fails itself; the batch says failed', async () => {
  const { result, handle } = await batch('eod', ['rpe1', 'rpelazy']);
  expect(status(result, 'rpe1')).toBe('succeeded');
  expect(status(result, 'rpelazy')).toBe('agent_error');
  const json = await save('eod-worklog_missing', handle);
  expect(json).toContain('batch-outcome-failed-cancelled');
  const lazy = env.client.workflow.getHandle(result.rows.find((r) => r.project === 'rpelazy')!.workflowId!);
  const jobJson = await save('agentJob-eod_worklog_missing', lazy);
  expect(jobJson).toContain('eod-worklog-in-job');
  expect(jobJson).toContain('job-cost-attribute');
  expect(jobJson).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
});

test('cycle: cancelled while its job runs, it ends cancelled', async () => {
  const handle = await startBatch(env.client, env.config, 'cycle', { projects: ['rpcslow'] });
  await waitFor('the job to run', async () => {
    const table = await handle.query<BatchResult>('progress').catch(() => null);
    return table?.rows.some((r) => r.status === 'running') ?? false;
  });
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const json = await save('cycle-cancelled', handle);
  expect(json).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED');
  expect(json).toContain('batch-outcome-failed-cancelled');
});
