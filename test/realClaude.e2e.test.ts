// The real Claude Code CLI (the pinned npm package) running orchestrate jobs end to end, offline: each project's
// agent talks to its own scripted Messages API on loopback (test/helpers/messagesApi.ts), through [agent] env.
// What the model is sent is read off the API's request log; what orchestrate makes of the CLI's real output is
// read off the job's result.
import execa from 'execa';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult, startJob } from '../src/temporal/client';
import type { JobResult } from '../src/temporal/types';
import { makeEnv, processesIn, waitFor, waitForDetails, type TestEnv } from './helpers/env';
import { killIfAlive } from './helpers/process';
import {
  failing,
  startMessagesApi,
  steps,
  textOf,
  unifiedLimitHeaders,
  type MessagesApi,
  type Reply,
  type Scenario,
} from './helpers/messagesApi';
import { Tmux } from '../src/persistent/tmux';
import { StreamFollower } from '../src/runner/liveProgress';
import {
  EDITING_ARGS,
  claudeBinary,
  freshHome,
  realAgentToml,
  removeHomes,
  settleFirstRun,
  type RealAgentOptions,
} from './helpers/realClaude';

jest.setTimeout(120_000);

const JSON_ARGS = ['-p', '{prompt}', '--output-format', 'json'];
const STREAM_ARGS = [
  ...EDITING_ARGS.filter((a) => a !== 'json' && a !== '--output-format'),
  '--output-format',
  'stream-json',
  '--verbose',
];
const ok: Reply = { text: 'All done.' };

/** The projects of this file: each gets its own scripted API and a real-CLI [agent] table. */
interface ProjectSpec {
  scenario: (dir: string) => Scenario;
  agent?: Omit<RealAgentOptions, 'apiUrl'>;
  /** Extra lines for the project's own table (before its agent table). */
  table?: string;
}

const writeAndCommit = (dir: string): Scenario =>
  steps(
    {
      toolUse: { name: 'Write', input: { file_path: path.join(dir, 'NOTES.md'), content: 'Written by the agent.\n' } },
    },
    {
      toolUse: {
        name: 'Bash',
        input: { command: 'git add NOTES.md && git commit -q -m "Add notes"', description: 'commit' },
      },
    },
    { text: 'Committed NOTES.md.' },
  );
const writeOnly = (dir: string): Scenario =>
  steps({ toolUse: { name: 'Write', input: { file_path: path.join(dir, 'NOTES.md'), content: 'x\n' } } }, ok);

const SKILL_BODY = 'Always list breaking changes first (skill body marker 7f3a).';
const SKILL_MD = `---\nname: release-notes\ndescription: Writes release notes for this project\n---\n# Release notes\n${SKILL_BODY}\n`;
const CLAUDE_MD = 'Project rule: every answer ends with the word PINEAPPLE.';

const TUI_HOME = freshHome();
const TUI_PROMPT = 'What is the answer?';
const TUI_ANSWER = 'The answer from the TUI is 42.';

/**
 * Fails the first turn of the agent itself (the call offering it tools: the TUI also sends the prompt to a
 * small model for the session's title), then answers.
 */
function failingTurnOnce(failure: Reply, answer: Reply): Scenario {
  let failed = false;
  return ({ body }) => {
    if (failed || !body.tools?.length) return answer;
    failed = true;
    return failure;
  };
}
const TMUX_SOCKET = `orch-real-${randomBytes(4).toString('hex')}`;

const PROJECTS: Record<string, ProjectSpec> = {
  edits: { scenario: writeAndCommit },
  streamed: { scenario: writeAndCommit, agent: { args: STREAM_ARGS } },
  skills: { scenario: () => steps({ toolUse: { name: 'Skill', input: { skill: 'release-notes' } } }, ok) },
  inlined: { scenario: () => steps(ok), table: 'inline_skills = ["release-notes"]' },
  denied: { scenario: writeOnly, agent: { args: JSON_ARGS } },
  deniedstream: {
    scenario: writeOnly,
    agent: { args: [...JSON_ARGS.slice(0, 2), '--output-format', 'stream-json', '--verbose'] },
  },
  denialsok: { scenario: writeOnly, agent: { args: JSON_ARGS, extra: 'allow_permission_denials = true' } },
  sessionlimit: {
    // The reset is the next full minute (the CLI shows it cut to the minute), at least a few seconds ahead.
    scenario: () => failing(1, { status: 429 }, () => ok),
    agent: { oauth: true, env: { TZ: 'America/New_York' } },
  },
  weeklylimit: { scenario: () => () => ok, agent: { oauth: true, env: { TZ: 'UTC' } } },
  overloaded: { scenario: () => failing(1, { status: 529 }, () => ok) },
  servererror: { scenario: () => failing(1, { status: 500 }, () => ok) },
  dropped: { scenario: () => failing(1, { drop: true }, () => ok) },
  noanswer: { scenario: () => failing(1, { hang: true }, () => ok), agent: { env: { API_TIMEOUT_MS: '1500' } } },
  badkey: { scenario: () => () => ({ status: 401 }) },
  badtoken: { scenario: () => () => ({ status: 401 }), agent: { oauth: true } },
  maxturns: { scenario: writeOnly, agent: { args: [...EDITING_ARGS, '--max-turns', '1'] } },
  // Persistent: the real interactive TUI in a tmux session (its own HOME, settled as a user would once).
  tui: { scenario: () => steps({ text: TUI_ANSWER }), agent: { home: TUI_HOME, timeout: '20s' } },
  tuiauth: { scenario: () => () => ({ status: 401 }), agent: { home: TUI_HOME, timeout: '20s' } },
  tuiperm: { scenario: writeOnly, agent: { home: TUI_HOME, timeout: '20s' } },
  tuilimit: { scenario: () => () => ok, agent: { home: TUI_HOME, timeout: '20s', oauth: true, env: { TZ: 'UTC' } } },
  tuibusy: {
    scenario: () => failingTurnOnce({ status: 529 }, { text: TUI_ANSWER }),
    agent: { home: TUI_HOME, timeout: '20s' },
  },
};

let env: TestEnv;
const apis: Record<string, MessagesApi> = {};

beforeAll(async () => {
  claudeBinary(); // a missing package fails here, with the fix, before any job runs
  const bodies: Record<string, string> = {};
  for (const [name, spec] of Object.entries(PROJECTS)) {
    apis[name] = await startMessagesApi(() => ok);
    bodies[name] = [spec.table ?? '', realAgentToml(name, { ...spec.agent, apiUrl: apis[name].url })].join('\n');
  }
  env = await makeEnv({
    projects: bodies,
    concurrency: 4,
    orchestratorExtra: [
      'transient_backoff = "1s"',
      // A TUI that ran no turn goes quiet at its prompt: within the persistent jobs' 20 s timeout.
      'idle_seconds = 5',
      `tmux_socket = "${TMUX_SOCKET}"`,
      'persistent = ["tui", "tuiauth", "tuibusy", "tuilimit", "tuiperm"]',
    ],
  });
  settleFirstRun(
    TUI_HOME,
    env.projectPath('tui'),
    env.projectPath('tuiauth'),
    env.projectPath('tuibusy'),
    env.projectPath('tuilimit'),
    env.projectPath('tuiperm'),
  );
  for (const [name, spec] of Object.entries(PROJECTS)) apis[name].setScenario(spec.scenario(env.projectPath(name)));
  for (const name of ['skills', 'inlined']) {
    const dir = path.join(env.projectPath(name), '.claude', 'skills', 'release-notes');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'SKILL.md'), SKILL_MD);
    writeFileSync(path.join(env.projectPath(name), 'CLAUDE.md'), `${CLAUDE_MD}\n`);
  }
});

afterAll(async () => {
  // The persistent session is meant to outlive its job: ended first (the real TUI outlives its tmux server, so
  // it is stopped by pid), then no other agent may be left.
  await new Tmux(TMUX_SOCKET).killServer();
  const all = env ? processesIn(path.join(env.dir, 'projects')) : [];
  // (Killing the tmux server may end some of them between the scan and the kill.)
  for (const p of all.filter((x) => x.cmd.includes(`/sessions/${TMUX_SOCKET}/`))) killIfAlive(p.pid);
  const left = all.filter((x) => !x.cmd.includes(`/sessions/${TMUX_SOCKET}/`));
  await env?.stop();
  await Promise.all(Object.values(apis).map((a) => a.close()));
  removeHomes();
  expect(left).toEqual([]);
});

async function run(project: string, prompt = 'Write NOTES.md and commit it.'): Promise<JobResult> {
  const { handle } = await startJob(env.client, env.config, { project, kind: 'run', prompt });
  return jobResult(handle, project);
}

function runFolders(project: string): string[] {
  return readdirSync(path.join(env.stateDir, 'runs', project)).sort();
}

/** The usage-limit reset a job waits for, as its agent activity returned it into the history. */
async function waitedFor(handle: Awaited<ReturnType<typeof startJob>>['handle']): Promise<string | null | undefined> {
  const { events } = await handle.fetchHistory();
  const results = (events ?? []).flatMap((e) => e.activityTaskCompletedEventAttributes?.result?.payloads ?? []);
  const parsed = results.map((p) => JSON.parse(Buffer.from(p.data ?? []).toString('utf8')) as Partial<JobResult>);
  return parsed.find((r) => r.outcome === 'usage_limit')?.usageLimitResetsAt;
}

/** A persistent job's session.json (its last run's first attempt unless told). */
function sessionRecord(project: string, run = runFolders(project).at(-1) ?? '') {
  return JSON.parse(readFileSync(path.join(env.stateDir, 'runs', project, run, 'attempt-1', 'session.json'), 'utf8'));
}

describe('the real CLI does the work', () => {
  test.each(['edits', 'streamed'])(
    '%s: Write and Bash really run in the project folder (a file, a commit); succeeded with the CLI’s cost, turns and session',
    async (project) => {
      const r = await run(project);
      expect(r.message).toMatch(/agent succeeded/);
      expect(r.outcome).toBe('succeeded');
      expect(r.result).toBe('Committed NOTES.md.');
      const dir = env.projectPath(project);
      expect(readFileSync(path.join(dir, 'NOTES.md'), 'utf8')).toBe('Written by the agent.\n');
      expect(execa.sync('git', ['log', '-1', '--format=%s'], { cwd: dir }).stdout).toBe('Add notes');
      // Three model calls of 1000 input + 100 output tokens, priced by the CLI for its default model
      // (claude-opus-4-8: $5 / $25 per million).
      const calls = apis[project].messageCalls();
      expect(calls).toHaveLength(3);
      expect(calls.every((c) => c.body?.model === 'claude-opus-4-8')).toBe(true);
      expect(r.costUsd).toBeCloseTo((3 * (1000 * 5 + 100 * 25)) / 1e6, 6);
      expect(r.numTurns).toBe(3);
      expect(r.sessionId).toBe(calls[0].headers['x-claude-code-session-id']);
    },
  );
});

describe('what reaches the model', () => {
  test('CLAUDE.md, the skill’s name and description, and its body once the model calls the Skill tool', async () => {
    const r = await run('skills', 'Write the release notes.');
    expect(r.outcome).toBe('succeeded');
    const [first, second] = apis.skills.messageCalls();
    expect(textOf(first)).toContain(CLAUDE_MD);
    expect(textOf(first)).toContain('release-notes: Writes release notes for this project');
    expect(first.body?.tools?.map((t) => t.name)).toContain('Skill');
    expect(textOf(first)).not.toContain(SKILL_BODY);
    expect(textOf(second)).toContain(SKILL_BODY);
  });

  test('inline_skills puts the SKILL.md body in the prompt itself', async () => {
    const r = await run('inlined', 'Write the release notes.');
    expect(r.outcome).toBe('succeeded');
    const [first] = apis.inlined.messageCalls();
    const prompt = JSON.stringify(
      first.body?.messages.find((m) => JSON.stringify(m).includes('Write the release notes.')),
    );
    expect(prompt).toContain(SKILL_BODY);
    expect(prompt).toContain('Write the release notes.');
  });
});

describe('permission denials are not success', () => {
  test.each(['denied', 'deniedstream'])(
    '%s: default permission mode, Write refused → agent_error naming the tool and the fix',
    async (project) => {
      const r = await run(project);
      expect(r.outcome).toBe('agent_error');
      expect(r.message).toMatch(new RegExp(`^${project}: agent was denied 1 tool use \\(Write\\)`));
      expect(r.message).toMatch(/--permission-mode", "acceptEdits"/);
      expect(r.message).toMatch(/--allowedTools/);
      expect(r.transient).toBeFalsy();
      expect(existsSync(path.join(env.projectPath(project), 'NOTES.md'))).toBe(false);
      expect(runFolders(project)).toHaveLength(1);
    },
  );

  test('allow_permission_denials = true: the same run is a success', async () => {
    const r = await run('denialsok');
    expect(r.outcome).toBe('succeeded');
  });
});

describe('API failures as the real CLI reports them', () => {
  test('a subscriber’s session limit (OAuth, 429 + unified headers): read to the instant, waited out, run again', async () => {
    // A reset a few seconds ahead, not on a minute: the CLI shows it cut to the minute.
    let resetAt = new Date(0);
    apis.sessionlimit.setScenario(({ call }) => {
      if (call > 0) return ok;
      resetAt = new Date(Date.now() + 5_000);
      return { status: 429, headers: unifiedLimitHeaders(resetAt) };
    });
    const { handle } = await startJob(env.client, env.config, { project: 'sessionlimit', kind: 'run', prompt: 'go' });
    const details = await waitForDetails(handle, /^waiting for usage limit reset until/);
    // The shown minute, or the end of it when that minute has begun: never the same time a day later.
    const shown = Math.floor(resetAt.getTime() / 60_000) * 60_000;
    const london = (ms: number) =>
      new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/London',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(ms);
    expect([`until ${london(shown)} (`, `until ${london(shown + 60_000)} (`]).toContainEqual(
      /until \d\d:\d\d \(/.exec(details)?.[0],
    );
    const r = await jobResult(handle, 'sessionlimit');
    expect(r.outcome).toBe('succeeded');
    expect(Date.now()).toBeGreaterThanOrEqual(shown);
    // The CLI's own words, in its TZ, are in the first run's output.
    const first = readFileSync(
      path.join(env.stateDir, 'runs', 'sessionlimit', runFolders('sessionlimit')[0], 'attempt-1', 'stdout.log'),
      'utf8',
    );
    expect(first).toMatch(/You've hit your session limit · resets \d{1,2}(:\d\d)?[ap]m \(America\/New_York\)/);
    expect(apis.sessionlimit.messageCalls().every((c) => c.body?.model === 'claude-sonnet-5')).toBe(true);
    expect(runFolders('sessionlimit')).toHaveLength(2);
  });

  test.each([
    ['seven_day', 'weekly'],
    ['seven_day_opus', 'Opus'],
  ])(
    'a subscriber’s %s limit days ahead ("resets Dec 4, 7am (UTC)"): read to that instant and waited for',
    async (claim, words) => {
      // On the hour, three days ahead: the CLI names the date.
      const resetAt = new Date(Math.ceil((Date.now() + 3 * 86_400_000) / 3_600_000) * 3_600_000);
      apis.weeklylimit.setScenario(() => ({ status: 429, headers: unifiedLimitHeaders(resetAt, claim) }));
      const { handle } = await startJob(env.client, env.config, { project: 'weeklylimit', kind: 'run', prompt: 'go' });
      await waitForDetails(handle, /^waiting for usage limit reset until/);
      const first = readFileSync(
        path.join(
          env.stateDir,
          'runs',
          'weeklylimit',
          runFolders('weeklylimit').at(-1) ?? '',
          'attempt-1',
          'stdout.log',
        ),
        'utf8',
      );
      expect(first).toMatch(
        new RegExp(`You've hit your ${words} limit · resets [A-Z][a-z]{2} \\d{1,2}, \\d{1,2}(:\\d\\d)?[ap]m \\(UTC\\)`),
      );
      expect(await waitedFor(handle)).toBe(resetAt.toISOString());
      await handle.cancel();
      expect((await jobResult(handle, 'weeklylimit')).outcome).toBe('cancelled');
    },
  );

  test.each([
    ['overloaded', /API Error: 529/],
    ['servererror', /API Error: 500/],
    ['dropped', /ECONNRESET/],
    ['noanswer', /Request timed out/],
  ])('%s: transient, so orchestrate runs the job again after its back-off, which succeeds', async (project, what) => {
    const r = await run(project);
    expect(r.outcome).toBe('succeeded');
    const [firstRun, secondRun] = runFolders(project);
    expect(secondRun).toBe(`${firstRun}-r1`);
    const out = readFileSync(path.join(env.stateDir, 'runs', project, firstRun, 'attempt-1', 'stdout.log'), 'utf8');
    expect(out).toMatch(what);
  });

  test.each(['badkey', 'badtoken'])('%s: 401 → agent_error with the fix, never retried', async (project) => {
    const r = await run(project);
    expect(r.outcome).toBe('agent_error');
    expect(r.transient).toBeFalsy();
    expect(r.message).toMatch(new RegExp(`^${project}: agent is not authenticated`));
    expect(r.message).toMatch(/claude \/login|ANTHROPIC_API_KEY/);
    expect(runFolders(project)).toHaveLength(1);
  });
});

test('--max-turns exhausted → agent_error naming max turns (the tool had already run)', async () => {
  const r = await run('maxturns');
  expect(r.outcome).toBe('agent_error');
  expect(r.subtype).toBe('error_max_turns');
  expect(r.message).toMatch(/^maxturns: agent hit max turns/);
  expect(existsSync(path.join(env.projectPath('maxturns'), 'NOTES.md'))).toBe(true);
});

describe('persistent: the real interactive TUI in tmux', () => {
  test('takes the prompt, its Stop hook fires, the job ends with the answer the hook was given', async () => {
    const r = await run('tui', TUI_PROMPT);
    expect(r.message).toMatch(/^tui: /);
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe(TUI_ANSWER);
    expect(apis.tui.messageCalls().some((c) => JSON.stringify(c.body?.messages).includes(TUI_PROMPT))).toBe(true);
    const record = sessionRecord('tui');
    expect(record.resultSource).toBe('Stop hook input');
    // The UserPromptSubmit hook named the transcript the job's progress is read from.
    const submitted = JSON.parse(
      readFileSync(path.join(env.stateDir, 'sessions', TMUX_SOCKET, 'orch-tui', `prompt-${record.nonce}.json`), 'utf8'),
    );
    expect(submitted).toMatchObject({
      hook_event_name: 'UserPromptSubmit',
      transcript_path: record.marker.transcript_path,
    });
  });

  test('a prompt the TUI reads as a slash command it does not know starts no turn: agent_error quoting the TUI, not a success', async () => {
    const r = await run('tui', '/nosuchcommand');
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(
      /^tui: the TUI in tmux session orch-tui read the prompt as the slash command \/nosuchcommand and started no model turn \(on screen: "Unknown command: \/nosuchcommand"\)/,
    );
    expect(apis.tui.messageCalls().some((c) => JSON.stringify(c.body?.messages).includes('nosuchcommand'))).toBe(false);
  });

  test('a prompt starting with ! is the TUI’s shell mode: the command runs in the session first (no permission asked), then the model’s turn', async () => {
    const calls = apis.tui.messageCalls().length;
    const r = await run('tui', '!echo orchestrate-bang > BANG.txt');
    expect(r.outcome).toBe('succeeded');
    expect(readFileSync(path.join(env.projectPath('tui'), 'BANG.txt'), 'utf8')).toBe('orchestrate-bang\n');
    expect(apis.tui.messageCalls().length).toBeGreaterThan(calls);
  });

  test('a tool use the TUI would ask about is refused by orchestrate’s hook: the model is told, the job is agent_error', async () => {
    const r = await run('tuiperm', 'Write NOTES.md.');
    expect(r.outcome).toBe('agent_error');
    expect(r.message).toMatch(/^tuiperm: agent was denied 1 tool use \(Write\) .*\[agent\] interactive_command/);
    expect(existsSync(path.join(env.projectPath('tuiperm'), 'NOTES.md'))).toBe(false);
    const told = apis.tuiperm.messageCalls().map((c) => JSON.stringify(c.body?.messages));
    expect(told.some((m) => m.includes('orchestrate runs this job unattended'))).toBe(true);
    // The real transcript folds into progress as a -p stream does: two turns (the refused Write, then the answer).
    // The CLI may write the last one a moment after the job ended (its Stop hook runs first): waited for.
    const transcript = new StreamFollower(sessionRecord('tuiperm').marker.transcript_path);
    const folded = await waitFor('the transcript’s second turn', async () => {
      await transcript.poll();
      const p = transcript.tracker.snapshot();
      return p.turn >= 2 ? p : null;
    });
    expect(folded).toMatchObject({ turn: 2, tokens: expect.objectContaining({ input: 2000 }) });
  });

  test('a refused key (401) ends the turn with StopFailure: agent_error naming the fix, never retried', async () => {
    const r = await run('tuiauth', TUI_PROMPT);
    expect(r.outcome).toBe('agent_error');
    expect(r.authFailure).toBe(true);
    expect(r.transient).toBeFalsy();
    expect(r.message).toMatch(/^tuiauth: agent is not authenticated .*API Error: 401.*claude \/login/);
    expect(runFolders('tuiauth')).toHaveLength(1);
    expect(sessionRecord('tuiauth').marker).toMatchObject({
      hook_event_name: 'StopFailure',
      error: 'authentication_failed',
    });
  });

  test('a subscriber’s weekly limit (429 + unified headers) ends the turn: usage_limit, read to its instant, waited for', async () => {
    const resetAt = new Date(Math.ceil((Date.now() + 3 * 86_400_000) / 3_600_000) * 3_600_000);
    apis.tuilimit.setScenario(() => ({ status: 429, headers: unifiedLimitHeaders(resetAt, 'seven_day') }));
    const { handle } = await startJob(env.client, env.config, { project: 'tuilimit', kind: 'run', prompt: TUI_PROMPT });
    await waitForDetails(handle, /^waiting for usage limit reset until/);
    expect(await waitedFor(handle)).toBe(resetAt.toISOString());
    expect(sessionRecord('tuilimit')).toMatchObject({
      outcome: 'usage_limit',
      marker: { hook_event_name: 'StopFailure', error: 'rate_limit' },
    });
    await handle.cancel();
    expect((await jobResult(handle, 'tuilimit')).outcome).toBe('cancelled');
  });

  test('an overloaded API (529) ends the turn: transient, so the job runs again in the same session, and succeeds', async () => {
    const r = await run('tuibusy', TUI_PROMPT);
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe(TUI_ANSWER);
    const [firstRun, secondRun] = runFolders('tuibusy');
    expect(secondRun).toBe(`${firstRun}-r1`);
    expect(sessionRecord('tuibusy', firstRun)).toMatchObject({
      outcome: 'agent_error',
      // The CLI files a 529 under server_error (its `overloaded` category is for the overloaded_error body alone).
      marker: { hook_event_name: 'StopFailure', error: 'server_error' },
    });
    expect(sessionRecord('tuibusy', secondRun).created).toBe(false);
  });
});
