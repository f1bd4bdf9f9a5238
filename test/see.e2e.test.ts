// "See and steer everything" as a user runs it: `orchestrate status`, `logs` (-f while a job runs),
// `history`, `costs`, `init` and the notification hook — the built dist/cli.js in a subprocess, no TTY,
// against the shared real dev server with the fake agent.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watchBatch } from '../src/cli/render/watch';
import { startBatch } from '../src/temporal/client';
import { loadConfig } from '../src/config';
import { localDate, localTime } from '../src/lib/dates';
import { jobWorkflowId } from '../src/temporal/ids';
import { makeEnv, makeRepo, waitFor, type TestEnv } from './helpers/env';
import { requireBuiltCli, runCli } from './helpers/cli';

const ESC = String.fromCharCode(27);
const STREAM_ARGS = '["-p", "{prompt}", "--output-format", "stream-json", "--verbose"]';
let env: TestEnv;

// The hook appends every event to notify.jsonl in the config's folder (its working directory); for
// seenotifybad it then fails, which must never fail the job.
const HOOK =
  'cat >> notify.jsonl; echo "$ORCHESTRATE_EVENT $ORCHESTRATE_PROJECT" >> notify-env.txt; [ "$ORCHESTRATE_PROJECT" != seenotifybad ] || { echo hook broke >&2; exit 7; }';

beforeAll(async () => {
  requireBuiltCli();
  env = await makeEnv({
    projects: {
      seestat: `prompt = "say hi"\n[projects.seestat.agent]\nargs = ${STREAM_ARGS}`,
      seelog: `[projects.seelog.agent]\nargs = ${STREAM_ARGS}`,
      seecost: '[projects.seecost.agent]\nenv = { FAKE_CLAUDE_COST = "0.5" }',
      seenotify: 'eod_prompt = "[write:{worklog_path}] EOD {date}"',
      seenotifybad: '',
      seebatch: '[projects.seebatch.agent]\nenv = { FAKE_CLAUDE_SLEEP_MS = "4000" }',
      seelimit: '',
      seeflaky: '',
    },
    extra: `[notify]\ncommand = ${JSON.stringify(HOOK)}\n`,
    orchestratorExtra: ['transient_backoff = "1s"'],
  });
});
afterAll(async () => env?.stop());

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli({ ...env.cliEnv, ...extraEnv }, args);
}

function noEscapes(r: { stdout: string; stderr: string }) {
  expect(r.stdout).not.toContain(ESC);
  expect(r.stderr).not.toContain(ESC);
}

interface StatusJson {
  server: { reachable: boolean; address: string };
  webUi: string;
  taskQueue: string;
  running: Array<{ project: string; kind: string; pid: number | null; phase: string; elapsedMs: number }>;
  batches: Array<{ workflowId: string; kind: string; progress: string }>;
  projects: Array<{ project: string; state: string; last: { outcome: string } | null; todayUsd: number }>;
  schedules: unknown[];
}

const notifyEvents = (): Array<Record<string, unknown>> => {
  const file = path.join(env.dir, 'notify.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
};

test('status: a running job with kind, elapsed, pid and phase; then its outcome; --json and plain text', async () => {
  const started = await cli(['run', '-p', 'seestat', '--prompt', '[scenario:slow:5] long one', '--no-wait']);
  expect(started.exitCode).toBe(0);

  // The agent is up once the activity's heartbeat carries its pid.
  const running = await waitFor('a running seestat job with a pid', async () => {
    const r = await cli(['status', '--json']);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as StatusJson;
    const job = s.running.find((j) => j.project === 'seestat');
    return job?.pid ? { s, job } : null;
  });
  expect(running.s.server.reachable).toBe(true);
  expect(running.s.server.address).toBe(process.env.TEMPORAL_ADDRESS);
  expect(running.s.taskQueue).toBe(env.taskQueue);
  expect(running.job).toMatchObject({ project: 'seestat', kind: 'run', phase: 'running agent' });
  expect(running.job.elapsedMs).toBeGreaterThan(0);
  expect(running.s.projects.find((p) => p.project === 'seestat')?.state).toBe('running');
  expect(Array.isArray(running.s.schedules)).toBe(true);

  const human = await cli(['status']);
  expect(human.exitCode).toBe(0);
  noEscapes(human);
  expect(human.stdout).toContain(`task queue ${env.taskQueue}`);
  expect(human.stdout).toMatch(/Web UI\s+http:\/\//);
  expect(human.stdout).toMatch(/PROJECT\s+KIND\s+ELAPSED\s+PID\s+PHASE/);
  expect(human.stdout).toMatch(new RegExp(`seestat\\s+run\\s+\\d+s\\s+${running.job.pid}\\s+running agent`));

  // Once it has finished: no longer running, its outcome and today's spend per project.
  const after = await waitFor('seestat finished', async () => {
    const s = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
    return s.running.some((j) => j.project === 'seestat') ? null : s;
  });
  const p = after.projects.find((x) => x.project === 'seestat');
  expect(p).toMatchObject({ state: 'idle', last: { outcome: 'succeeded' } });
  expect(p?.todayUsd).toBeCloseTo(0.0123, 6);
  expect(after.projects.find((x) => x.project === 'seelog')).toMatchObject({ state: 'idle', last: null });
});

test('status shows a running cycle with its progress, and its job as kind cycle', async () => {
  const started = await cli(['cycle', '--project', 'seebatch']);
  expect(started.exitCode).toBe(0);
  const s = await waitFor('the cycle running seebatch', async () => {
    const r = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
    return r.batches.some((b) => /running seebatch/.test(b.progress)) ? r : null;
  });
  expect(s.batches).toEqual([
    expect.objectContaining({
      workflowId: `cycle@${env.taskQueue}`,
      kind: 'cycle',
      progress: expect.stringMatching(/^\d{4}-\d{2}-\d{2}: 0\/1 done, running seebatch$/),
    }),
  ]);
  expect(s.running.find((j) => j.project === 'seebatch')).toMatchObject({ kind: 'cycle' });
  const human = await cli(['status']);
  expect(human.stdout).toMatch(/Running batches\nBATCH\s+KIND\s+ELAPSED\s+PROGRESS/);
  await waitFor('the cycle to end', async () => {
    const r = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
    return r.batches.length === 0 && r.projects.find((p) => p.project === 'seebatch')?.last?.outcome === 'succeeded';
  });
});

test('cycle --wait on a terminal: the live table is redrawn in place, then cleared for the final one', async () => {
  const chunks: string[] = [];
  const tty = { isTTY: true, write: (c: string) => (chunks.push(c), true) } as unknown as NodeJS.WriteStream;
  const handle = await startBatch(env.client, env.config, 'cycle', { projects: ['seebatch'] });
  const result = await watchBatch(handle, tty, 200);
  expect(result.rows.map((r) => [r.project, r.status])).toEqual([['seebatch', 'succeeded']]);
  const text = chunks.join('');
  // Several frames (the job takes ~4 s), each one moving the cursor up over the previous table and clearing it.
  const frames = text.split(new RegExp(`${ESC}\\[\\d+A${ESC}\\[0J`));
  expect(frames.length).toBeGreaterThan(3);
  expect(text).toMatch(/cycle \d{4}-\d{2}-\d{2} · \d+s\nPROJECT\s+DECISION\s+OUTCOME/);
  expect(text).toMatch(/seebatch\s+run\s+running/);
  expect(frames.at(-2)).toMatch(/seebatch\s+run\s+succeeded/);
  // The last write clears the live table, so the caller's final table is not printed twice.
  expect(frames.at(-1)).toBe('');
});

test('status with the server down says so and how to start it (exit 1)', async () => {
  const r = await cli(['status'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(r.exitCode).toBe(1);
  noEscapes(r);
  expect(r.stdout).toMatch(/Temporal\s+not reachable: cannot reach Temporal at 127\.0\.0\.1:1/);
  expect(r.stdout).toContain('orchestrate server start');
  // The local view (projects, today's spend) still shows.
  expect(r.stdout).toMatch(/seestat\s+idle/);
});

test('logs -f follows a running job until it ends; logs prints a finished job by project or workflow ID', async () => {
  // 8 s: still running once `logs -f` is up on a loaded machine (two CLI start-ups and a job start before it).
  const started = await cli(['run', '-p', 'seelog', '--prompt', '[scenario:slow:8] follow me', '--no-wait']);
  expect(started.exitCode).toBe(0);
  const t0 = Date.now();
  // --raw: the files as written (without it, an event stream is rendered as a conversation).
  const follow = await cli(['logs', 'seelog', '-f', '--raw']);
  const tookMs = Date.now() - t0;
  expect(follow.exitCode).toBe(0);
  noEscapes(follow);
  // The whole agent output: the init line printed at once, then the result printed 8 s later.
  expect(follow.stdout).toContain('"subtype":"init"');
  expect(follow.stdout).toContain('"type":"result"');
  expect(follow.stdout).toContain('Done: [scenario:slow:8] follow me');
  expect(follow.stderr).toMatch(/==> .*runs\/seelog\/.*\/attempt-1 \(job\/seelog, running\) <==/);
  expect(follow.stderr).toContain('job/seelog finished: succeeded');
  expect(tookMs).toBeGreaterThan(2000); // it waited for the job instead of printing what was there
  // Every line of stdout.log exactly once.
  expect(follow.stdout.match(/"type":"result"/g)).toHaveLength(1);

  const byId = await cli(['logs', jobWorkflowId('seelog'), '--raw']);
  expect(byId.exitCode).toBe(0);
  expect(byId.stdout).toBe(follow.stdout);
  const dir = await cli(['logs', 'seelog', '--path']);
  expect(dir.stdout.trim()).toMatch(new RegExp(`^${env.stateDir}/runs/seelog/.+/attempt-1$`));
  // (execa strips the final newline of what it captured)
  expect(readFileSync(path.join(dir.stdout.trim(), 'stdout.log'), 'utf8')).toBe(`${follow.stdout}\n`);

  const unknown = await cli(['logs', 'nope']);
  expect(unknown.exitCode).toBe(2);
  expect(unknown.stderr).toMatch(/"nope" is neither a project nor a job's workflow ID/);
  const never = await cli(['logs', 'seecost']);
  expect(never.exitCode).toBe(1);
  expect(never.stderr).toMatch(/no agent output for job\/seecost yet/);
});

test('logs without -f reads the run folder alone and says when its agent still runs', async () => {
  expect((await cli(['run', '-p', 'seelog', '--prompt', '[scenario:slow:3] still here', '--no-wait'])).exitCode).toBe(
    0,
  );
  // The agent's first line is written at once; until the folder exists, logs says there is none yet.
  const whileRunning = await waitFor('the agent to start', async () => {
    const r = await cli(['logs', 'seelog', '--raw']);
    return r.exitCode === 0 && r.stdout.includes('"subtype":"init"') ? r : null;
  });
  expect(whileRunning.stderr).toMatch(/==> .*runs\/seelog\/.*\/attempt-1 \(job\/seelog, running\) <==/);
  expect(whileRunning.stderr).toContain('(its agent still runs: `orchestrate logs seelog -f` follows it)');
  expect((await cli(['logs', 'seelog', '-f', '--raw'])).stderr).toContain('job/seelog finished: succeeded');
  const after = await cli(['logs', 'seelog', '--raw']);
  expect(after.stdout).toContain('"type":"result"');
  expect(after.stderr).not.toContain('running');
  expect(after.stderr).not.toContain('still runs');

  // A newer run whose agent has not started (waiting for a slot, its account or a reset): named, not skipped.
  const newer = path.join(env.stateDir, 'runs', 'seelog', '29991231T000000Z-waiting', 'lease');
  mkdirSync(newer, { recursive: true });
  try {
    const shown = await cli(['logs', 'seelog', '--raw']);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toBe(after.stdout);
    expect(shown.stderr).toContain(
      'note: the newest run of seelog (29991231T000000Z-waiting) has no agent output: its agent has not started',
    );
    const where = await cli(['logs', 'seelog', '--path']);
    expect(where.exitCode).toBe(1);
    expect(where.stderr).toContain('(29991231T000000Z-waiting) has no agent output');
  } finally {
    rmSync(path.dirname(newer), { recursive: true, force: true });
  }
});

test('history and costs from the ledger: newest first, per project per day, JSON and tables', async () => {
  for (const prompt of ['one', 'two'])
    expect((await cli(['run', '-p', 'seecost', '--prompt', prompt])).exitCode).toBe(0);
  expect((await cli(['run', '-p', 'seecost', '--prompt', '[scenario:error_max_turns]'])).exitCode).toBe(1);

  const h = await cli(['history', '--project', 'seecost', '--json']);
  expect(h.exitCode).toBe(0);
  const entries = JSON.parse(h.stdout) as Array<Record<string, unknown>>;
  expect(entries.map((e) => e.outcome)).toEqual(['agent_error', 'succeeded', 'succeeded']);
  expect(entries[0]).toMatchObject({
    project: 'seecost',
    kind: 'run',
    costUsd: 0.5,
    workflowId: jobWorkflowId('seecost'),
    message: expect.stringContaining('max turns'),
  });
  expect(entries[1]).toMatchObject({ numTurns: 3, tokens: { input: 1200, output: 3400, cacheRead: 52000 } });
  expect(entries[1].webUrl).toMatch(/\/namespaces\/default\/workflows\/job%2Fseecost\/[0-9a-f-]+$/);
  expect(typeof entries[1].durationMs).toBe('number');

  const table = await cli(['history', '--since', '1h']);
  expect(table.exitCode).toBe(0);
  noEscapes(table);
  expect(table.stdout).toMatch(/FINISHED\s+PROJECT\s+KIND\s+OUTCOME\s+DURATION\s+COST\s+TURNS\s+LOG/);
  expect(table.stdout).toMatch(/seecost\s+run\s+agent_error\s+\S+\s+\$0\.5000\s+11/);
  expect(table.stdout).toMatch(/\d+ jobs since .* \(Europe\/London\) · \$/);
  expect((await cli(['history', '--limit', '1', '--json'])).stdout).toContain('agent_error');
  expect(JSON.parse((await cli(['history', '--limit', '1', '--json'])).stdout)).toHaveLength(1);

  const badSince = await cli(['history', '--since', 'last tuesday']);
  expect(badSince.exitCode).toBe(2);
  expect(badSince.stderr).toMatch(/--since must be/);
  const badProject = await cli(['costs', '--project', 'nope']);
  expect(badProject.exitCode).toBe(2);
  expect(badProject.stderr).toMatch(/unknown project "nope" — known projects: .*seecost/);

  // A project no longer in the config keeps its ledger: two days of older entries.
  const old = path.join(env.stateDir, 'ledger', 'seegone.jsonl');
  const line = (iso: string, cost: number | null, outcome = 'succeeded') =>
    JSON.stringify({
      finishedAt: iso,
      project: 'seegone',
      kind: 'cycle',
      outcome,
      costUsd: cost,
      numTurns: 2,
      durationMs: 60000,
      logPath: null,
    });
  writeFileSync(
    old,
    [
      line('2026-03-02T10:00:00Z', 1.25),
      line('2026-03-02T20:00:00Z', 0.75, 'agent_error'),
      line('2026-03-03T09:00:00Z', null),
    ].join('\n') + '\n{"torn',
  );
  const c = await cli(['costs', '--since', '2026-03-01', '--json']);
  expect(c.exitCode).toBe(0);
  const costs = JSON.parse(c.stdout) as { rows: Array<Record<string, unknown>>; totalUsd: number; timezone: string };
  expect(costs.timezone).toBe('Europe/London');
  expect(costs.rows.filter((r) => r.project === 'seegone')).toEqual([
    expect.objectContaining({
      day: '2026-03-02',
      jobs: 2,
      failed: 1,
      costUsd: 2,
      unknownCost: 0,
      numTurns: 4,
      durationMs: 120000,
    }),
    expect.objectContaining({ day: '2026-03-03', jobs: 1, costUsd: 0, unknownCost: 1 }),
  ]);
  const today = localDate(new Date(), 'Europe/London');
  expect(costs.rows.find((r) => r.project === 'seecost' && r.day === today)).toMatchObject({
    jobs: 3,
    failed: 1,
    costUsd: 1.5,
  });

  const human = await cli(['costs', '--since', '2026-03-01']);
  noEscapes(human);
  expect(human.stdout).toMatch(/DAY\s+PROJECT\s+JOBS\s+FAILED\s+COST\s+TURNS\s+AGENT TIME\s+TOKENS IN\/OUT/);
  expect(human.stdout).toMatch(/2026-03-02\s+seegone\s+2\s+1\s+\$2\.0000\s+4\s+2m/);
  expect(human.stdout).toMatch(/2026-03-03\s+seegone\s+1\s+0\s+\$0\.0000 \(\+1 n\/a\)/);
  expect(human.stdout).toMatch(
    new RegExp(`${today}\\s+seecost\\s+3\\s+1\\s+\\$1\\.5000\\s+17\\s+\\S+\\s+\\d+k/\\d+(\\.\\d)?k`),
  );
  expect(human.stdout).toMatch(new RegExp(`${today}\\s+\\(all\\)`));
  expect(human.stdout).toMatch(
    /total since 2026-03-01 00:00 \(Europe\/London\): \$\d+\.\d{4} over \d+ jobs \(1 without a reported cost\)/,
  );
});

test('notifications: a failed job sends job_failed JSON to the hook; success sends nothing; a failing hook never fails the job', async () => {
  const before = notifyEvents().length;
  expect((await cli(['run', '-p', 'seenotify', '--prompt', 'fine'])).exitCode).toBe(0);
  const failed = await cli(['run', '-p', 'seenotify', '--prompt', '[scenario:error_during_execution]', '--json']);
  expect(failed.exitCode).toBe(1);
  const result = JSON.parse(failed.stdout) as { logPath: string; message: string };

  const events = notifyEvents().slice(before);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    type: 'job_failed',
    project: 'seenotify',
    kind: 'run',
    outcome: 'agent_error',
    workflowId: jobWorkflowId('seenotify'),
    attempt: 1,
    costUsd: expect.any(Number),
    logPath: result.logPath,
    message: result.message,
    host: expect.any(String),
  });
  expect(events[0].webUrl).toMatch(/\/workflows\/job%2Fseenotify\/[0-9a-f-]+$/);
  expect(Date.parse(events[0].at as string)).toBeGreaterThan(Date.now() - 60_000);
  expect(events[0].text).toMatch(/^seenotify: run job agent_error after \S+ — agent/);
  expect(readFileSync(path.join(env.dir, 'notify-env.txt'), 'utf8')).toContain('job_failed seenotify');

  // The hook exits 7 for this project: logged by the worker, the job's own outcome unchanged.
  const bad = await cli(['run', '-p', 'seenotifybad', '--prompt', '[scenario:error_max_turns]', '--json']);
  expect(bad.exitCode).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({ outcome: 'agent_error', project: 'seenotifybad' });
  expect(notifyEvents().some((e) => e.project === 'seenotifybad')).toBe(true);
});

test('a usage-limit wait with a reset time: status shows it, the hook gets usage_limit_wait, cancel ends it', async () => {
  // A reset one to two minutes ahead, as the CLI prints it ("resets 17:42 (UTC)"); usage_limit_margin is 0s here.
  const reset = new Date(Math.floor((Date.now() + 120_000) / 60_000) * 60_000);
  const hhmm = reset.toISOString().slice(11, 16);
  const before = notifyEvents().length;
  const started = await cli([
    'run',
    '-p',
    'seelimit',
    '--prompt',
    `[scenario:usage_limit_once:${hhmm} (UTC)]`,
    '--no-wait',
  ]);
  expect(started.exitCode).toBe(0);
  const waiting = await waitFor('seelimit waiting for its usage limit', async () => {
    const s = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
    const job = s.running.find((j) => j.project === 'seelimit');
    return job && /waiting for usage limit/.test(job.phase) ? job : null;
  });
  // Europe/London is UTC in winter and an hour ahead in summer: the time shown is the reset in the configured zone.
  expect(waiting.phase).toContain(
    `waiting for usage limit reset until ${localTime(reset, 'Europe/London')} (Europe/London)`,
  );
  const human = await cli(['status']);
  expect(human.stdout).toMatch(new RegExp(`seelimit\\s+run\\s+.*waiting for usage limit reset until`));

  const event = await waitFor('the usage_limit_wait event', () =>
    notifyEvents()
      .slice(before)
      .find((e) => e.type === 'usage_limit_wait' && e.project === 'seelimit'),
  );
  expect(event).toMatchObject({ workflowId: jobWorkflowId('seelimit'), until: reset.toISOString() });
  expect(event.message).toMatch(/hit your limit/);

  const cancelled = await cli(['cancel', 'seelimit', '--wait']);
  expect(cancelled.exitCode).toBe(0);
  const s = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
  expect(s.running.some((j) => j.project === 'seelimit')).toBe(false);
  expect(s.projects.find((p) => p.project === 'seelimit')?.last).toMatchObject({ outcome: 'cancelled' });
});

test('notifications: a transient API error the job retries sends nothing; one that never clears sends one job_failed', async () => {
  const before = notifyEvents().length;
  const flaky = await cli(['run', '-p', 'seeflaky', '--prompt', '[scenario:api_error:529:1]', '--json']);
  expect(JSON.parse(flaky.stdout)).toMatchObject({ outcome: 'succeeded' });
  expect(
    notifyEvents()
      .slice(before)
      .filter((e) => e.project === 'seeflaky'),
  ).toEqual([]);

  const down = await cli(['run', '-p', 'seeflaky', '--prompt', '[scenario:api_error:503]', '--json']);
  expect(down.exitCode).toBe(1);
  expect(JSON.parse(down.stdout)).toMatchObject({ outcome: 'agent_error' });
  const events = notifyEvents()
    .slice(before)
    .filter((e) => e.project === 'seeflaky');
  expect(events.map((e) => [e.type, e.outcome])).toEqual([['job_failed', 'agent_error']]);
  expect(events[0].message).toMatch(/API Error: 503/);
});

test('notifications: the EOD digest event carries the day, the digest path and the counts', async () => {
  const r = await cli(['eod', '--project', 'seenotify', 'seenotifybad', '--date', '2026-04-10', '--wait', '--json']);
  const batch = JSON.parse(r.stdout) as { digestPath: string };
  const event = await waitFor('the eod_digest event', () => notifyEvents().find((e) => e.type === 'eod_digest'));
  expect(event).toMatchObject({
    type: 'eod_digest',
    date: '2026-04-10',
    path: batch.digestPath,
    succeeded: 1,
    failed: 1,
    skipped: 0,
    failures: [expect.objectContaining({ project: 'seenotifybad', status: 'agent_error' })],
  });
  expect(existsSync(event.path as string)).toBe(true);
  expect(event.text).toMatch(/^EOD 2026-04-10: 1 succeeded, 1 failed, 0 skipped · \$/);
});

test('init --scan writes a valid, commented workspaces.toml (CLAUDE.md repos first) and never overwrites without --force', async () => {
  const root = path.join(env.dir, 'code');
  makeRepo(path.join(root, 'zeta-docs')); // has CLAUDE.md: listed first despite its name
  writeFileSync(path.join(root, 'zeta-docs', 'CLAUDE.md'), '# conventions\n');
  makeRepo(path.join(root, 'alpha'));
  makeRepo(path.join(root, 'group', 'alpha')); // same folder name: gets a distinct project name
  makeRepo(path.join(root, 'node_modules', 'dep')); // never scanned
  mkdirSync(path.join(root, 'not-a-repo', 'src'), { recursive: true });
  const target = path.join(env.dir, 'init', 'workspaces.toml');

  const r = await cli(['--config', target, 'init', '--scan', root]);
  expect(r.exitCode).toBe(0);
  noEscapes(r);
  expect(r.stdout).toContain(`wrote ${target}: 3 projects (1 enabled; 2 without a CLAUDE.md are disabled)`);
  expect(r.stdout).toMatch(/orchestrate run -p zeta-docs/);

  const text = readFileSync(target, 'utf8');
  const tables = [...text.matchAll(/^\[projects\.([^\]]+)\]$/gm)].map((m) => m[1]);
  expect(tables).toEqual(['zeta-docs', 'alpha', 'group-alpha']);
  // Every setting documented, commented out at its default.
  for (const key of [
    'task_queue',
    'state_dir',
    'concurrency',
    'kill_grace',
    'port',
    'ui_port',
    'command',
    'timeout',
    'max_daily_usd',
    'eod',
    'catchup_window',
    'worklog_path',
    'month_prompt',
  ])
    expect(text).toMatch(new RegExp(`^# ${key} = `, 'm'));
  expect(text).toMatch(/^\[notify\]$/m);
  expect(text).toMatch(/^# \[projects\.example\]$/m);
  expect(text).not.toMatch(/authexis/i);

  const config = await loadConfig(target);
  expect(Object.keys(config.projects)).toEqual(['zeta-docs', 'alpha', 'group-alpha']);
  expect(config.projects['zeta-docs']).toMatchObject({ path: path.join(root, 'zeta-docs'), enabled: true });
  expect(config.projects['group-alpha']).toMatchObject({ path: path.join(root, 'group', 'alpha'), enabled: false });

  const again = await cli(['--config', target, 'init', '--scan', root]);
  expect(again.exitCode).toBe(2);
  expect(again.stderr).toMatch(/already exists — not overwriting it\. Use --force/);
  writeFileSync(target, '# mine\n');
  const forced = await cli(['--config', target, 'init', '--force']);
  expect(forced.exitCode).toBe(0);
  expect(readFileSync(`${target}.bak`, 'utf8')).toBe('# mine\n');
  expect(readFileSync(target, 'utf8')).toMatch(/^# \[projects\.myapp\]$/m);
  expect(Object.keys((await loadConfig(target)).projects)).toEqual([]);

  const notDir = await cli(['--config', path.join(env.dir, 'x.toml'), 'init', '--scan', path.join(root, 'nope')]);
  expect(notDir.exitCode).toBe(2);
  expect(notDir.stderr).toMatch(/not a folder/);
});
