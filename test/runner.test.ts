// The runner's "adopt, never duplicate" rule at the level of activity attempts, with real agent processes:
// an attempt that finds its launch's final outcome already reported (the completion was lost on its way to
// the server: the worker died right after, or the server lost its last commits) delivers that outcome again
// and never launches the agent a second time.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildArgs } from '../src/activities/agentJob';
import { runAttempt, type AttemptContext, type AttemptOptions } from '../src/activities/runner';
import { parseConfig } from '../src/config';
import type { AgentRunResult, JobPlan } from '../src/shared';
import { makeRepo, renderConfig } from './helpers/env';

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

function starts(stamps: string): number {
  return existsSync(stamps)
    ? readFileSync(stamps, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"start"')).length
    : 0;
}

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
  await expect(running).rejects.toBeInstanceOf(CancelledFailure);
  // The job was not cancelled, only its worker stopped: the next attempt runs the agent again.
  const slow = { ...options, plan: { ...options.plan, timeoutMs: 2_000 } };
  const next = await runAttempt(slow, attempt(2));
  expect(next.outcome).toBe('timed_out');
  expect(starts(stamps)).toBe(2);
  expect(launchFolders(options.baseDir)).toEqual(['attempt-1', 'attempt-2']);
}, 30_000);
