// Agent profiles: each CLI's output (produced by its fake, spawned for real) mapped onto our outcomes, the
// config defaults per profile, and one job per profile end to end through Temporal.
import execa from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCodexUsageLimit } from '../src/agents/codex';
import { parseGeminiUsageLimit } from '../src/agents/gemini';
import { parseProfileOutput } from '../src/agents/parsers';
import { installHint, PROFILES } from '../src/agents/profiles';
import type { ParseInput, ParsedOutput, ResultFormat } from '../src/agents/result';
import { jobResult, startJob } from '../src/temporal/client';
import { ConfigError, parseConfig, type AgentProfile } from '../src/config';
import type { JobResult } from '../src/temporal/types';
import { FAKE_CLAUDE, makeEnv, makeRepo, type TestEnv } from './helpers/env';

const FAKE_CODEX = path.resolve(__dirname, 'fixtures/fake-codex.js');
const FAKE_GEMINI = path.resolve(__dirname, 'fixtures/fake-gemini.js');
const NOW = new Date('2026-01-15T10:00:00Z');

let repo: string;
beforeAll(() => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'orch-profiles-'));
  makeRepo(repo);
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

/** Runs a fake CLI in a git repo and parses its output as the runner would. */
function runFake(
  profile: AgentProfile,
  command: string,
  args: string[],
  opts: { format?: ResultFormat; now?: Date } = {},
): ParsedOutput & { raw: execa.ExecaSyncReturnValue } {
  const raw = execa.sync(command, args, { cwd: repo, reject: false, env: { ...process.env, HOME: repo } });
  const input: ParseInput = {
    stdout: Buffer.from(raw.stdout),
    headTruncated: false,
    stderrTail: raw.stderr,
    exitCode: raw.signal ? null : raw.exitCode,
    signal: raw.signal ?? null,
    project: 'prfunit',
    format: opts.format ?? 'auto',
    now: opts.now ?? new Date(),
  };
  return { ...parseProfileOutput(profile, input), raw };
}

const codex = (prompt: string, extra: string[] = []) =>
  runFake('codex', FAKE_CODEX, ['exec', '--json', ...extra, prompt]);
const gemini = (prompt: string, format = 'json') =>
  runFake('gemini', FAKE_GEMINI, ['-p', prompt, '--output-format', format]);

describe('codex: `codex exec --json` events', () => {
  test('success: the last agent message, thread id, tokens (cached input apart)', () => {
    const r = codex('Fix the bug');
    expect(r.raw.exitCode).toBe(0);
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: Fix the bug');
    expect(r.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.numTurns).toBe(1);
    expect(r.costUsd).toBeNull();
    expect(r.tokens).toEqual({ input: 315, output: 122, cacheRead: 24448, cacheCreation: 0 });
    expect(r.message).toMatch(/^prfunit: agent succeeded \(1 turn, 1 command\)$/);
  });

  test('usage limit "try again in 2 hours 5 minutes" → usage_limit with the reset time', () => {
    const before = Date.now();
    const r = codex('[scenario:usage_limit]');
    expect(r.raw.exitCode).toBe(1);
    expect(r.outcome).toBe('usage_limit');
    const at = Date.parse(r.usageLimitResetsAt ?? '');
    expect(at - before).toBeGreaterThanOrEqual(125 * 60_000 - 5_000);
    expect(at - Date.now()).toBeLessThanOrEqual(125 * 60_000 + 5_000);
    expect(r.message).toMatch(/^prfunit: Codex usage limit reached \("You've hit your usage limit/);
  });

  test('usage limit "try again at 8:19 PM" (local time) → the next such time', () => {
    const r = codex('[scenario:usage_limit:at]');
    expect(r.outcome).toBe('usage_limit');
    const inMs = Date.parse(r.usageLimitResetsAt ?? '') - Date.now();
    expect(Math.abs(inMs - 2 * 3_600_000)).toBeLessThan(2 * 60_000);
  });

  test('usage limit without a reset time, and 429s → usage_limit, reset unknown (back off)', () => {
    for (const scenario of ['usage_limit_once', 'rate_limited']) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-profiles-once-'));
      makeRepo(dir);
      const raw = execa.sync(FAKE_CODEX, ['exec', '--json', `[scenario:${scenario}]`], { cwd: dir, reject: false });
      rmSync(dir, { recursive: true, force: true });
      const r = parseProfileOutput('codex', {
        stdout: raw.stdout,
        headTruncated: false,
        stderrTail: raw.stderr,
        exitCode: raw.exitCode,
        signal: null,
        project: 'prfunit',
        format: 'auto',
        now: NOW,
      });
      expect([scenario, r.outcome, r.usageLimitResetsAt]).toEqual([scenario, 'usage_limit', null]);
    }
  });

  test('not logged in (401) → agent_error telling to run codex login', () => {
    const r = codex('[scenario:not_logged_in]');
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(/^prfunit: codex is not authenticated .*codex login/);
  });

  test('turn.failed → agent_error with the error text', () => {
    const r = codex('[scenario:error]');
    expect(r.outcome).toBe('agent_error');
    expect(r.subtype).toBe('turn.failed');
    expect(r.message).toMatch(/^prfunit: codex reported an error: "stream disconnected.*exited with code 1/);
  });

  test('events but no turn.completed, exit 1 → crashed', () => {
    const r = codex('[scenario:crash_midstream]');
    expect(r.outcome).toBe('crashed');
    expect(r.message).toMatch(/ended before turn\.completed .*exited with code 1.*panicked|connection reset/);
  });

  test('killed by a signal → crashed', () => {
    const r = codex('[scenario:signal:SIGKILL]');
    expect(r.raw.signal).toBe('SIGKILL');
    expect(r.outcome).toBe('crashed');
    expect(r.message).toMatch(/killed by SIGKILL/);
  });

  test('outside a git repo (no events, exit 1) → crashed naming stderr', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-profiles-nogit-'));
    const raw = execa.sync(FAKE_CODEX, ['exec', '--json', 'hi'], { cwd: dir, reject: false });
    rmSync(dir, { recursive: true, force: true });
    const r = parseProfileOutput('codex', {
      stdout: raw.stdout,
      headTruncated: false,
      stderrTail: raw.stderr,
      exitCode: raw.exitCode,
      signal: null,
      project: 'prfunit',
      format: 'auto',
      now: NOW,
    });
    expect(r.outcome).toBe('crashed');
    expect(r.message).toMatch(/exited with code 1 without printing a result; last stderr line: "Not inside a trusted/);
  });

  test('without --json: the final message as text', () => {
    const r = runFake('codex', FAKE_CODEX, ['exec', 'plain please']);
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: plain please');
  });

  test('reset parsing: days, wrapped lines, unknown', () => {
    expect(
      parseCodexUsageLimit(
        "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 5 days 22 hours 11\nminutes.",
        NOW,
      )?.resetsAt,
    ).toBe(new Date(NOW.getTime() + ((5 * 24 + 22) * 60 + 11) * 60_000).toISOString());
    expect(parseCodexUsageLimit('all good', NOW)).toBeNull();
    expect(parseCodexUsageLimit("You've hit your usage limit.", NOW)?.resetsAt).toBeNull();
  });
});

describe('gemini: `gemini -p … --output-format json`', () => {
  test('success: response, session id, tokens and requests from stats', () => {
    const r = gemini('Fix the bug');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: Fix the bug');
    expect(r.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.numTurns).toBe(3);
    expect(r.tokens).toEqual({ input: 24939 - 21263, output: 20 + 154, cacheRead: 21263, cacheCreation: 0 });
    expect(r.message).toBe('prfunit: agent succeeded (3 requests)');
  });

  test('quota exhausted, "reset after 2h30m0s" (error object on stderr) → usage_limit with the reset time', () => {
    const before = Date.now();
    const r = gemini('[scenario:usage_limit]');
    expect(r.raw.stdout).toBe('');
    expect(r.outcome).toBe('usage_limit');
    const at = Date.parse(r.usageLimitResetsAt ?? '');
    expect(at - before).toBeGreaterThanOrEqual(150 * 60_000 - 5_000);
    expect(at - Date.now()).toBeLessThanOrEqual(150 * 60_000 + 5_000);
    expect(r.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.message).toMatch(/^prfunit: Gemini usage limit reached \("You have exhausted your capacity/);
  });

  test('not logged in (exit 41) → agent_error telling how to log in', () => {
    const r = gemini('[scenario:not_logged_in]');
    expect(r.raw.exitCode).toBe(41);
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(/^prfunit: gemini is not authenticated .*GEMINI_API_KEY/);
  });

  test('turn limit (exit 53) → agent_error naming maxSessionTurns', () => {
    const r = gemini('[scenario:turn_limit]');
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(/turn limit \(exit 53\).*maxSessionTurns/);
  });

  test('API error (exit 1) → agent_error with the message', () => {
    const r = gemini('[scenario:error]');
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(/^prfunit: gemini reported an error \(code 1\): "\[API Error: got status: INTERNAL/);
  });

  test('half an object, exit 1 → crashed; killed by a signal → crashed', () => {
    expect(gemini('[scenario:crash_midstream]').outcome).toBe('crashed');
    const r = gemini('[scenario:signal:SIGTERM]');
    expect(r.raw.signal).toBe('SIGTERM');
    expect(r.outcome).toBe('crashed');
    expect(r.message).toMatch(/killed by SIGTERM/);
  });

  test('stream-json (result event) and text output', () => {
    const s = gemini('streamed', 'stream-json');
    expect(s.outcome).toBe('succeeded');
    expect(s.tokens).toEqual({ input: 24939 - 21263, output: 20, cacheRead: 21263, cacheCreation: 0 });
    expect(gemini('[scenario:usage_limit:45m]', 'stream-json').outcome).toBe('usage_limit');
    const t = gemini('plain', 'text');
    expect(t.outcome).toBe('succeeded');
    expect(t.result).toBe('Done: plain');
    expect(gemini('[scenario:not_logged_in]', 'text').outcome).toBe('agent_error');
  });

  test('an error object on stdout, noise before it, and odd output never throw', () => {
    const base = {
      headTruncated: false,
      stderrTail: '',
      signal: null,
      project: 'prfunit',
      format: 'auto' as const,
      now: NOW,
    };
    const onStdout = parseProfileOutput('gemini', {
      ...base,
      exitCode: 1,
      stdout:
        'Loaded cached credentials.\n' +
        JSON.stringify({ error: { type: 'Error', message: 'Quota exceeded for quota metric', code: 429 } }, null, 2),
    });
    expect(onStdout.outcome).toBe('usage_limit');
    expect(parseGeminiUsageLimit('RESOURCE_EXHAUSTED "retryDelay": "41s"', NOW)?.resetsAt).toBe(
      new Date(NOW.getTime() + 41_000).toISOString(),
    );
    // Claude Code always ends with a result object: its JSON without one is a cut-off run. A custom agent's own
    // JSON (output_format "auto") is its text output.
    const own = { ...base, exitCode: 0, stdout: '{"status": "ok"}\n' };
    expect(parseProfileOutput('claude', own).outcome).toBe('crashed');
    expect(parseProfileOutput('custom', own).outcome).toBe('succeeded');
    for (const profile of ['codex', 'gemini', 'claude', 'custom'] as const) {
      for (const stdout of [
        '',
        '{',
        '[1,2',
        '{"type":"turn.completed","usage":null}',
        '\u0000\uffff',
        '{"response":42,"stats":[]}',
      ]) {
        const r = parseProfileOutput(profile, { ...base, exitCode: 0, stdout });
        expect(['succeeded', 'agent_error', 'crashed', 'usage_limit']).toContain(r.outcome);
        expect(r.message).toMatch(/^prfunit: /);
      }
    }
  });
});

describe('the profile table: each profile its own hints', () => {
  const notLoggedIn = {
    stdout: 'Not logged in · Please run /login\n',
    headTruncated: false,
    stderrTail: '',
    exitCode: 1,
    signal: null,
    project: 'prfunit',
    format: 'text' as const,
    now: NOW,
  };

  test('a custom agent that is not logged in gets a generic hint, not `claude /login`', () => {
    const custom = parseProfileOutput('custom', notLoggedIn);
    expect(custom.outcome).toBe('agent_error');
    expect(custom.message).toMatch(/^prfunit: agent is not authenticated /);
    expect(custom.message).not.toContain('claude');
    expect(custom.message).toContain('log the agent in as the worker user');
    expect(parseProfileOutput('claude', notLoggedIn).message).toContain('claude /login');
  });

  test('every profile has a login hint; each default command its install hint', () => {
    for (const spec of Object.values(PROFILES)) expect(spec.loginHint).not.toBe('');
    expect(installHint('/usr/local/bin/claude', 'a')).toMatch(/^install Claude Code /);
    expect(installHint('my-agent', 'a')).toBe(
      'install it on this worker host, or set [agent] command (or [projects.a.agent] command) to its full path',
    );
  });

  test('the config takes its per-profile defaults from the table', () => {
    const c = parseConfig('[projects.a]\npath = "/a"\n', '/tmp/workspaces.toml');
    expect(c.projects.a.agent.command).toBe(PROFILES.claude.defaults?.command);
    expect(c.projects.a.agent.args).toEqual(PROFILES.claude.defaults?.args);
    expect(c.projects.a.agent.interactiveCommand).toBe(PROFILES.claude.interactive?.command);
  });
});

describe('config: profiles', () => {
  const parse = (toml: string) => parseConfig(toml, '/tmp/workspaces.toml');

  test('each profile supplies command and args; explicit ones win; a project may switch profile', () => {
    const c = parse(`
[agent]
profile = "codex"
[projects.a]
path = "/a"
[projects.b]
path = "/b"
[projects.b.agent]
profile = "gemini"
[projects.c]
path = "/c"
[projects.c.agent]
profile = "claude"
args = ["-p", "{prompt}", "--output-format", "stream-json", "--verbose"]
[projects.d]
path = "/d"
[projects.d.agent]
command = "/opt/codex"
`);
    const a = (n: string) => {
      const { profile, command, args } = c.projects[n].agent;
      return { profile, command, args };
    };
    expect(a('a')).toEqual({ profile: 'codex', command: 'codex', args: ['exec', '--json', '{prompt}'] });
    expect(a('b')).toEqual({
      profile: 'gemini',
      command: 'gemini',
      args: ['-p', '{prompt}', '--output-format', 'json'],
    });
    expect(a('c')).toEqual({
      profile: 'claude',
      command: 'claude',
      args: ['-p', '{prompt}', '--output-format', 'stream-json', '--verbose'],
    });
    expect(a('d')).toEqual({ profile: 'codex', command: '/opt/codex', args: ['exec', '--json', '{prompt}'] });
  });

  test("[agent]'s explicit command stays with its profile", () => {
    const c = parse(
      '[agent]\ncommand = "claude-wrapper"\n[projects.a]\npath = "/a"\n[projects.b]\npath = "/b"\nagent = { profile = "gemini" }\n',
    );
    expect(c.projects.a.agent.command).toBe('claude-wrapper');
    expect(c.projects.b.agent.command).toBe('gemini');
  });

  test('custom needs command and args; a misspelt profile gets a hint', () => {
    const err = (toml: string) => {
      try {
        parse(toml);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('no error');
    };
    expect(err('[agent]\nprofile = "custom"\n[projects.a]\npath = "/a"\n').problems).toEqual([
      {
        path: 'agent.profile',
        message:
          'profile "custom" needs command and args set too, e.g. command = "my-agent" and args = ["--prompt", "{prompt}"] (or use profile "claude", "codex" or "gemini")',
      },
    ]);
    expect(err('[projects.a]\npath = "/a"\nagent = { profile = "custom", command = "x" }\n').problems[0].path).toBe(
      'projects.a.agent.profile',
    );
    const c = parse(
      '[agent]\nprofile = "custom"\ncommand = "aider"\nargs = ["--message", "{prompt}"]\noutput_format = "text"\n[projects.a]\npath = "/a"\n',
    );
    expect(c.projects.a.agent).toMatchObject({ profile: 'custom', command: 'aider', outputFormat: 'text' });
    expect(err('[agent]\nprofile = "codx"\n').message).toContain(
      'agent.profile: "codx" is not one of "claude", "codex", "gemini", "custom"',
    );
    expect(err('[agent]\nprofil = "codex"\n').message).toContain('unknown key "profil" (did you mean "profile"?)');
  });
});

describe('end to end: one job per profile through Temporal', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv({
      projects: {
        prfclaude: '',
        prfcodex: `[projects.prfcodex.agent]\nprofile = "codex"\ncommand = "${FAKE_CODEX}"`,
        prfcodexlimit: `prompt = "[scenario:usage_limit_once]"\n[projects.prfcodexlimit.agent]\nprofile = "codex"\ncommand = "${FAKE_CODEX}"`,
        prfgemini: `[projects.prfgemini.agent]\nprofile = "gemini"\ncommand = "${FAKE_GEMINI}"`,
        prfgeminiauth: `prompt = "[scenario:not_logged_in]"\n[projects.prfgeminiauth.agent]\nprofile = "gemini"\ncommand = "${FAKE_GEMINI}"`,
        prfcustom: `[projects.prfcustom.agent]\nprofile = "custom"\ncommand = "${FAKE_GEMINI}"\nargs = ["--prompt", "{prompt}", "--output-format", "text"]\noutput_format = "text"`,
      },
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  async function run(project: string, prompt?: string): Promise<JobResult> {
    const { handle } = await startJob(env.client, env.config, { project, kind: 'run', prompt });
    return jobResult(handle, project);
  }

  test('claude (default profile) still reads Claude Code JSON', async () => {
    expect(env.config.projects.prfclaude.agent).toMatchObject({ profile: 'claude', command: FAKE_CLAUDE });
    const r = await run('prfclaude', 'hello');
    expect([r.outcome, r.result, r.costUsd]).toEqual(['succeeded', 'Done: hello', 0.0123]);
  });

  test('codex: exec --json from the profile defaults, events parsed', async () => {
    const r = await run('prfcodex', 'Fix it [marker]');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: Fix it [marker]');
    expect(r.numTurns).toBe(1);
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('prfcodex'), '.fake-codex-marker'), 'utf8'));
    expect(marker.argv).toEqual(['exec', '--json', 'Fix it [marker]']);
    const failed = await run('prfcodex', '[scenario:error]');
    expect(failed.outcome).toBe('agent_error');
    expect(failed.message).toMatch(/^prfcodex: codex reported an error/);
  });

  test('codex usage limit: the job waits, runs again and succeeds', async () => {
    const r = await run('prfcodexlimit');
    expect(r.outcome).toBe('succeeded');
    expect(readdirSync(path.join(env.stateDir, 'runs', 'prfcodexlimit'))).toHaveLength(2);
  });

  test('gemini: -p … --output-format json from the profile defaults', async () => {
    const r = await run('prfgemini', 'Fix it');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: Fix it');
    expect(r.numTurns).toBe(3);
    const auth = await run('prfgeminiauth');
    expect(auth.outcome).toBe('agent_error');
    expect(auth.message).toMatch(/^prfgeminiauth: gemini is not authenticated/);
  });

  test('custom: the user command and output_format = "text"', async () => {
    const r = await run('prfcustom', 'as text');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: as text');
  });
});
