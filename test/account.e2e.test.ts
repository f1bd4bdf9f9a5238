// One account, one limit, end to end with the fake agent: a cycle where the first job's usage limit holds the
// account's other jobs until the reset (one notification) while another account's job runs, the limited job
// resuming its session after the wait; and an auth failure that skips the account's rest with one notification.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { batchProgress, jobResult, startBatch, startJob } from '../src/temporal/client';
import type { Connection } from '@temporalio/client';
import { runningBatches } from '../src/cli/inspect';
import { ACCOUNT_HOLD_MEMO, type BatchResult, type BatchRow } from '../src/temporal/types';
import { startAccountHold } from './helpers/accountHold';
import { makeEnv, waitFor, waitForDetails, type TestEnv } from './helpers/env';

const HOOK = 'cat >> notify.jsonl; echo >> notify.jsonl';

interface Stamp {
  event: string;
  cwd: string;
  t: number;
}

async function envWith(projects: Record<string, string>, concurrency: number): Promise<TestEnv> {
  const env = await makeEnv({ concurrency, projects, extra: `[notify]\ncommand = ${JSON.stringify(HOOK)}\n` });
  const stamps = path.join(env.dir, 'stamps.jsonl');
  // Every agent stamps its start (when, in which folder) and records its argv in .fake-claude-marker.
  const text = readFileSync(env.configPath, 'utf8').replace(
    '[agent]\n',
    `[agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps}", FAKE_CLAUDE_MARKER = "1" }\n`,
  );
  await env.writeConfig(text);
  return env;
}

function stampsOf(env: TestEnv): Stamp[] {
  const file = path.join(env.dir, 'stamps.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Stamp);
}

function notificationsOf(env: TestEnv): Array<{ type: string; project: string; until?: string }> {
  const file = path.join(env.dir, 'notify.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { type: string; project: string; until?: string });
}

function rowOf(result: BatchResult, project: string): BatchRow {
  const r = result.rows.find((x) => x.project === project);
  if (!r) throw new Error(`no row for ${project}`);
  return r;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('usage limit', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await envWith(
      {
        // The first job hits the limit ("resets in 1m"), and succeeds once resumed after the reset.
        lim: 'prompt = "[scenario:usage_limit_once:in 1m]"',
        // Another account's job runs alongside, long enough for the limit to be known before it ends.
        other: 'prompt = "[scenario:slow:8]"\n[projects.other.agent]\naccount = "another-account"',
        held1: 'prompt = "held one"',
        held2: 'prompt = "held two"',
      },
      2,
    );
  });
  afterAll(async () => env?.stop());

  test("the first job's usage limit holds the account's rest until the reset; one notification; the job resumes", async () => {
    const handle = await startBatch(env.client, env.config, 'cycle', {});
    const waiting = /^waiting for usage-limit reset at \d\d:\d\d \(Europe\/London\)$/;
    // The held rows say why they wait, in the batch's table (progress query, `status`) and its Web UI details;
    // so does the row of the job that hit the limit, which waits in its own workflow.
    await waitFor(
      'the waiting rows to say they wait for the reset',
      async () => {
        const p = await batchProgress(handle);
        const rows = p.result?.rows ?? [];
        return ['lim', 'held1', 'held2'].every((r) => waiting.test(rows.find((x) => x.project === r)?.reason ?? ''));
      },
      90_000,
    );
    expect(await waitForDetails(handle, /held1 \| waiting for usage-limit reset at/)).toBeTruthy();
    // `orchestrate status` says it on the batch's line (held1 and held2 wait in their own workflows once the batch
    // started them: their worker launched no agent), and does not call them running.
    const [line] = await runningBatches(env.client, env.client.connection as Connection, env.taskQueue);
    expect(line.progress).toMatch(/3 waiting for usage-limit reset at \d\d:\d\d \(Europe\/London\)/);
    const runningPart = /, running (.*), \d+ waiting/.exec(line.progress)?.[1] ?? '';
    expect(runningPart.split(', ').filter((p) => ['lim', 'held1', 'held2'].includes(p))).toEqual([]);
    const result = await waitFor(
      'the cycle to finish',
      async () => {
        const p = await batchProgress(handle);
        return p.done ? p.result : null;
      },
      180_000,
    );
    if (!result) throw new Error('no result');
    for (const p of ['lim', 'other', 'held1', 'held2']) expect(rowOf(result, p).status).toBe('succeeded');

    const waits = notificationsOf(env).filter((n) => n.type === 'usage_limit_wait');
    expect(waits).toHaveLength(1);
    expect(waits[0].project).toBe('lim');
    const reset = Date.parse(waits[0].until ?? '');
    const startsBefore = stampsOf(env).filter((s) => s.event === 'start' && s.t < reset);
    const projectOf = (s: Stamp) => path.basename(s.cwd);
    // Of the limited account, one agent started before the reset: the one that hit the limit.
    expect(startsBefore.map(projectOf).sort()).toEqual(['lim', 'other']);
    expect(
      stampsOf(env)
        .filter((s) => s.event === 'start')
        .map(projectOf)
        .sort(),
    ).toEqual(['held1', 'held2', 'lim', 'lim', 'other'].sort());

    // The run after the wait continued the first run's session.
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('lim'), '.fake-claude-marker'), 'utf8')) as {
      argv: string[];
    };
    expect(marker.argv[0]).toBe('--resume');
    const sessionId = marker.argv[1];
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const firstRunFiles = filesUnder(path.join(env.stateDir, 'runs', 'lim')).filter(
      (f) => !/-r\d+[/\\]/.test(f) && readFileSync(f, 'utf8').includes(`"session_id":"${sessionId}"`),
    );
    expect(firstRunFiles.length).toBeGreaterThan(0);
  }, 240_000);
});

describe('auth failure', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await envWith(
      {
        nologin: 'prompt = "[scenario:not_logged_in]"',
        same1: 'prompt = "same account"',
        same2: 'prompt = "same account"',
        elsewhere: 'prompt = "another account"\n[projects.elsewhere.agent]\naccount = "another-account"',
      },
      1,
    );
  });
  afterAll(async () => env?.stop());

  test("an auth failure skips the account's rest with its reason and fix, and notifies once", async () => {
    const handle = await startBatch(env.client, env.config, 'cycle', {});
    const result = (await handle.result()) as BatchResult;
    expect(rowOf(result, 'nologin')).toMatchObject({ status: 'agent_error', reason: /not authenticated/ });
    for (const p of ['same1', 'same2']) {
      expect(rowOf(result, p)).toMatchObject({
        status: 'skipped',
        reason: expect.stringMatching(/not logged in .*claude \/login/),
      });
    }
    expect(rowOf(result, 'elsewhere').status).toBe('succeeded');
    const started = stampsOf(env)
      .filter((s) => s.event === 'start')
      .map((s) => path.basename(s.cwd));
    expect(started.sort()).toEqual(['elsewhere', 'nologin']);
    expect(notificationsOf(env).map((n) => `${n.type} ${n.project}`)).toEqual(['job_failed nologin']);
  }, 120_000);
});

describe('a job in flight when its account hits the limit', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await envWith(
      {
        // The first wave (concurrency 1): once it is done the batch keeps two children in flight.
        first: 'prompt = "first"',
        // Both hit the limit (no reset time: the 2 s back-off) on their first run in their folder. One runs; the
        // other, already started by the batch, waits for the worker's only agent slot and gets it once the
        // limit is known.
        lim1: 'prompt = "[scenario:usage_limit_once:whenever]"',
        lim2: 'prompt = "[scenario:usage_limit_once:whenever]"',
      },
      1,
    );
  });
  afterAll(async () => env?.stop());

  test('the worker starts no agent for it until the limit has passed', async () => {
    const handle = await startBatch(env.client, env.config, 'cycle', {});
    const result = (await handle.result()) as BatchResult;
    for (const p of ['first', 'lim1', 'lim2']) expect(rowOf(result, p).status).toBe('succeeded');
    const starts = (project: string) =>
      stampsOf(env)
        .filter((s) => s.event === 'start' && path.basename(s.cwd) === project)
        .map((s) => s.t);
    const [a, b] = ['lim1', 'lim2'].sort((x, y) => starts(x)[0] - starts(y)[0]);
    // The one that ran first hit the limit; the other started no agent before the back-off had passed.
    expect(starts(b)[0]).toBeGreaterThanOrEqual(starts(a)[0] + 2000);
    // Each hit its own limit once (the fake's limit is per folder), then succeeded: no launch was lost.
    expect(starts(a)).toHaveLength(2);
    expect(starts(b)).toHaveLength(2);
  }, 120_000);
});

describe("a job of another run while its account's hold holds it", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await envWith({ heldx: 'prompt = "held elsewhere"\n[projects.heldx.agent]\naccount = "held-x"' }, 1);
  });
  afterAll(async () => env?.stop());

  test('its agent activity launches no agent until the hold ends; no second hold, no notification', async () => {
    // The hold a job of another run started when it hit the account's limit, a few seconds from its end.
    const until = new Date(Date.now() + 5_000).toISOString();
    const { hold, limited } = await startAccountHold(env.client, env.taskQueue, 'account:held-x', until);
    const { handle } = await startJob(env.client, env.config, { project: 'heldx', kind: 'run' });
    const details = await waitForDetails(handle, /^waiting for usage-limit reset at /);
    expect(details).toContain("elsewhere's job hit the usage limit of this agent account");
    expect((await jobResult(handle, 'heldx')).outcome).toBe('succeeded');
    // One agent, started once the hold had ended; the hold was the other run's (not extended, not a second one).
    const starts = stampsOf(env).filter((s) => s.event === 'start');
    expect(starts).toHaveLength(1);
    expect(starts[0].t).toBeGreaterThanOrEqual(Date.parse(until));
    await hold.result();
    expect((await hold.describe()).memo?.[ACCOUNT_HOLD_MEMO]).toEqual(limited);
    expect(notificationsOf(env)).toEqual([]);
    // The hold was read by the agent activity: no local activity in the job's history.
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('readAccountHold');
  }, 60_000);
});
