// The runner's "adopt, never duplicate" rule at the level of activity attempts, with real agent processes:
// an attempt that finds its launch's final outcome already reported (the completion was lost on its way to
// the server: the worker died right after, or the server lost its last commits) delivers that outcome again
// and never launches the agent a second time.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildArgs } from '../src/runner/invocation';
import { WorkerAccountHolds } from '../src/runner/accountHolds';
import { Semaphore } from '../src/lib/semaphore';
import { groupAlive, processStartTicks } from '../src/runner/processGroup';
import { runAttempt, type AttemptContext, type AttemptOptions } from '../src/runner/attempt';
import { parseConfig } from '../src/config';
import { type AgentRunResult, type JobPlan } from '../src/temporal/types';
import { SETUP_ERROR, WORKER_SHUTDOWN } from '../src/temporal/failures';
import { agentStartsIn, makeRepo, renderConfig } from './helpers/env';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orch-runner-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(
  name: string,
  prompt: string,
  orchestratorExtra: string[] = [],
): { options: AttemptOptions; stamps: string } {
  const stamps = path.join(dir, `${name}.stamps.jsonl`);
  makeRepo(path.join(dir, 'projects', name));
  const projects = { [name]: `prompt = "${prompt}"` };
  const toml = renderConfig(dir, 'runner-test', { projects, orchestratorExtra }).replace(
    '[agent]\n',
    `[agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps}" }\n`,
  );
  const config = parseConfig(toml, path.join(dir, `${name}.toml`));
  const project = config.projects[name];
  const plan: JobPlan = {
    project: name,
    kind: 'run',
    path: project.path,
    promptFirstLine: prompt,
    timeoutMs: 30_000,
    killGraceMs: 1_000,
    heartbeatTimeoutMs: 10_000,
    usageLimitMarginMs: 0,
    usageLimitBackoffMs: 2_000,
    timezone: 'Europe/London',
    persistent: false,
    host: null,
    prompt,
  };
  const options: AttemptOptions = {
    config,
    project,
    plan,
    baseDir: path.join(dir, 'runs', name, 'run-1'),
    args: buildArgs(project.agent.args, prompt),
    env: project.agent.env,
  };
  return { options, stamps };
}

function attempt(n: number, log: string[] = []): AttemptContext & { redelivered: () => boolean } {
  let redelivered = false;
  return {
    attempt: n,
    heartbeat: () => undefined,
    cancelSignal: new AbortController().signal,
    isWorkerShutdown: () => false,
    acquireSlot: () => Promise.resolve(() => undefined),
    log: (m) => log.push(m),
    onRedeliver: () => (redelivered = true),
    redelivered: () => redelivered,
  };
}

const starts = agentStartsIn;

function launchFolders(baseDir: string): string[] {
  return readdirSync(baseDir).filter((d) => existsSync(path.join(baseDir, d, 'launch.json')));
}

test('a success whose completion was lost: the next attempt returns the same result and launches nothing', async () => {
  const { options, stamps } = setup('rn-ok', 'hello');
  const first = await runAttempt(options, attempt(1));
  expect(first.outcome).toBe('succeeded');
  expect(starts(stamps)).toBe(1);

  const log: string[] = [];
  const ctx = attempt(2, log);
  const again = await runAttempt(options, ctx);
  expect(again).toEqual(first);
  expect(ctx.redelivered()).toBe(true);
  expect(log.join('\n')).toMatch(/rn-ok: the outcome of agent pid \d+ \(succeeded\) was reported before/);
  expect(starts(stamps)).toBe(1);
  expect(launchFolders(options.baseDir)).toEqual(['attempt-1']);
});

test('an agent error (final) is delivered again as it was', async () => {
  const { options, stamps } = setup('rn-err', '[scenario:error_during_execution]');
  const first = await runAttempt(options, attempt(1));
  expect(first.outcome).not.toBe('succeeded');
  const again = await runAttempt(options, attempt(2));
  expect(again).toEqual(first);
  expect(starts(stamps)).toBe(1);
});

test('a first crash is not final: the next attempt launches again; the last crash is delivered again', async () => {
  const { options, stamps } = setup('rn-crash', '[scenario:signal]');
  const crashOf = async (n: number) => {
    const err = await runAttempt(options, attempt(n)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };
  const first = await crashOf(1);
  expect(first.nonRetryable).toBe(false);
  expect(starts(stamps)).toBe(1);

  const second = await crashOf(2);
  expect(second.nonRetryable).toBe(true);
  expect(starts(stamps)).toBe(2);

  const third = await crashOf(3);
  expect(third.nonRetryable).toBe(true);
  expect(third.message).toBe(second.message);
  expect((third.details?.[0] as AgentRunResult).outcome).toBe('crashed');
  expect(starts(stamps)).toBe(2);
  expect(launchFolders(options.baseDir)).toEqual(['attempt-1', 'attempt-2']);
});

test('a cancel whose completion was lost is a cancel again, without a launch', async () => {
  const { options, stamps } = setup('rn-cancel', '[scenario:slow:30]');
  const controller = new AbortController();
  const ctx = { ...attempt(1), cancelSignal: controller.signal };
  const running = runAttempt(options, ctx);
  const deadline = Date.now() + 10_000;
  while (starts(stamps) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await expect(running).rejects.toBeInstanceOf(CancelledFailure);
  await expect(runAttempt(options, attempt(2))).rejects.toBeInstanceOf(CancelledFailure);
  expect(starts(stamps)).toBe(1);
}, 30_000);

test('on_shutdown = "kill": the agent stopped by a worker shutdown is launched again by the next attempt', async () => {
  const { options, stamps } = setup('rn-kill', '[scenario:slow:30]', ['on_shutdown = "kill"']);
  const controller = new AbortController();
  const ctx = { ...attempt(1), cancelSignal: controller.signal, isWorkerShutdown: () => true };
  const running = runAttempt(options, ctx);
  const deadline = Date.now() + 10_000;
  while (starts(stamps) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  // Not a CancelledFailure (the server never asked for a cancel, and would reject one): a retryable failure.
  const err = await running.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).not.toBeInstanceOf(CancelledFailure);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).type).toBe(WORKER_SHUTDOWN);
  expect((err as ApplicationFailure).nonRetryable).toBeFalsy();
  expect((err as ApplicationFailure).message).toMatch(/rn-kill: worker shut down with on_shutdown = "kill"/);
  // The job was not cancelled, only its worker stopped: the next attempt runs the agent again.
  const slow = { ...options, plan: { ...options.plan, timeoutMs: 2_000 } };
  const next = await runAttempt(slow, attempt(2));
  expect(next.outcome).toBe('timed_out');
  expect(starts(stamps)).toBe(2);
  expect(launchFolders(options.baseDir)).toEqual(['attempt-1', 'attempt-2']);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------------
// Adopting: what an attempt finds of an earlier launch (written here as a worker that died would have left it).

function alive(pid: number): boolean {
  return processStartTicks(pid) !== null;
}

/** A pid that has certainly exited (a process we started and waited for). */
function deadPid(): number {
  const out = execFileSync('/bin/sh', ['-c', 'echo $$']).toString().trim();
  return Number(out);
}

function fakeLaunch(baseDir: string, n: number, launch: { pid: number; startTicks: number | null }): string {
  const dir = path.join(baseDir, `attempt-${n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'launch.json'),
    JSON.stringify({ ...launch, startedAt: Date.now(), command: 'claude', cwd: '/nowhere' }),
  );
  return dir;
}

test('a run that finished while no worker watched (exit.code, no reported.json) is collected, not launched', async () => {
  const { options, stamps } = setup('rn-collect', 'hello');
  const dir = fakeLaunch(options.baseDir, 1, { pid: deadPid(), startTicks: 1 });
  const result = {
    type: 'result',
    subtype: 'success',
    is_error: false,
    num_turns: 2,
    result: 'finished alone',
    session_id: 's',
    total_cost_usd: 0.5,
  };
  writeFileSync(path.join(dir, 'stdout.log'), JSON.stringify(result) + '\n');
  writeFileSync(path.join(dir, 'exit.code'), '0\n');
  const log: string[] = [];
  const r = await runAttempt(options, attempt(2, log));
  expect(r).toMatchObject({ outcome: 'succeeded', result: 'finished alone', exitCode: 0, logPath: dir });
  expect(log.join('\n')).toMatch(/rn-collect: collecting the result of agent pid \d+, which finished while no worker/);
  expect(starts(stamps)).toBe(0);
  expect(launchFolders(options.baseDir)).toEqual(['attempt-1']);
  expect(JSON.parse(readFileSync(path.join(dir, 'reported.json'), 'utf8')).outcome).toBe('succeeded');
});

test('an agent that vanished (dead pid, no exit.code) is launched again', async () => {
  const { options, stamps } = setup('rn-vanish', 'hello again');
  fakeLaunch(options.baseDir, 1, { pid: deadPid(), startTicks: 1 });
  const log: string[] = [];
  const r = await runAttempt(options, attempt(2, log));
  expect(r.outcome).toBe('succeeded');
  expect(log.join('\n')).toMatch(/rn-vanish: agent pid \d+ vanished without an exit status; launching again/);
  expect(starts(stamps)).toBe(1);
  expect(launchFolders(options.baseDir)).toEqual(['attempt-1', 'attempt-2']);
  expect(r.logPath).toBe(path.join(options.baseDir, 'attempt-2'));
});

test('a live pid whose start time differs from launch.json (pid reuse) is not adopted', async () => {
  const { options, stamps } = setup('rn-reuse', 'reused');
  // A live process that is not our agent: same pid, other start time.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const pid = other.pid!;
    const ticks = processStartTicks(pid)!;
    expect(ticks).not.toBeNull();
    fakeLaunch(options.baseDir, 1, { pid, startTicks: ticks + 1 });
    const log: string[] = [];
    const r = await runAttempt(options, attempt(2, log));
    expect(r.outcome).toBe('succeeded');
    expect(log.join('\n')).not.toMatch(/adopting/);
    expect(log.join('\n')).toMatch(/vanished without an exit status; launching again/);
    expect(starts(stamps)).toBe(1);
    // The unrelated process was neither adopted nor touched.
    expect(alive(pid)).toBe(true);
  } finally {
    other.kill('SIGKILL');
  }
});

// ---------------------------------------------------------------------------------------------------------------
// A run folder that cannot be written: a clear, non-retryable setup error; never an untracked agent. Tests run as
// root, for whom permission bits block nothing: sysfs refuses new files even to root, and a file or folder in the
// way fails for anyone.

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

test('a deleted state folder is created again, and the worker log says so', async () => {
  const { options } = setup('rn-gone', 'after the state folder went');
  const stateDir = path.join(dir, 'deleted-state');
  const config = { ...options.config, orchestrator: { ...options.config.orchestrator, stateDir } };
  const gone = { ...options, config, baseDir: path.join(stateDir, 'runs', 'rn-gone', 'run-1') };
  const log: string[] = [];
  const r = await runAttempt(gone, attempt(1, log));
  expect(r.outcome).toBe('succeeded');
  expect(existsSync(path.join(gone.baseDir, 'attempt-1', 'launch.json'))).toBe(true);
  expect(log.join('\n')).toContain(
    `rn-gone: the state folder ${stateDir} (orchestrator.state_dir) does not exist — deleted? — so it is created again`,
  );
  // With the folder there, nothing is said.
  const quiet: string[] = [];
  await runAttempt({ ...gone, baseDir: path.join(stateDir, 'runs', 'rn-gone', 'run-2') }, attempt(1, quiet));
  expect(quiet.join('\n')).not.toContain('does not exist');
});

test('a read-only run folder: setup error naming the file, the OS error and the config key; no agent', async () => {
  const { options, stamps } = setup('rn-readonly', 'never runs');
  mkdirSync(options.baseDir, { recursive: true });
  // The attempt's folder exists but takes no files (sysfs: EACCES even for root).
  symlinkSync('/sys/kernel', path.join(options.baseDir, 'attempt-1'));
  const err = await failureOf(runAttempt(options, attempt(1)));
  expect(err.type).toBe(SETUP_ERROR);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toMatch(
    /^rn-readonly: cannot write .*attempt-1\/launch\.json\.tmp \((EACCES|EPERM|EROFS): .*\) — make orchestrator\.state_dir \(.*\) writable and check free disk space$/,
  );
  expect(starts(stamps)).toBe(0);
});

test('a full disk (ENOSPC from /dev/full): setup error naming the file and the OS error; no agent', async () => {
  const { options, stamps } = setup('rn-full', 'never runs');
  const dir = path.join(options.baseDir, 'attempt-1');
  mkdirSync(dir, { recursive: true });
  // The launch record's reservation is the first write: on a full disk the kernel refuses it with ENOSPC.
  symlinkSync('/dev/full', path.join(dir, 'launch.json.tmp'));
  const err = await failureOf(runAttempt(options, attempt(1)));
  expect(err.type).toBe(SETUP_ERROR);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toMatch(
    /^rn-full: cannot write .*attempt-1\/launch\.json\.tmp \(ENOSPC: .*\) — make orchestrator\.state_dir \(.*\) writable and check free disk space$/,
  );
  expect(starts(stamps)).toBe(0);
});

test('recording the launch fails after the spawn: the agent is killed at once and the job fails for good', async () => {
  const { options } = setup('rn-norecord', '[scenario:slow:30]');
  // A non-empty folder where launch.json must go: the rename after the spawn fails (EISDIR/ENOTEMPTY).
  mkdirSync(path.join(options.baseDir, 'attempt-1', 'launch.json', 'in-the-way'), { recursive: true });
  const err = await failureOf(runAttempt(options, attempt(1)));
  expect(err.type).toBe(SETUP_ERROR);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toMatch(
    /^rn-norecord: cannot record the agent's launch in .*attempt-1\/launch\.json \(\w+: .*\), so the agent \(pid \d+\) was stopped rather than left running untracked — make orchestrator\.state_dir/,
  );
  // It had started, and it is gone (nothing of its process group survives).
  const pid = Number(/the agent \(pid (\d+)\)/.exec(err.message)![1]);
  expect(groupAlive(pid)).toBe(false);
  expect(existsSync(path.join(options.baseDir, 'attempt-1', 'launch.json.tmp'))).toBe(true);
});

test('a crash whose outcome cannot be recorded is a setup error, not a crash loop', async () => {
  const { options, stamps } = setup('rn-noreport', '[scenario:signal]');
  // Something in the way of reported.json's temporary file.
  mkdirSync(path.join(options.baseDir, 'attempt-1', 'reported.json.tmp'), { recursive: true });
  const err = await failureOf(runAttempt(options, attempt(1)));
  expect(err.type).toBe(SETUP_ERROR);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toMatch(
    /^rn-noreport: cannot record the outcome \(crashed\) of agent pid \d+ in .*reported\.json/,
  );
  expect(starts(stamps)).toBe(1);
});

test('a final outcome that cannot be recorded is still delivered', async () => {
  const { options } = setup('rn-noreport-ok', 'fine');
  mkdirSync(path.join(options.baseDir, 'attempt-1', 'reported.json.tmp'), { recursive: true });
  const r = await runAttempt(options, attempt(1));
  expect(r.outcome).toBe('succeeded');
});

test("a launch's result is learnt before its agent slot is released: the job waiting for the slot starts no agent", async () => {
  // One slot, two jobs of one account in one batch: the first hits the usage limit; the second waits for the slot.
  const slots = new Semaphore(1);
  const holds = new WorkerAccountHolds();
  const order: string[] = [];
  const limited = setup('rn-slot-lim', '[scenario:usage_limit]');
  const waiting = setup('rn-slot-next', 'never runs');
  let firstHoldsTheSlot: () => void = () => undefined;
  const slotTaken = new Promise<void>((resolve) => (firstHoldsTheSlot = resolve));
  const ctxFor = (s: { options: AttemptOptions }, name: string): AttemptContext => {
    const plan = { ...s.options.plan, account: 'rn-account' };
    s.options.plan = plan;
    return {
      ...attempt(1),
      acquireSlot: async () => {
        const release = await slots.acquire();
        if (name === 'first') firstHoldsTheSlot();
        return () => {
          order.push(`${name} released`);
          release();
        };
      },
      heldBeforeLaunch: () => holds.heldResult(plan, 'rn-batch', Date.now()),
      learn: (result) => {
        order.push(`${name} learnt`);
        holds.note(plan, 'rn-batch', result, Date.now());
      },
    };
  };
  const firstRun = runAttempt(limited.options, ctxFor(limited, 'first'));
  // The second asks for the slot only once the first holds it (each attempt does some set-up before it asks).
  await slotTaken;
  const [first, second] = await Promise.all([firstRun, runAttempt(waiting.options, ctxFor(waiting, 'second'))]);
  expect(first.outcome).toBe('usage_limit');
  expect(order.slice(0, 2)).toEqual(['first learnt', 'first released']);
  expect(second).toMatchObject({ outcome: 'usage_limit', notLaunched: true });
  expect(starts(waiting.stamps)).toBe(0);
});
