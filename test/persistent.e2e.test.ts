// Persistent projects: jobs injected into a long-lived interactive agent in a tmux session. Real tmux on a private
// socket (never the user's own server), with test/fixtures/fake-claude-tui.js as the agent. First
// runPersistentAgent directly (inject and wait, the not-ready TUI, Enter retry, the no-hook fallback, timeout,
// cancel, a session dying mid-job, setup errors); then through Temporal with the real worker (the kill switch
// between two jobs; a cycle with a persistent project next to an ephemeral one, which reaps stale sessions first;
// a deploy mid-job; a session dying twice under one job).
import { WorkerAccountHolds } from '../src/runner/accountHolds';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import execa from 'execa';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgentJobActivities } from '../src/activities/agentJob';
import { runPersistentAgent } from '../src/persistent/job';
import { ensureSession } from '../src/persistent/projectSession';
import { jobResult, startBatch, startJob } from '../src/temporal/client';
import { loadConfig, type Config } from '../src/config';
import { Semaphore } from '../src/lib/semaphore';
import { createWorker } from '../src/worker';
import { RESULT_MAX_CHARS, type AgentRunResult, type BatchResult, type JobPlan } from '../src/temporal/types';
import { AGENT_CRASHED, SETUP_ERROR } from '../src/temporal/failures';
import { Tmux } from '../src/persistent/tmux';
import { makeEnv, renderConfig, waitFor, type EnvOptions, type TestEnv } from './helpers/env';

const FAKE_TUI = path.resolve(__dirname, 'fixtures/fake-claude-tui.js');
const SOCKET = `orch-test-${randomBytes(4).toString('hex')}`;
const tmux = new Tmux(SOCKET);
const work = mkdtempSync(path.join(os.tmpdir(), 'orch-tmx-'));

/** A project whose interactive agent is the fake TUI, logging its events to work/<name>.log. */
function tuiProject(name: string, env: Record<string, string> = {}, extra = '', agentExtra = ''): string {
  const vars = {
    FAKE_TUI_LOG: path.join(work, `${name}.log`),
    FAKE_TUI_TRANSCRIPT_DIR: path.join(work, 'transcripts'),
    FAKE_TUI_PROBE: `probe-${name}`,
    ...env,
  };
  const inline = Object.entries(vars)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join(', ');
  return `${extra}\n[projects.${name}.agent]\ninteractive_command = "node '${FAKE_TUI}'"\nenv = { ${inline} }\ntimeout = "30s"\n${agentExtra}`;
}

const PROJECTS: Record<string, string> = {
  tmxa: tuiProject('tmxa', { FAKE_TUI_NOT_READY_MS: '2000' }),
  tmxdie: tuiProject('tmxdie'),
  tmxnocmd: '[projects.tmxnocmd.agent]\ninteractive_command = "definitely-not-an-interactive-agent --flag"',
  tmxuser: tuiProject('tmxuser'),
  tmxdialog: tuiProject('tmxdialog', { FAKE_TUI_DIALOG: '1' }),
  tmxoldcli: tuiProject('tmxoldcli', { FAKE_TUI_HOOK_EVENTS: 'Stop' }),
  tmxstall: tuiProject('tmxstall', {}, '', 'stall_timeout = "2s"'),
  tmxflip: tuiProject(
    'tmxflip',
    {},
    'prompt = "flip"\neod_prompt = "Write the log [tui:write:{worklog_path}]"\nrollover_prompt = "Carry {yesterday} into {date}"',
  ),
  tmxcyc1: tuiProject('tmxcyc1', {}, 'prompt = "cycle persistent"'),
  tmxcyc2: 'prompt = "cycle ephemeral"',
  // One account: tmxauth's turn fails to log in while tmxheld (started behind it) waits for the worker's slot.
  tmxauth: tuiProject('tmxauth', {}, 'prompt = "fail [tui:api-error:authentication_failed]"', 'account = "tmx-acct"'),
  tmxheld: tuiProject('tmxheld', {}, 'prompt = "never typed"', 'account = "tmx-acct"'),
  tmxbusy1: 'prompt = "[scenario:slow:6]"',
  tmxbusy2: 'prompt = "[scenario:slow:6]"',
  tmxbusy3: 'prompt = "[scenario:slow:6]"',
  tmxstale: tuiProject('tmxstale'),
  tmxadopt: tuiProject('tmxadopt'),
  tmxcrash: tuiProject('tmxcrash'),
  tmxenv: `${tuiProject('tmxenv', { FAKE_TUI_ENV_NAMES: '1' })}\nenv_allow = ["PATH", "HOME"]`,
};

function envOptions(persistent: string[]): EnvOptions {
  return {
    projects: PROJECTS,
    orchestratorExtra: [`tmux_socket = "${SOCKET}"`, 'idle_seconds = 1', `persistent = ${JSON.stringify(persistent)}`],
    startWorker: false,
  };
}

let env: TestEnv;
let worker: Worker;
let workerRunning: Promise<void>;
let workerConnection: NativeConnection;
let startWorker: () => Promise<void>;

async function setPersistent(persistent: string[]): Promise<Config> {
  await env.writeConfig(renderConfig(env.dir, env.taskQueue, envOptions(persistent)));
  return loadConfig(env.configPath);
}

beforeAll(async () => {
  env = await makeEnv(envOptions(['tmxflip', 'tmxcyc1', 'tmxadopt', 'tmxcrash']));
  // The real worker (runAgentJob sends persistent projects to runPersistentAgent), restartable for the deploy test.
  workerConnection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  startWorker = async () => {
    ({ worker } = await createWorker({
      config: await loadConfig(env.configPath),
      connection: workerConnection,
      namespace: 'default',
      workflowBundlePath: process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE,
    }));
    workerRunning = worker.run();
  };
  await startWorker();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await workerRunning;
  await workerConnection?.close();
  await env?.stop();
  await tmux.killServer();
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// runPersistentAgent, called directly

interface DirectRun {
  result: AgentRunResult;
  runDir: string;
  beats: unknown[];
}

async function plan(project: string, prompt: string, timeoutMs?: number): Promise<JobPlan> {
  const { prepareJob } = createAgentJobActivities({
    configPath: env.configPath,
    agentSlots: new Semaphore(1),
    accountHolds: new WorkerAccountHolds(),
  });
  const p = await prepareJob({ project, kind: 'run', prompt });
  return timeoutMs ? { ...p, timeoutMs } : p;
}

function runDirFor(project: string): string {
  const dir = path.join(work, 'runs', project, randomBytes(4).toString('hex'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function direct(
  project: string,
  prompt: string,
  opts: { timeoutMs?: number; signal?: AbortSignal; runDir?: string } = {},
): Promise<DirectRun> {
  const config = await loadConfig(env.configPath);
  const runDir = opts.runDir ?? runDirFor(project);
  const beats: unknown[] = [];
  const result = await runPersistentAgent({
    config,
    project: config.projects[project],
    plan: await plan(project, prompt, opts.timeoutMs),
    runDir,
    heartbeat: (d) => beats.push(d),
    cancelSignal: opts.signal ?? new AbortController().signal,
  });
  return { result, runDir, beats };
}

function tuiEvents(project: string): Array<{ event: string; pid: number; prompt?: string; [k: string]: unknown }> {
  const file = path.join(work, `${project}.log`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Makes sure the project's session runs (a job's timeout counts from the start, session start-up included). */
async function warm(project: string): Promise<void> {
  if (!(await tmux.hasSession(`orch-${project}`))) await direct(project, 'warm up');
}

const count = (project: string, event: string) => tuiEvents(project).filter((e) => e.event === event).length;
const sessionJson = (runDir: string) => JSON.parse(readFileSync(path.join(runDir, 'session.json'), 'utf8'));
const eventsLog = (runDir: string) => readFileSync(path.join(runDir, 'events.log'), 'utf8');

describe('runPersistentAgent', () => {
  test('inject and wait: creates the session in the project folder, survives the not-ready prompt, returns the answer', async () => {
    // Characters tmux or a shell would interpret: all must arrive literally (a trailing ';' too).
    const prompt = `Fix the bug; then say "hi" $(echo not-run) 'x' \\n -t Enter ;`;
    const { result, runDir, beats } = await direct('tmxa', prompt);
    expect(result).toMatchObject({
      outcome: 'succeeded',
      result: `Done: ${prompt}`,
      resultTruncated: false,
      logPath: runDir,
      costUsd: null,
      numTurns: null,
    });
    expect(result.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.pid).toBeGreaterThan(0);
    expect(await tmux.hasSession('orch-tmxa')).toBe(true);

    const events = tuiEvents('tmxa');
    const start = events.find((e) => e.event === 'start')!;
    expect(start.cwd).toBe(env.projectPath('tmxa'));
    // The agent's environment was passed explicitly, [agent] env included.
    expect(start.env).toEqual({ FAKE_TUI_PROBE: 'probe-tmxa' });
    // Typed before the TUI was ready: dropped, typed again, submitted exactly once.
    expect(count('tmxa', 'dropped')).toBeGreaterThan(0);
    expect(events.filter((e) => e.event === 'submit').map((e) => e.prompt)).toEqual([prompt]);
    expect(eventsLog(runDir)).toMatch(/did not appear \(attempt 1\)/);

    const meta = sessionJson(runDir);
    expect(meta).toMatchObject({ session: 'orch-tmxa', socket: SOCKET, created: true, completion: 'hook' });
    expect(meta.resultSource).toBe('Stop hook input');
    expect(readFileSync(path.join(runDir, 'pane.log'), 'utf8')).toContain(`Done: ${prompt}`);
    expect(beats.length).toBeGreaterThan(0);
    expect(beats[0]).toMatchObject({ socket: SOCKET });
  });

  test('the next job reuses the session and its agent, and gets only its own answer (multi-line prompt)', async () => {
    const pid = tuiEvents('tmxa').find((e) => e.event === 'start')!.pid;
    const prompt = 'first line\n  second line [with] {braces}';
    const { result, runDir } = await direct('tmxa', prompt);
    expect(result.outcome).toBe('succeeded');
    expect(result.result).toBe(`Done: ${prompt}`);
    expect(sessionJson(runDir).created).toBe(false);
    expect(count('tmxa', 'start')).toBe(1);
    expect(tuiEvents('tmxa').at(-1)!.pid).toBe(pid);
  });

  test('the answer is the Stop hook’s copy of the last message, while the transcript and the pane lag behind', async () => {
    const prompt = 'answer late [tui:late-transcript]';
    const { result, runDir } = await direct('tmxa', prompt);
    expect(result.outcome).toBe('succeeded');
    expect(result.result).toBe(`Done: ${prompt}`);
    expect(sessionJson(runDir).resultSource).toBe('Stop hook input');
  });

  test('a Claude Code whose hook input has no last message: the transcript is waited for until it has the answer', async () => {
    const prompt = 'answer late, old CLI [tui:late-transcript] [tui:old-hook-input]';
    const { result, runDir } = await direct('tmxa', prompt);
    expect(result.outcome).toBe('succeeded');
    expect(result.result).toBe(`Done: ${prompt}`);
    expect(sessionJson(runDir).resultSource).toMatch(/^transcript /);
  });

  test.each([
    [
      'authentication_failed',
      { authFailure: true },
      /^tmxa: agent is not authenticated .*Please run \/login.*claude \/login/,
    ],
    ['overloaded', { transient: true }, /^tmxa: the Claude API failed with a transient error \("API Error: 529/],
    ['billing_error', {}, /^tmxa: an API error \(billing_error\) ended the agent's turn: "Credit balance is too low"/],
  ])(
    'an API error that ends the turn (StopFailure %s) is an agent_error, not a success',
    async (kind, flags, message) => {
      const { result, runDir } = await direct('tmxa', `fail [tui:api-error:${kind}]`);
      expect(result.outcome).toBe('agent_error');
      expect(result.message).toMatch(message);
      expect({ authFailure: result.authFailure, transient: result.transient }).toEqual({
        authFailure: undefined,
        transient: undefined,
        ...flags,
      });
      expect(sessionJson(runDir).marker).toMatchObject({ hook_event_name: 'StopFailure', error: kind });
    },
  );

  test('a tool use that asks first is refused while a job runs (nobody would answer): agent_error naming the tool', async () => {
    const { result, runDir } = await direct('tmxa', 'write notes [tui:needs-permission:Write]');
    expect(result.outcome).toBe('agent_error');
    expect(result.message).toMatch(
      /^tmxa: agent was denied 1 tool use \(Write\) and did not do that work — allow them in \[agent\] interactive_command: "--permission-mode", "acceptEdits"/,
    );
    expect(
      tuiEvents('tmxa')
        .filter((e) => e.event === 'permission')
        .at(-1),
    ).toMatchObject({ decision: 'deny' });
    expect(sessionJson(runDir).denials).toEqual([expect.objectContaining({ tool_name: 'Write' })]);
    // Between jobs the hook decides nothing: a person at the session answers the dialog.
    const hook = path.join(env.stateDir, 'sessions', SOCKET, 'orch-tmxa', 'hook-permission.sh');
    const idle = await execa('sh', [hook], { input: '{"tool_name":"Write"}' });
    expect(idle.stdout).toBe('');
  });

  test('a job’s nonce left behind (cancelled while no worker ran) stops counting past the job’s last moment: the session is a person’s again', async () => {
    // A job wrote its nonce with its last possible moment: 30 s timeout + a minute to stop and report.
    const before = Date.now();
    const { runDir } = await direct('tmxa', 'a job');
    const sessionDir = path.join(env.stateDir, 'sessions', SOCKET, 'orch-tmxa');
    const { nonce } = sessionJson(runDir);
    const until = Number(readFileSync(path.join(sessionDir, `until-${nonce}`), 'utf8')) * 1000;
    expect(until).toBeGreaterThanOrEqual(before + 30_000 + 60_000);
    expect(until).toBeLessThan(Date.now() + 30_000 + 60_000 + 1000);
    // Its worker gone mid-job: the nonce stays set. Within the job's time its hooks still act for it...
    const hook = (name: string, input: string) => execa('sh', [path.join(sessionDir, name), 'stop'], { input });
    writeFileSync(path.join(sessionDir, 'nonce'), `${nonce}\n`);
    expect((await hook('hook-permission.sh', '{"tool_name":"Write"}')).stdout).toContain('"behavior":"deny"');
    // ...past it, a person's permission dialog is theirs to answer, and their turn's end marks no job.
    writeFileSync(path.join(sessionDir, `until-${nonce}`), `${Math.floor(Date.now() / 1000) - 5}\n`);
    expect((await hook('hook-permission.sh', '{"tool_name":"Write"}')).stdout).toBe('');
    for (const f of [`stop-${nonce}.json`, 'stop-idle.json']) rmSync(path.join(sessionDir, f), { force: true });
    await hook('hook-stop.sh', '{"hook_event_name":"Stop"}');
    expect(existsSync(path.join(sessionDir, 'stop-idle.json'))).toBe(true);
    expect(existsSync(path.join(sessionDir, `stop-${nonce}.json`))).toBe(false);
    // A nonce with no such file (written by an older orchestrate) counts as before.
    rmSync(path.join(sessionDir, `until-${nonce}`));
    expect((await hook('hook-permission.sh', '{"tool_name":"Write"}')).stdout).toContain('"behavior":"deny"');
    writeFileSync(path.join(sessionDir, 'nonce'), 'idle\n');
    expect((await direct('tmxa', 'the next job')).result.outcome).toBe('succeeded');
  });

  test('a turn a person started before the job is theirs: its Stop hook is not the job’s end, its answer not the job’s', async () => {
    await warm('tmxa');
    const submits = count('tmxa', 'submit');
    await tmux.sendLiteral('orch-tmxa', 'a person asks [tui:slow:2]');
    await tmux.sendKeys('orch-tmxa', 'Enter');
    await waitFor('the person’s prompt to be submitted', () => count('tmxa', 'submit') > submits);
    const { result } = await direct('tmxa', 'the job asks');
    expect(result).toMatchObject({ outcome: 'succeeded', result: 'Done: the job asks' });
  });

  test('a tool use of a person’s turn still running when a job arrives is theirs to answer, not refused for the job', async () => {
    await warm('tmxa');
    const seen = tuiEvents('tmxa').length;
    await tmux.sendLiteral('orch-tmxa', 'a person writes [tui:needs-permission:Write] [tui:slow:1]');
    await tmux.sendKeys('orch-tmxa', 'Enter');
    await waitFor('the person’s prompt to be submitted', () =>
      tuiEvents('tmxa')
        .slice(seen)
        .some((e) => e.event === 'submit'),
    );
    const running = direct('tmxa', 'the job after the person');
    const asked = await waitFor('the person’s permission request', () =>
      tuiEvents('tmxa')
        .slice(seen)
        .find((e) => e.event === 'permission'),
    );
    // The person answers the dialog (yes); then the job's own prompt goes in.
    if (asked.decision === 'dialog') await tmux.sendKeys('orch-tmxa', 'Enter');
    const { result } = await running;
    expect(asked).toMatchObject({ decision: 'dialog' });
    expect(result).toMatchObject({ outcome: 'succeeded', result: 'Done: the job after the person' });
  });

  test('progress: the heartbeats carry the pane’s pid and what the transcript says so far (turn, tool, tokens)', async () => {
    const { result, beats } = await direct('tmxa', 'run the tests [tui:tool:npm test] [tui:slow:2]');
    expect(result.outcome).toBe('succeeded');
    const working = (beats as Array<Record<string, unknown>>).filter((b) => b.tool === 'Bash: npm test');
    expect(working.length).toBeGreaterThan(0);
    expect(working[0]).toMatchObject({
      phase: 'working',
      pid: result.pid,
      turn: 1,
      tokens: { input: 1200, output: 80, cacheRead: 0, cacheCreation: 0 },
      lastEvent: 'tool_use Bash: npm test',
    });
    // Only this job's part of the session's transcript counts: the earlier jobs' turns are not in it.
    expect((beats as Array<{ turn?: number }>).every((b) => (b.turn ?? 0) <= 1)).toBe(true);
  });

  test('stall_timeout: an agent that does nothing (its spinner aside) is interrupted and the job ends stalled', async () => {
    const { result } = await direct('tmxstall', 'hang here [tui:hang]');
    expect(result.outcome).toBe('stalled');
    expect(result.message).toMatch(
      /^tmxstall: agent in tmux session orch-tmxstall stalled: nothing new in its transcript or on screen for 2s, last event: .*; it was interrupted \(the session is kept/,
    );
    expect(tuiEvents('tmxstall').filter((e) => e.event === 'interrupted')).toHaveLength(1);
    const next = await direct('tmxstall', 'quick one');
    expect(next.result.outcome).toBe('succeeded');
  });

  test('env_allow: the agent in the session gets only the allowed worker variables, its env and ours', async () => {
    // One variable only the worker has, one only the tmux server has (panes inherit the server's environment).
    process.env.ORCH_TMUX_WORKER_ONLY = 'from-the-worker';
    await execa('tmux', ['-L', SOCKET, 'set-environment', '-g', 'ORCH_TMUX_SERVER_ONLY', 'from-the-server']);
    try {
      const { result } = await direct('tmxenv', 'which variables?');
      expect(result.outcome).toBe('succeeded');
    } finally {
      delete process.env.ORCH_TMUX_WORKER_ONLY;
      await execa('tmux', ['-L', SOCKET, 'set-environment', '-gu', 'ORCH_TMUX_SERVER_ONLY']);
    }
    const names = tuiEvents('tmxenv').find((e) => e.event === 'start')!.envNames as string[];
    expect(names).toEqual(
      expect.arrayContaining(['PATH', 'HOME', 'FAKE_TUI_PROBE', 'ORCHESTRATE_PROJECT', 'ORCHESTRATE_SESSION', 'TERM']),
    );
    expect(names).not.toContain('ORCH_TMUX_WORKER_ONLY');
    expect(names).not.toContain('ORCH_TMUX_SERVER_ONLY');
    expect(names).not.toContain('ORCHESTRATE_ENV_CLEARED');
    if (process.env.JEST_WORKER_ID) expect(names).not.toContain('JEST_WORKER_ID');
  });

  test('Enter that does not submit is pressed again', async () => {
    const enters = count('tmxa', 'enter');
    const submits = count('tmxa', 'submit');
    const { result, runDir } = await direct('tmxa', 'please [tui:swallow-enter] go');
    expect(result.outcome).toBe('succeeded');
    expect(result.result).toBe('Done: please [tui:swallow-enter] go');
    expect(count('tmxa', 'enter') - enters).toBe(2);
    expect(count('tmxa', 'submit') - submits).toBe(1);
    expect(eventsLog(runDir)).toMatch(/Enter not taken \(attempt 1\)/);
  });

  test('without a Stop hook: done once the pane is quiet at the idle prompt; the answer is read from the pane', async () => {
    const { result, runDir } = await direct('tmxa', '[tui:nohook] [tui:lines:3] quiet please');
    expect(result.outcome).toBe('succeeded');
    expect(result.result).toBe(
      'Done: [tui:nohook] [tui:lines:3] quiet please\nline 1 of the answer\nline 2 of the answer\nline 3 of the answer',
    );
    expect(sessionJson(runDir)).toMatchObject({ completion: 'idle', resultSource: 'pane' });
    expect(result.sessionId).toBeNull();
  });

  test('a turn interrupted at the session (Escape, no Stop hook) is no success: agent_error saying so', async () => {
    const job = direct('tmxa', 'long work [tui:hang]');
    await waitFor('the agent to work', () =>
      tuiEvents('tmxa').some((e) => e.event === 'submit' && e.prompt === 'long work [tui:hang]'),
    );
    await tmux.sendKeys('orch-tmxa', 'Escape');
    const { result } = await job;
    expect(result.outcome).toBe('agent_error');
    expect(result.message).toMatch(
      /^tmxa: the agent in tmux session orch-tmxa went back to its idle prompt without running its Stop hook/,
    );
  });

  test('a prompt the TUI runs as a slash command it does not know starts no turn: agent_error naming it, not the pane as an answer', async () => {
    const { result } = await direct('tmxa', '/nosuchcommand please');
    expect(result.outcome).toBe('agent_error');
    expect(result.message).toMatch(
      /^tmxa: the TUI in tmux session orch-tmxa read the prompt as the slash command \/nosuchcommand and started no model turn \(on screen: "Unknown command: \/nosuchcommand"\) — .*write it without the leading \//,
    );
    // The session is still there for the next job.
    expect((await direct('tmxa', 'after the slash')).result.outcome).toBe('succeeded');
  });

  test('a long answer is truncated for history; the whole of it stays in the run folder', async () => {
    const { result, runDir } = await direct('tmxa', '[tui:lines:400] long one');
    expect(result.outcome).toBe('succeeded');
    expect(result.resultTruncated).toBe(true);
    expect(result.result.length).toBeLessThanOrEqual(RESULT_MAX_CHARS);
    expect(result.result.startsWith('Done: [tui:lines:400] long one\nline 1 of the answer')).toBe(true);
    expect(readFileSync(path.join(runDir, 'result.txt'), 'utf8').split('\n')).toHaveLength(401);
  });

  test('timeout: the agent is interrupted, the session kept, and the next job runs in it', async () => {
    await warm('tmxa');
    const before = count('tmxa', 'start');
    const { result, runDir } = await direct('tmxa', '[tui:hang] forever', { timeoutMs: 1500 });
    expect(result.outcome).toBe('timed_out');
    expect(result.message).toMatch(/^tmxa: agent ran longer than its 1s500ms timeout in tmux session orch-tmxa/);
    expect(result.message).toContain(`tmux -L ${SOCKET} attach -t orch-tmxa`);
    expect(
      tuiEvents('tmxa')
        .filter((e) => e.event === 'interrupted')
        .at(-1),
    ).toMatchObject({ by: 'escape' });
    expect(eventsLog(runDir)).toMatch(/interrupted the agent \(Escape\)/);
    expect(await tmux.hasSession('orch-tmxa')).toBe(true);

    const next = await direct('tmxa', 'after the timeout');
    expect(next.result).toMatchObject({ outcome: 'succeeded', result: 'Done: after the timeout' });
    expect(count('tmxa', 'start')).toBe(before);
  });

  test('an agent that never shows its input prompt (a dialog) gets nothing typed into it; the job times out', async () => {
    const { result } = await direct('tmxdialog', 'do not type me into the dialog', { timeoutMs: 1000 });
    expect(result.outcome).toBe('timed_out');
    expect(result.message).toMatch(
      /^tmxdialog: the agent in tmux session orch-tmxdialog did not show an idle input prompt within the 1s timeout, so the prompt was not sent/,
    );
    expect(count('tmxdialog', 'dialog-key')).toBe(0);
    expect(count('tmxdialog', 'submit')).toBe(0);
  });

  test('a Claude Code too old for the StopFailure hook shows "Settings Error": a setup error at once, with the fix', async () => {
    const failure = await direct('tmxoldcli', 'hello', { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: SETUP_ERROR, nonRetryable: true });
    expect((failure as Error).message).toMatch(
      /^tmxoldcli: Claude Code in tmux session orch-tmxoldcli rejected orchestrate's settings .*needs Claude Code 2\.1\.78 or later/,
    );
    expect(count('tmxoldcli', 'typed')).toBe(0);
  });

  test('an answer that quotes a "Settings Error" is no Settings Error dialog: the next job runs', async () => {
    const quoted = await direct('tmxa', 'What does "Settings Error … Invalid key in record" mean?');
    expect(quoted.result.outcome).toBe('succeeded');
    const next = await direct('tmxa', 'and the next question');
    expect(next.result).toMatchObject({ outcome: 'succeeded', result: 'Done: and the next question' });
  });

  test('cancel: interrupts the agent, keeps the session, throws CancelledFailure', async () => {
    await warm('tmxa');
    const ac = new AbortController();
    const submits = count('tmxa', 'submit');
    const running = direct('tmxa', '[tui:hang] until cancelled', { signal: ac.signal });
    await waitFor('the prompt to be submitted', () => count('tmxa', 'submit') > submits);
    ac.abort();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(tuiEvents('tmxa').at(-1)).toMatchObject({ event: 'interrupted', prompt: '[tui:hang] until cancelled' });
    expect(await tmux.hasSession('orch-tmxa')).toBe(true);
  });

  test('session killed mid-job: a retryable AgentCrashed with a clear reason; the next job starts a new session', async () => {
    const running = direct('tmxdie', '[tui:hang] then killed');
    await waitFor('the prompt to be submitted', () => count('tmxdie', 'submit') > 0);
    await tmux.killSession('orch-tmxdie');
    const err = await running.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe(AGENT_CRASHED);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/^tmxdie: tmux session orch-tmxdie ended mid-job: the session was closed/);
    const details = failure.details?.[0] as AgentRunResult;
    expect(details.outcome).toBe('crashed');

    const next = await direct('tmxdie', 'back again');
    expect(next.result).toMatchObject({ outcome: 'succeeded', result: 'Done: back again' });
    expect(sessionJson(next.runDir).created).toBe(true);
    expect(count('tmxdie', 'start')).toBe(2);
  });

  test('the agent exiting mid-job is a crash naming its exit status', async () => {
    const err = await direct('tmxdie', '[tui:exit] now').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(AGENT_CRASHED);
    expect((err as ApplicationFailure).message).toMatch(/ended mid-job: the agent exited \(status 3\)/);
  });

  test('setup errors: interactive command missing; a session of that name that orchestrate did not start', async () => {
    const missing = await direct('tmxnocmd', 'hello').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApplicationFailure);
    expect((missing as ApplicationFailure).type).toBe(SETUP_ERROR);
    expect((missing as ApplicationFailure).nonRetryable).toBe(true);
    expect((missing as ApplicationFailure).message).toMatch(
      /^tmxnocmd: interactive agent command "definitely-not-an-interactive-agent" not found/,
    );

    await tmux.newSession({ name: 'orch-tmxuser', cwd: work, command: ['sleep', '600'] });
    const taken = await direct('tmxuser', 'hello').catch((e: unknown) => e);
    expect((taken as ApplicationFailure).type).toBe(SETUP_ERROR);
    expect((taken as ApplicationFailure).message).toMatch(/orch-tmxuser .* was not started by orchestrate/);
    expect(await tmux.hasSession('orch-tmxuser')).toBe(true);
    expect(count('tmxuser', 'start')).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Through Temporal

describe('through the agentJob and cycle workflows', () => {
  test('the kill switch: in persistent → the session; removed → a plain child process; back → the session again', async () => {
    await setPersistent(['tmxflip', 'tmxcyc1', 'tmxadopt', 'tmxcrash']);
    const one = await jobResult(
      (await startJob(env.client, env.config, { project: 'tmxflip', kind: 'run' })).handle,
      'tmxflip',
    );
    expect(one).toMatchObject({ outcome: 'succeeded', result: 'Done: flip', costUsd: null });
    expect(existsSync(path.join(one.logPath, 'session.json'))).toBe(true);

    await setPersistent(['tmxcyc1', 'tmxadopt', 'tmxcrash']);
    const two = await jobResult(
      (await startJob(env.client, env.config, { project: 'tmxflip', kind: 'run' })).handle,
      'tmxflip',
    );
    // fake-claude (-p) answered: it reports a cost, the TUI never does.
    expect(two).toMatchObject({ outcome: 'succeeded', result: 'Done: flip' });
    expect(two.costUsd).not.toBeNull();
    expect(existsSync(path.join(two.logPath, 'session.json'))).toBe(false);
    expect(count('tmxflip', 'submit')).toBe(1);

    await setPersistent(['tmxflip', 'tmxcyc1', 'tmxadopt', 'tmxcrash']);
    const three = await jobResult(
      (await startJob(env.client, env.config, { project: 'tmxflip', kind: 'run', prompt: 'third' })).handle,
      'tmxflip',
    );
    expect(three).toMatchObject({ outcome: 'succeeded', result: 'Done: third', costUsd: null });
    expect(count('tmxflip', 'submit')).toBe(2);
    expect(count('tmxflip', 'start')).toBe(1);
  });

  test('EOD and rollover of a persistent project run in its session too (the kill switch covers every kind)', async () => {
    const config = await setPersistent(['tmxflip', 'tmxcyc1', 'tmxadopt', 'tmxcrash']);
    const submitted = count('tmxflip', 'submit');
    const eod = (await (
      await startBatch(env.client, config, 'eod', { projects: ['tmxflip'], date: '2026-05-04' })
    ).result()) as BatchResult;
    const row = eod.rows.find((r) => r.project === 'tmxflip')!;
    // The session's agent wrote the work log, which EOD then verified.
    expect(row).toMatchObject({ status: 'succeeded', costUsd: null });
    expect(existsSync(path.join(row.logPath!, 'session.json'))).toBe(true);
    expect(existsSync(path.join(env.projectPath('tmxflip'), 'docs/worklog/2026-05-04.md'))).toBe(true);
    const rollover = (await (
      await startBatch(env.client, config, 'rollover', { projects: ['tmxflip'], date: '2026-05-05' })
    ).result()) as BatchResult;
    const roll = rollover.rows.find((r) => r.project === 'tmxflip')!;
    expect(roll).toMatchObject({ status: 'succeeded', costUsd: null });
    expect(existsSync(path.join(roll.logPath!, 'session.json'))).toBe(true);
    // Both prompts went to the one session: no new agent started.
    expect(count('tmxflip', 'submit')).toBe(submitted + 2);
    expect(count('tmxflip', 'start')).toBe(1);
  });

  test('a cycle runs a persistent project next to an ephemeral one, after reaping stale sessions', async () => {
    const config = await setPersistent(['tmxflip', 'tmxcyc1', 'tmxadopt', 'tmxcrash']);
    // A stale session: made by orchestrate for a project that is not persistent, and idle.
    await ensureSession(config, config.projects.tmxstale);
    expect(await tmux.hasSession('orch-tmxstale')).toBe(true);

    const handle = await startBatch(env.client, config, 'cycle', { projects: ['tmxcyc1', 'tmxcyc2'] });
    const result = (await handle.result()) as BatchResult;
    const row = (p: string) => result.rows.find((r) => r.project === p)!;
    expect(result.refused ?? null).toBeNull();
    expect(row('tmxcyc1')).toMatchObject({ status: 'succeeded', reason: 'Done: cycle persistent', costUsd: null });
    expect(existsSync(path.join(row('tmxcyc1').logPath!, 'session.json'))).toBe(true);
    expect(row('tmxcyc2')).toMatchObject({ status: 'succeeded', reason: 'Done: cycle ephemeral' });
    expect(row('tmxcyc2').costUsd).not.toBeNull();

    expect(await tmux.hasSession('orch-tmxstale')).toBe(false);
    expect(await tmux.hasSession('orch-tmxcyc1')).toBe(true);
    expect(await tmux.hasSession('orch-tmxflip')).toBe(true);
    // Made by a person: never touched.
    expect(await tmux.hasSession('orch-tmxuser')).toBe(true);
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).toContain('reapStaleSessions');
  });

  test("a persistent job behind an auth failure of its account types no prompt: its worker's hold skips it", async () => {
    const config = await setPersistent(['tmxflip', 'tmxcyc1', 'tmxadopt', 'tmxcrash', 'tmxauth', 'tmxheld']);
    // The first wave (concurrency 4) fills the worker's slots; tmxheld starts once their agents have them, and
    // gets tmxauth's slot after its turn failed to log in.
    const projects = ['tmxauth', 'tmxbusy1', 'tmxbusy2', 'tmxbusy3', 'tmxheld'];
    const handle = await startBatch(env.client, config, 'cycle', { projects });
    const result = (await handle.result()) as BatchResult;
    const row = (p: string) => result.rows.find((r) => r.project === p)!;
    expect(row('tmxauth')).toMatchObject({ status: 'agent_error', reason: expect.stringMatching(/not authenticated/) });
    expect(row('tmxheld')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/not logged in/) });
    expect(row('tmxheld').workflowId).toBe('job/tmxheld');
    expect(tuiEvents('tmxheld')).toEqual([]);
  }, 90_000);

  test('a worker deployed mid-job leaves the agent working; the next worker adopts it (no second prompt)', async () => {
    const { handle } = await startJob(env.client, env.config, {
      project: 'tmxadopt',
      kind: 'run',
      prompt: '[tui:slow:4] adopt me',
    });
    await waitFor('the prompt to be submitted', () => count('tmxadopt', 'submit') > 0);
    worker.shutdown();
    await workerRunning;
    // The agent was not interrupted: it is still working.
    expect(count('tmxadopt', 'interrupted')).toBe(0);
    await startWorker();
    const r = await jobResult(handle, 'tmxadopt');
    expect(r).toMatchObject({ outcome: 'succeeded', result: 'Done: [tui:slow:4] adopt me' });
    expect(sessionJson(r.logPath)).toMatchObject({ adopted: true, completion: 'hook' });
    expect(count('tmxadopt', 'submit')).toBe(1);
    expect(count('tmxadopt', 'start')).toBe(1);
  });

  test('a worker killed with SIGKILL mid-job: the next worker waits on the same nonce; one prompt, one answer', async () => {
    // This job's first worker is a separate process, so it can be killed outright.
    worker.shutdown();
    await workerRunning;
    const cli = path.resolve(__dirname, '../dist/cli.js');
    const w1 = execa('node', [cli, 'worker'], { env: env.cliEnv, reject: false, all: true, stdin: 'ignore' });
    const submitted = count('tmxadopt', 'submit');
    const started = count('tmxadopt', 'start');
    const { handle } = await startJob(env.client, env.config, {
      project: 'tmxadopt',
      kind: 'run',
      prompt: '[tui:slow:5] survive a kill',
    });
    await waitFor('the prompt to be submitted', () => count('tmxadopt', 'submit') > submitted, 30_000);
    w1.kill('SIGKILL');
    await w1;
    // The session and its agent live on; the server notices the dead worker at the heartbeat timeout (10 s here).
    expect(await tmux.hasSession('orch-tmxadopt')).toBe(true);
    await startWorker();
    const r = await jobResult(handle, 'tmxadopt');
    expect(r).toMatchObject({ outcome: 'succeeded', result: 'Done: [tui:slow:5] survive a kill' });
    expect(sessionJson(r.logPath)).toMatchObject({ adopted: true, completion: 'hook' });
    expect(count('tmxadopt', 'submit')).toBe(submitted + 1);
    expect(count('tmxadopt', 'start')).toBe(started);
    expect(count('tmxadopt', 'interrupted')).toBe(0);
  }, 90_000);

  test('a session dying under a job: retried once in a new session, then the job fails as crashed', async () => {
    const { handle } = await startJob(env.client, env.config, {
      project: 'tmxcrash',
      kind: 'run',
      prompt: '[tui:exit] every time',
    });
    const r = await jobResult(handle, 'tmxcrash');
    expect(r.outcome).toBe('crashed');
    expect(r.message).toMatch(
      /^tmxcrash: tmux session orch-tmxcrash ended mid-job: the agent exited \(status 3\) — it happened 2 times, so the job is not retried/,
    );
    expect(count('tmxcrash', 'start')).toBe(2);
    expect(count('tmxcrash', 'submit')).toBe(2);
  });
});
