// One agent job end to end on the real dev server: client → agentJob workflow → activities → fake agent.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult, pendingAgentHeartbeat, startJob, AlreadyRunningError } from '../src/temporal/client';
import { RESULT_MAX_CHARS, type JobResult } from '../src/temporal/types';
import { jobWorkflowId } from '../src/temporal/ids';
import { CONTINUATION_PROMPT } from '../src/runner/invocation';
import { makeEnv, processesIn, waitFor, waitForDetails, type TestEnv } from './helpers/env';
import { processAlive } from './helpers/process';

const STREAM_ARGS = '["-p", "{prompt}", "--output-format", "stream-json", "--verbose"]';
let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv({
    projects: {
      alpha:
        'prompt = "Pick the next open issue and work on it."\n[projects.alpha.agent]\nenv = { ORCH_TEST_SECRET = "s3cr3t-value-never-in-history" }',
      beta: '',
      textual: '[projects.textual.agent]\nargs = ["-p", "{prompt}"]\noutput_format = "text"',
      slowpoke: '[projects.slowpoke.agent]\ntimeout = "2s"',
      gone: '',
      // Accounts of their own: their limits hold every job of their account, here only their own.
      limited:
        'prompt = "[scenario:usage_limit_once:whenever it likes]"\n[projects.limited.agent]\naccount = "limited-account"',
      alwayslimited:
        'prompt = "[scenario:usage_limit:whenever it likes]"\n[projects.alwayslimited.agent]\naccount = "always-limited-account"',
      skilled: 'prompt = "[marker] write the notes"\ninline_skills = ["release-notes"]',
      unskilled: 'inline_skills = ["no-such-skill"]',
      nobinary: '[projects.nobinary.agent]\ncommand = "definitely-not-an-agent-binary"',
      flaky: 'prompt = "[scenario:api_error:529:1]"',
      overloaded: 'prompt = "[scenario:api_error:529]"',
      // stream-json prints the session id first: a relaunch after a crash continues it ([agent] resume).
      crashy: `[projects.crashy.agent]\nargs = ${STREAM_ARGS}`,
      crashfresh: `[projects.crashfresh.agent]\nargs = ${STREAM_ARGS}\nresume = false`,
    },
    missing: ['gone'],
    concurrency: 4,
    orchestratorExtra: ['transient_backoff = "1s"'],
  });
  const skill = path.join(env.projectPath('skilled'), '.claude', 'skills', 'release-notes');
  mkdirSync(skill, { recursive: true });
  writeFileSync(path.join(skill, 'SKILL.md'), '# Release notes\nAlways list breaking changes first.\n');
});

afterAll(async () => {
  // The process table, scanned: no agent (or grandchild) of this suite may outlive it.
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  expect(left).toEqual([]);
});

async function run(project: string, prompt?: string): Promise<JobResult> {
  const { handle } = await startJob(env.client, env.config, { project, kind: 'run', prompt });
  return jobResult(handle, project);
}

describe('outcomes', () => {
  test('success: result parsed, output kept in the run folder, marker written in the project folder', async () => {
    const r = await run('alpha', 'Fix the bug [marker]');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: Fix the bug [marker]');
    expect(r.costUsd).toBeCloseTo(0.0123);
    expect(r.numTurns).toBe(3);
    expect(r.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.exitCode).toBe(0);
    expect(r.workflowId).toBe(jobWorkflowId('alpha'));
    expect(r.logPath.startsWith(env.stateDir)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(r.logPath, 'stdout.log'), 'utf8')).type).toBe('result');
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('alpha'), '.fake-claude-marker'), 'utf8'));
    expect(marker.cwd).toBe(env.projectPath('alpha'));
    expect(marker.prompt).toBe('Fix the bug [marker]');
  });

  test('the configured prompt is used when none is given', async () => {
    const r = await run('alpha');
    expect(r.result).toBe('Done: Pick the next open issue and work on it.');
  });

  test.each([
    ['error_max_turns', /max turns/i],
    ['error_during_execution', /error_during_execution|during execution/i],
    ['error_max_budget_usd', /budget/i],
    ['error_max_structured_output_retries', /structured/i],
  ])('%s → agent_error naming the project', async (scenario, pattern) => {
    const r = await run('beta', `[scenario:${scenario}]`);
    expect(r.outcome).toBe('agent_error');
    expect(r.subtype).toBe(scenario);
    expect(r.exitCode).toBe(1);
    expect(r.message).toMatch(/^beta: /);
    expect(r.message).toMatch(pattern);
  });

  test('not logged in (subtype success, is_error true, exit 1) is an agent error, not a success', async () => {
    const r = await run('beta', '[scenario:not_logged_in]');
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(/log ?in/i);
  });

  test('usage limit: the job waits durably (shown in the Web UI), then runs again and succeeds', async () => {
    const { handle } = await startJob(env.client, env.config, { project: 'limited', kind: 'run' });
    const details = await waitForDetails(handle, /^waiting for usage limit reset until/);
    expect(details).toMatch(/until \d\d:\d\d \(Europe\/London\) — reset time not given, backing off/);
    const r = await jobResult(handle, 'limited');
    expect(r.outcome).toBe('succeeded');
    // Two agent invocations, each in its own run folder; the wait itself spent no retry attempt.
    const runs = readdirSync(path.join(env.stateDir, 'runs', 'limited')).sort();
    expect(runs).toHaveLength(2);
    expect(runs[1]).toBe(`${runs[0]}-r1`);
  });

  test('cancel during a usage-limit wait: cancelled at once, no agent running', async () => {
    const { handle } = await startJob(env.client, env.config, { project: 'alwayslimited', kind: 'run' });
    await waitForDetails(handle, /^waiting for usage limit reset/);
    await handle.cancel();
    const r = await jobResult(handle, 'alwayslimited');
    expect(r.outcome).toBe('cancelled');
    expect(readdirSync(path.join(env.stateDir, 'runs', 'alwayslimited'))).toHaveLength(1);
  });

  test('a transient API error (529 overloaded) runs the job again after a back-off, which then succeeds', async () => {
    const r = await run('flaky');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: [scenario:api_error:529:1]');
    // Two agent runs, each in its own run folder.
    expect(readFileSync(path.join(env.projectPath('flaky'), '.fake-api-error-runs'), 'utf8')).toBe('2');
    const runs = readdirSync(path.join(env.stateDir, 'runs', 'flaky')).sort();
    expect(runs).toHaveLength(2);
    expect(runs[1]).toBe(`${runs[0]}-r1`);
  });

  test('a transient API error that does not pass: retried a capped number of times, then agent_error', async () => {
    const r = await run('overloaded');
    expect(r.outcome).toBe('agent_error');
    expect(r.transient).toBe(true);
    expect(r.message).toMatch(/^overloaded: the Claude API failed with a transient error \("API Error: 529 /);
    expect(r.message).toMatch(/still failing after 3 retries/);
    expect(readdirSync(path.join(env.stateDir, 'runs', 'overloaded'))).toHaveLength(4);
  });

  test.each(['array', 'ansi', 'invalid_utf8'])('%s output still parses as success', async (scenario) => {
    const r = await run('beta', `[scenario:${scenario}]`);
    expect(r.outcome).toBe('succeeded');
    expect(r.costUsd).not.toBeNull();
  });

  test('text output format', async () => {
    const r = await run('textual', 'hello there');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toContain('Done: hello there');
    expect(r.costUsd).toBeNull();
  });

  test('50 MB of output: small history payload, full output on disk', async () => {
    const r = await run('beta', '[scenario:huge:50]');
    expect(r.outcome).toBe('succeeded');
    expect(r.result.length).toBeLessThanOrEqual(RESULT_MAX_CHARS);
    expect(statSync(path.join(r.logPath, 'stdout.log')).size).toBeGreaterThan(50 * 1024 * 1024);
    const history = await env.client.workflow.getHandle(r.workflowId).fetchHistory();
    expect(JSON.stringify(history).length).toBeLessThan(200_000);
  });

  test('killed by a signal → crashed, retried exactly once more', async () => {
    const r = await run('beta', '[scenario:signal:SIGKILL]');
    expect(r.outcome).toBe('crashed');
    expect(r.message).toMatch(/SIGKILL/);
    const runFolder = path.dirname(r.logPath);
    expect(attemptFolders(runFolder)).toEqual(['attempt-1', 'attempt-2']);
  });

  test('a crash after the agent printed its session id: the relaunch continues that session', async () => {
    const r = await run('crashy', '[scenario:crash_midstream:once] [marker] fix the bug');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: [scenario:crash_midstream:once] [marker] fix the bug');
    const runFolder = path.dirname(r.logPath);
    expect(attemptFolders(runFolder)).toEqual(['attempt-1', 'attempt-2']);
    const init = JSON.parse(readFileSync(path.join(runFolder, 'attempt-1', 'stdout.log'), 'utf8').split('\n')[0]);
    expect(init).toMatchObject({ type: 'system', subtype: 'init' });
    // The second launch's command line: --resume <the first one's session> and the continuation prompt.
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('crashy'), '.fake-claude-marker'), 'utf8'));
    expect(marker.argv.slice(0, 2)).toEqual(['--resume', init.session_id]);
    expect(marker.argv).toContain(CONTINUATION_PROMPT);
    expect(r.sessionId).toBe(init.session_id);

    // With [agent] resume = false, the relaunch starts the task over.
    const fresh = await run('crashfresh', '[scenario:crash_midstream:once] [marker] fix the bug');
    expect(fresh.outcome).toBe('succeeded');
    const again = JSON.parse(readFileSync(path.join(env.projectPath('crashfresh'), '.fake-claude-marker'), 'utf8'));
    expect(again.argv).not.toContain('--resume');
    expect(again.argv).toContain('[scenario:crash_midstream:once] [marker] fix the bug');
  });

  test('timeout kills the whole process group (agent ignores SIGTERM, grandchildren too)', async () => {
    const pidsFile = path.join(env.projectPath('slowpoke'), '.fake-claude-pids');
    const r = await run('slowpoke', '[scenario:grandchildren]');
    expect(r.outcome).toBe('timed_out');
    expect(r.message).toMatch(/slowpoke: .*timeout/);
    const pids = readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    // Timeouts are not retried.
    expect(attemptFolders(path.dirname(r.logPath))).toEqual(['attempt-1']);
  });
});

describe('setup errors are not retried and say what to fix', () => {
  test('project path missing', async () => {
    const r = await run('gone');
    expect(r.outcome).toBe('setup_error');
    expect(r.message).toMatch(/gone: project path .* does not exist — fix \[projects\.gone\] path/);
  });

  test('a failing notification never turns a setup error into a crash', async () => {
    // A broken config file: prepareJob fails (setup error), and so does the notify activity that reports it.
    const good = readFileSync(env.configPath, 'utf8');
    await env.writeConfig(`${good}\n[orchestrator]\nconcurrency = "many"\n`);
    try {
      const r = await run('beta');
      expect(r.outcome).toBe('setup_error');
      expect(r.message).toMatch(/workspaces.toml is invalid/);
    } finally {
      await env.writeConfig(good);
    }
  });

  test('agent binary not found', async () => {
    const r = await run('nobinary');
    expect(r.outcome).toBe('setup_error');
    expect(r.message).toMatch(/nobinary: agent command "definitely-not-an-agent-binary" not found/);
  });
});

describe('skills fallback (inline_skills)', () => {
  test("the project's SKILL.md texts are prepended to the prompt", async () => {
    const r = await run('skilled');
    expect(r.outcome).toBe('succeeded');
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('skilled'), '.fake-claude-marker'), 'utf8'));
    expect(marker.prompt).toContain(
      '<skill name="release-notes">\n# Release notes\nAlways list breaking changes first.\n</skill>',
    );
    expect(marker.prompt.endsWith('[marker] write the notes')).toBe(true);
  });

  test('a named skill that does not exist is a setup error', async () => {
    const r = await run('unskilled');
    expect(r.outcome).toBe('setup_error');
    expect(r.message).toMatch(
      /unskilled: skill "no-such-skill" not found: .*SKILL\.md does not exist — fix \[projects\.unskilled\] inline_skills/,
    );
  });
});

describe('one job per project', () => {
  test('a second trigger is refused while the first runs; --attach follows it; cancel leaves no process', async () => {
    const first = await startJob(env.client, env.config, {
      project: 'beta',
      kind: 'run',
      prompt: '[scenario:grandchildren]',
    });
    await expect(startJob(env.client, env.config, { project: 'beta', kind: 'run' })).rejects.toBeInstanceOf(
      AlreadyRunningError,
    );
    const attached = await startJob(env.client, env.config, { project: 'beta', kind: 'run' }, { attach: true });
    expect(attached.attached).toBe(true);
    expect((await attached.handle.describe()).runId).toBe((await first.handle.describe()).runId);

    const pidsFile = path.join(env.projectPath('beta'), '.fake-claude-pids');
    const pids = await waitFor('grandchildren pids', () => {
      if (!existsSync(pidsFile)) return null;
      const p = readFileSync(pidsFile, 'utf8').trim().split('\n').filter(Boolean).map(Number);
      return p.length >= 3 && p.every(processAlive) ? p : null;
    });
    // `status` (and the Web UI's pending activity) name the agent's process: its pid is in the agent activity's
    // heartbeat; the current details say where it runs.
    const shownPid = await waitFor('the agent pid in the heartbeat', async () => {
      const pending = (await first.handle.describe()).raw.pendingActivities ?? [];
      const agent = pending.find((a) => a.activityType?.name === 'runAgentJob');
      return agent ? (pendingAgentHeartbeat(env.client, agent.heartbeatDetails)?.pid ?? null) : null;
    });
    expect(processesIn(env.projectPath('beta')).map((p) => p.pid)).toContain(shownPid);
    const details = await waitForDetails(first.handle, /^running agent in /);
    expect(details).toContain(env.projectPath('beta'));
    const cancelAt = Date.now();
    await first.handle.cancel();
    const r = await jobResult(first.handle, 'beta');
    expect(r.outcome).toBe('cancelled');
    await waitFor('process group gone', () => pids.every((p) => !processAlive(p)), 5000);
    expect(Date.now() - cancelAt).toBeLessThan(5000);
  });
});

describe('workflow history', () => {
  test('never holds environment values; carries search attributes and summary', async () => {
    const r = await run('alpha', 'check history');
    const handle = env.client.workflow.getHandle(r.workflowId);
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('s3cr3t-value-never-in-history');
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
      expect.arrayContaining([
        ['OrchestrateProject', 'alpha'],
        ['OrchestrateKind', 'run'],
        ['OrchestrateOutcome', 'succeeded'],
      ]),
    );
    expect(await desc.staticSummary()).toBe('run · alpha');
  });
});

/** A run folder's attempt folders (beside them: job.json and the attempts' lease claims). */
function attemptFolders(runFolder: string): string[] {
  return readdirSync(runFolder)
    .filter((d) => d.startsWith('attempt-'))
    .sort();
}
