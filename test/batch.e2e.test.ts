// Cycle, EOD, rollover and schedules on the real dev server with the fake agent.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import path from 'node:path';
import { batchProgress, startBatch, startJob, jobResult, AlreadyRunningError } from '../src/temporal/client';
import { setPaused } from '../src/gates';
import { appendLedger, readLedger } from '../src/lib/ledger';
import { addDays, dayBounds, localDate, localTime, minutesOfDay } from '../src/lib/dates';
import { applySchedules, describeSchedules } from '../src/temporal/schedules';
import { SearchAttr, type BatchResult, type BatchRow } from '../src/temporal/types';
import { scheduleIds } from '../src/temporal/ids';
import { makeEnv, waitFor, type TestEnv } from './helpers/env';
import { loadConfig } from '../src/config';
import { processAlive } from './helpers/process';

function hhmm(minutes: number): string {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function row(result: BatchResult, project: string): BatchRow {
  const r = result.rows.find((x) => x.project === project);
  if (!r) throw new Error(`no row for ${project}`);
  return r;
}

async function finish(handle: Awaited<ReturnType<typeof startBatch>>): Promise<BatchResult> {
  return (await handle.result()) as BatchResult;
}

describe('cycle', () => {
  let env: TestEnv;
  let stamps: string;
  beforeAll(async () => {
    const now = minutesOfDay(localTime(new Date(), 'Europe/London'));
    env = await makeEnv({
      concurrency: 2,
      projects: {
        ok1: 'prompt = "[scenario:slow:1]"',
        ok2: 'prompt = "[scenario:slow:1]"',
        ok3: 'prompt = "[scenario:slow:1]"',
        failer: 'prompt = "[scenario:error_max_turns]"',
        sleeper: 'prompt = "[scenario:hang]"\n[projects.sleeper.agent]\ntimeout = "2s"',
        disabled: 'enabled = false',
        paused: '',
        notgit: '',
        nowork: '[projects.nowork.gates]\ncommand = "test -s TODO.md"',
        gateerr: '[projects.gateerr.gates]\ncommand = "echo boom >&2; exit 3"',
        gatehang: '[projects.gatehang.gates]\ncommand = "sleep 30"\ntimeout = "1s"',
        offhours: `[projects.offhours.gates]\nworking_hours = "${hhmm(now + 120)}-${hhmm(now + 180)}"`,
        broke: '[projects.broke.gates]\nmax_daily_usd = 0.01',
        busy: 'prompt = "[scenario:hang]"',
      },
      extra: '',
    });
    stamps = path.join(env.dir, 'stamps.jsonl');
    // Every agent appends start/end stamps: the concurrency limit is measured from the agents themselves.
    const text = readFileSync(env.configPath, 'utf8').replace(
      '[agent]\n',
      `[agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps}" }\n`,
    );
    await env.writeConfig(text);
    env.config = await loadConfig(env.configPath);
    // notgit: a folder that is not a git repository.
    rmSync(path.join(env.projectPath('notgit'), '.git'), { recursive: true, force: true });
    await setPaused(env.stateDir, 'paused', true);
    await appendLedger(env.stateDir, {
      finishedAt: new Date().toISOString(),
      project: 'broke',
      kind: 'run',
      outcome: 'succeeded',
      costUsd: 0.02,
      numTurns: 1,
      durationMs: 1000,
      logPath: null,
    });
  });
  afterAll(async () => env?.stop());

  test('mixed gates and outcomes; concurrency never exceeded; one failure never stops the others', async () => {
    // A job already running for `busy`: the cycle skips it rather than queueing a second agent.
    const busy = await startJob(env.client, env.config, { project: 'busy', kind: 'run' });
    await waitFor('busy running', async () => (await busy.handle.describe()).status.name === 'RUNNING');

    const handle = await startBatch(env.client, env.config, 'cycle', {});
    await expect(startBatch(env.client, env.config, 'cycle', {})).rejects.toBeInstanceOf(AlreadyRunningError);
    // Live progress is queryable while it runs.
    const live = await waitFor('progress rows', async () => {
      const p = await batchProgress(handle);
      return p.result && p.result.rows.length > 0 ? p.result : null;
    });
    expect(live.rows.length).toBe(14);
    // Gates are decided: stop `busy` so it no longer holds one of the worker's two agent slots.
    await busy.handle.cancel();
    await jobResult(busy.handle, 'busy');
    const result = await finish(handle);

    const expectRow = (p: string, decision: string, status: string, reason: RegExp) => {
      const r = row(result, p);
      expect({ p, decision: r.decision, status: r.status }).toEqual({ p, decision, status });
      expect(r.reason).toMatch(reason);
    };
    expectRow('ok1', 'run', 'succeeded', /Done/);
    expectRow('ok2', 'run', 'succeeded', /Done/);
    expectRow('ok3', 'run', 'succeeded', /Done/);
    expectRow('failer', 'run', 'agent_error', /max turns/i);
    expectRow('sleeper', 'run', 'timed_out', /timeout/);
    expectRow('disabled', 'skip', 'skipped', /enabled = false/);
    expectRow('paused', 'skip', 'skipped', /paused/);
    expectRow('notgit', 'error', 'skipped', /not a git repository/);
    expectRow('nowork', 'skip', 'skipped', /no work/);
    expectRow('gateerr', 'error', 'skipped', /gate command failed \(exit 3\).*boom/);
    expectRow('gatehang', 'error', 'skipped', /timed out after 1s/);
    expectRow('offhours', 'skip', 'skipped', /outside working hours/);
    expectRow('broke', 'skip', 'skipped', /daily budget spent: \$0\.02 of \$0\.01/);
    expectRow('busy', 'skip', 'skipped', /already running/);
    expect(row(result, 'ok1').costUsd).toBeCloseTo(0.0123);
    expect(row(result, 'ok1').durationMs).toBeGreaterThan(900);

    // Concurrency, from the agents' own stamps: never more than 2 at once (busy ran outside the cycle).
    const events = readFileSync(stamps, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; cwd: string; t: number })
      .filter((e) => !e.cwd.endsWith('/busy'))
      .sort((a, b) => a.t - b.t || (a.event === 'end' ? -1 : 1));
    let now = 0;
    let peak = 0;
    for (const e of events) {
      now += e.event === 'start' ? 1 : -1;
      peak = Math.max(peak, now);
    }
    expect(events.filter((e) => e.event === 'start').length).toBe(5);
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2);
  });
});

describe('two cycles at once', () => {
  let mine: TestEnv;
  let theirs: TestEnv;
  beforeAll(async () => {
    // Two orchestrators (task queues) sharing one namespace, as two teams could.
    mine = await makeEnv({
      projects: {
        twice1:
          'prompt = "[scenario:slow:3]"\neod_prompt = "[scenario:slow:3] [write:{worklog_path}]"\nrollover_prompt = "[scenario:slow:3]"',
      },
    });
    theirs = await makeEnv({ projects: { twice2: 'prompt = "[scenario:slow:1]"' } });
  });
  afterAll(async () => {
    await mine?.stop();
    await theirs?.stop();
  });

  test("a second cycle of one orchestrator is refused or stands down; another orchestrator's cycle runs", async () => {
    const first = await startBatch(mine.client, mine.config, 'cycle', {});
    await waitFor('the first cycle is running its job', async () => {
      const { result } = await batchProgress(first);
      return result?.rows.some((r) => r.status === 'running') ?? false;
    });
    // The CLI's cycle has a fixed ID: a second one is refused at once.
    await expect(startBatch(mine.client, mine.config, 'cycle', {})).rejects.toBeInstanceOf(AlreadyRunningError);
    // A cycle with another ID on the same queue (a schedule's run) finds the first and does nothing.
    const scheduled = await mine.client.workflow.start('cycle', {
      taskQueue: mine.taskQueue,
      workflowId: `cycle-scheduled-${mine.taskQueue}`,
      args: [{}],
    });
    const stoodDown = (await scheduled.result()) as BatchResult;
    expect(stoodDown.refused).toBe(`another cycle is already running (${first.workflowId}); this one did nothing`);
    expect(stoodDown.rows).toEqual([]);
    // Another orchestrator's cycle is not held up by ours.
    const other = await finish(await startBatch(theirs.client, theirs.config, 'cycle', {}));
    expect(other.refused).toBeNull();
    expect(row(other, 'twice2').status).toBe('succeeded');

    const done = await finish(first);
    expect(done.refused).toBeNull();
    expect(row(done, 'twice1').status).toBe('succeeded');
  });

  test.each(['eod', 'rollover'] as const)(
    "a second %s on the same task queue (a schedule's run while the CLI's runs) stands down",
    async (kind) => {
      const first = await startBatch(mine.client, mine.config, kind, {});
      await waitFor(`the first ${kind} is running its job`, async () => {
        const { result } = await batchProgress(first);
        return result?.rows.some((r) => r.status === 'running') ?? false;
      });
      const scheduled = await mine.client.workflow.start(kind, {
        taskQueue: mine.taskQueue,
        workflowId: `${kind}-scheduled-${mine.taskQueue}`,
        args: [{}],
      });
      const stoodDown = (await scheduled.result()) as BatchResult;
      expect(stoodDown.refused).toBe(`another ${kind} is already running (${first.workflowId}); this one did nothing`);
      expect(stoodDown.rows).toEqual([]);
      // Only the batch that ran writes the digest.
      expect(stoodDown.digestPath).toBeNull();
      const done = await finish(first);
      expect(done.refused).toBeNull();
      expect(row(done, 'twice1').status).toBe('succeeded');
      if (kind === 'eod') expect(done.digestPath).toBe(path.join(mine.stateDir, 'digests', `${done.date}.md`));
    },
  );
});

describe('EOD, digest and rollover', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv({
      projects: {
        writer:
          'eod_prompt = "Write the log [write:{worklog_path}]"\nrollover_prompt = "[marker] carry {yesterday} into {date}"',
        lazy: 'eod_prompt = "[scenario:noop]"',
        stale: 'eod_prompt = "[scenario:noop]"',
        off: 'enabled = false',
      },
    });
  });
  afterAll(async () => env?.stop());

  test('EOD: a job that exits 0 without writing its work log fails; the digest lists every job', async () => {
    const handle = await startBatch(env.client, env.config, 'eod', { projects: ['writer', 'lazy', 'off'] });
    const result = await finish(handle);
    const today = localDate(new Date(), 'Europe/London');
    expect(result.date).toBe(today);
    expect(row(result, 'writer').status).toBe('succeeded');
    expect(row(result, 'writer').worklogPath).toBe(path.join(env.projectPath('writer'), `docs/worklog/${today}.md`));
    expect(existsSync(row(result, 'writer').worklogPath!)).toBe(true);
    expect(row(result, 'lazy').status).toBe('agent_error');
    expect(row(result, 'lazy').reason).toMatch(/work log not written/);
    expect(row(result, 'off').status).toBe('skipped');

    expect(result.digestPath).toBe(path.join(env.stateDir, 'digests', `${today}.md`));
    const digest = readFileSync(result.digestPath!, 'utf8');
    expect(digest).toContain(`# Orchestrator digest — ${today}`);
    // Times in the configured timezone (no UTC "Z"); the EOD job once, from the batch's row, not again from
    // its own ledger line.
    const writerSection = /## writer\n\n((?:- .*\n)*)/.exec(digest)![1];
    expect(writerSection).toMatch(/^- \d\d:\d\d eod: \*\*succeeded\*\* · .* · \$0\.0123 · \d+ turns/);
    expect(writerSection.match(/ eod: /g)).toHaveLength(1);
    expect(digest).toMatch(
      /## lazy\n\n- \d\d:\d\d eod: \*\*agent_error\*\*.*\n- EOD failed \(agent_error\): lazy: work log not written/,
    );
    expect(digest).toMatch(/## off\n\n- no jobs today\n- EOD skipped: disabled/);
    // writer $0.0123 + lazy $0 (the noop scenario), each counted once.
    expect(digest).toContain('Total cost today: $0.0123');
    // Only a work log that is there is listed.
    expect(digest).toContain(`- work log: ${row(result, 'writer').worklogPath}`);
    expect(/## lazy\n\n((?:- .*\n)*)/.exec(digest)![1]).not.toContain('work log:');
  });

  test('EOD: a missing work log is one failure in every view: job workflow, search attributes, ledger, batch', async () => {
    const handle = await startBatch(env.client, env.config, 'eod', { projects: ['writer', 'lazy'] });
    const result = await finish(handle);
    expect(row(result, 'lazy').status).toBe('agent_error');
    expect(row(result, 'lazy').worklogPath).toBeUndefined();
    expect(row(result, 'lazy').reason).toMatch(/^lazy: work log not written/);

    // The job's own workflow failed, with the outcome and cost of what its agent did.
    const lazy = await env.client.workflow.getHandle(row(result, 'lazy').workflowId!).describe();
    expect(lazy.status.name).toBe('FAILED');
    expect(lazy.typedSearchAttributes.get(SearchAttr.outcome)).toBe('agent_error');
    const writer = await env.client.workflow.getHandle(row(result, 'writer').workflowId!).describe();
    expect(writer.status.name).toBe('COMPLETED');
    expect(writer.typedSearchAttributes.get(SearchAttr.outcome)).toBe('succeeded');
    expect(writer.typedSearchAttributes.get(SearchAttr.costUsd)).toBe(0.0123);

    // The batch is not green: its outcome says failed, its details count the failure.
    const batch = await handle.describe();
    expect(batch.status.name).toBe('COMPLETED');
    expect(batch.typedSearchAttributes.get(SearchAttr.outcome)).toBe('failed');

    // The README's queries find them (visibility is eventually consistent: wait for it).
    const ids = async (query: string) => {
      const found: string[] = [];
      for await (const wf of env.client.workflow.list({ query })) found.push(`${wf.workflowId}/${wf.runId}`);
      return found;
    };
    const lazyRun = `${lazy.workflowId}/${lazy.runId}`;
    await waitFor(
      'the failed EOD job in the README query',
      async () => (await ids('OrchestrateKind = "eod" AND ExecutionStatus = "Failed"')).includes(lazyRun),
      30_000,
    );
    const batchRun = `${batch.workflowId}/${batch.runId}`;
    await waitFor(
      'the failed batch by its outcome',
      async () => (await ids('OrchestrateKind = "eod" AND OrchestrateOutcome = "failed"')).includes(batchRun),
      30_000,
    );
    await waitFor(
      'the job by its cost',
      async () =>
        (await ids('OrchestrateProject = "writer" AND OrchestrateCostUsd > 0.01')).includes(
          `${writer.workflowId}/${writer.runId}`,
        ),
      30_000,
    );

    // The ledger (history, costs, the budget, the next digest) reads the corrected line, once per job.
    const lines = readFileSync(path.join(env.stateDir, 'ledger', 'lazy.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const entries = (await readLedger(env.stateDir, 'lazy')).filter((e) => e.runId === lazy.runId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ outcome: 'agent_error', correction: true, kind: 'eod' });
    expect(entries[0].message).toMatch(/work log not written/);
    expect(lines.filter((l) => l.includes(lazy.runId))).toHaveLength(2);
  });

  test('EOD: a work log left from before, not touched by a job that exits 0, fails that project', async () => {
    const today = localDate(new Date(), 'Europe/London');
    const log = path.join(env.projectPath('stale'), 'docs', 'worklog', `${today}.md`);
    mkdirSync(path.dirname(log), { recursive: true });
    writeFileSync(log, '# An old entry\n');
    const old = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * 3600 * 1000);
    utimesSync(log, old, old);
    const result = await finish(await startBatch(env.client, env.config, 'eod', { projects: ['stale'] }));
    expect(row(result, 'stale').status).toBe('agent_error');
    expect(row(result, 'stale').reason).toMatch(
      new RegExp(`^stale: work log not written: docs/worklog/${today}\\.md was not updated by today's EOD job`),
    );
    expect(Math.round(statSync(log).mtimeMs)).toBe(old.getTime());
  });

  test('rollover on the first of a month closes last month', async () => {
    const result = await finish(
      await startBatch(env.client, env.config, 'rollover', { projects: ['writer'], date: '2026-04-01' }),
    );
    expect(row(result, 'writer').status).toBe('succeeded');
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('writer'), '.fake-claude-marker'), 'utf8'));
    expect(marker.prompt).toContain('carry 2026-03-31 into 2026-04-01');
    expect(marker.prompt).toMatch(/March 2026/);
    expect(marker.prompt).toMatch(/April 2026/);
  });
});

describe('EOD digest across midnight, in the timezone', () => {
  const tz = 'Asia/Kolkata'; // UTC+05:30 all year: local times never read as UTC ones
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv({
      projects: { late: 'eod_prompt = "[write:{worklog_path}]"', quiet: 'enabled = false' },
    });
    await env.writeConfig(
      readFileSync(env.configPath, 'utf8').replace('timezone = "Europe/London"', `timezone = "${tz}"`),
    );
    env.config = await loadConfig(env.configPath);
  });
  afterAll(async () => env?.stop());

  test("an EOD job finishing after the day's midnight is in that day's digest, with the day's other jobs", async () => {
    const today = localDate(new Date(), tz);
    const day = addDays(today, -1);
    const { start } = dayBounds(day, tz);
    const at = (hours: number) => new Date(start.getTime() + hours * 3600 * 1000).toISOString();
    const entry = (project: string, finishedAt: string, costUsd: number) =>
      appendLedger(env.stateDir, {
        finishedAt,
        project,
        kind: 'run',
        outcome: 'succeeded',
        costUsd,
        numTurns: 2,
        durationMs: 60_000,
        logPath: null,
      });
    await entry('late', at(12), 0.5); // 12:00 local = 06:30Z
    await entry('quiet', at(9.25), 0.25); // 09:15 local
    await entry('quiet', at(-1), 9); // the day before: not in this digest

    // The EOD for `day` runs now, i.e. after its midnight (as a catch-up EOD would).
    const result = await finish(await startBatch(env.client, env.config, 'eod', { date: day }));
    expect(result.date).toBe(day);
    expect(row(result, 'late').status).toBe('succeeded');
    const digest = readFileSync(result.digestPath!, 'utf8');
    expect(digest).toContain(`# Orchestrator digest — ${day}`);
    const section = (name: string) => new RegExp(`## ${name}\\n\\n((?:- .*\\n)*)`).exec(digest)![1];
    const late = section('late');
    expect(late).not.toContain('no jobs today');
    expect(late).toMatch(/^- 12:00 run: \*\*succeeded\*\* · 1m · \$0\.5000 · 2 turns\n/);
    // The EOD job itself, from the batch's row, dated the next day as it finished after midnight.
    expect(late).toMatch(
      new RegExp(`\\n- ${today} \\d\\d:\\d\\d eod: \\*\\*succeeded\\*\\* · .* · \\$0\\.0123 · \\d+ turns`),
    );
    expect(late.match(/ eod: /g)).toHaveLength(1);
    expect(section('quiet')).toMatch(/^- 09:15 run: \*\*succeeded\*\* · .*\n- EOD skipped: disabled/);
    expect(digest).toContain('Total cost today: $0.7623');
  });
});

describe('schedules', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv({ projects: { writer: 'eod_prompt = "[write:{worklog_path}]"' } });
    const text = readFileSync(env.configPath, 'utf8').replace(
      'eod = ""\nrollover = ""',
      'eod = "23:00"\nrollover = "06:00"\ncatchup_window = "6h"',
    );
    await env.writeConfig(text);
    env.config = await loadConfig(env.configPath);
  });
  afterAll(async () => {
    for (const id of Object.values(scheduleIds(env.taskQueue)))
      await env.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    await env?.stop();
  });

  test('apply is idempotent; EOD at 23:00 in the timezone; trigger runs EOD', async () => {
    const SCHEDULE_IDS = scheduleIds(env.taskQueue);
    // Another orchestrator's queue: its own IDs, so neither touches the other's schedules.
    expect(SCHEDULE_IDS.eod).toBe(`orchestrate-eod@${env.taskQueue}`);
    // An older version named this queue's EOD schedule "orchestrate-eod": apply replaces it (else both fire).
    const legacy = await env.client.schedule.create({
      scheduleId: 'orchestrate-eod',
      spec: { calendars: [{ hour: 23 }] },
      action: { type: 'startWorkflow', workflowType: 'eod', workflowId: 'eod', taskQueue: env.taskQueue, args: [{}] },
    });
    const first = await applySchedules(env.client, env.config);
    expect(first.deleted).toEqual(['orchestrate-eod']);
    await expect(legacy.describe()).rejects.toThrow(/not found/i);
    expect(first.created.sort()).toEqual([SCHEDULE_IDS.eod, SCHEDULE_IDS.rollover].sort());
    const second = await applySchedules(env.client, env.config);
    expect(second.created).toEqual([]);
    expect(second.updated.sort()).toEqual([SCHEDULE_IDS.eod, SCHEDULE_IDS.rollover].sort());

    const d = await env.client.schedule.getHandle(SCHEDULE_IDS.eod).describe();
    expect(d.spec.timezone).toBe('Europe/London');
    expect(d.policies.overlap).toBe('SKIP');
    expect(d.policies.catchupWindow).toBe(6 * 3600 * 1000);
    const next = d.info.nextActionTimes;
    expect(next.length).toBeGreaterThan(1);
    for (const t of next) expect(localTime(t, 'Europe/London')).toBe('23:00');
    expect(next[1].getTime() - next[0].getTime()).toBeGreaterThanOrEqual(23 * 3600 * 1000);
    const rows = await describeSchedules(env.client, env.taskQueue);
    expect(
      rows
        .find((r) => r.id === SCHEDULE_IDS.rollover)
        ?.nextRuns.every((t) => localTime(new Date(t), 'Europe/London') === '06:00'),
    ).toBe(true);

    await env.client.schedule.getHandle(SCHEDULE_IDS.eod).trigger();
    const wf = await waitFor('triggered eod', async () => {
      for await (const w of env.client.workflow.list({
        query: `WorkflowType = 'eod' AND TaskQueue = '${env.taskQueue}'`,
      }))
        return w;
      return null;
    });
    expect(wf.workflowId.startsWith(`eod@${env.taskQueue}-`)).toBe(true);
    const result = (await env.client.workflow.getHandle(wf.workflowId).result()) as BatchResult;
    expect(row(result, 'writer').status).toBe('succeeded');
    expect(result.date).toBe(localDate(new Date(), 'Europe/London'));

    // A run that was due at 23:00 but starts later (catch-up after downtime; here a backfill of a past day):
    // its day is the day it was due, not the day it runs.
    const dueDay = addDays(localDate(new Date(), 'Europe/London'), -3);
    const { start, end } = dayBounds(dueDay, 'Europe/London');
    await env.client.schedule.getHandle(SCHEDULE_IDS.eod).backfill({
      start: new Date(start.getTime() + 22 * 3600 * 1000),
      end,
      overlap: ScheduleOverlapPolicy.ALLOW_ALL,
    });
    const late = await waitFor('backfilled eod', async () => {
      for await (const w of env.client.workflow.list({
        query: `WorkflowType = 'eod' AND TaskQueue = '${env.taskQueue}' AND TemporalScheduledStartTime < '${end.toISOString()}'`,
      }))
        return w;
      return null;
    });
    const due = late.typedSearchAttributes.getAll().find((p) => p.key.name === 'TemporalScheduledStartTime')?.value;
    expect(localTime(due as Date, 'Europe/London')).toBe('23:00');
    const caughtUp = (await env.client.workflow.getHandle(late.workflowId).result()) as BatchResult;
    expect(caughtUp.date).toBe(dueDay);
    expect(row(caughtUp, 'writer').status).toBe('succeeded');
    expect(row(caughtUp, 'writer').worklogPath).toBe(path.join(env.projectPath('writer'), `docs/worklog/${dueDay}.md`));
    expect(caughtUp.digestPath).toBe(path.join(env.stateDir, 'digests', `${dueDay}.md`));

    // Dropping a schedule from config deletes it on the next apply.
    const dropped = readFileSync(env.configPath, 'utf8').replace('rollover = "06:00"', 'rollover = ""');
    await env.writeConfig(dropped);
    const report = await applySchedules(env.client, await loadConfig(env.configPath));
    expect(report.deleted).toEqual([SCHEDULE_IDS.rollover]);

    // A second orchestrator in the namespace (another task queue, no schedules) applies its own: this one's
    // EOD schedule is left alone.
    const other = await loadConfig(env.configPath);
    const otherConfig = {
      ...other,
      orchestrator: { ...other.orchestrator, taskQueue: `${env.taskQueue}-other` },
      schedules: { ...other.schedules, eod: null, rollover: null },
    };
    expect(await applySchedules(env.client, otherConfig)).toEqual({ created: [], updated: [], deleted: [] });
    expect((await describeSchedules(env.client, env.taskQueue)).map((r) => r.id)).toEqual([SCHEDULE_IDS.eod]);
  });
});

describe('cancel during gates', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv({
      projects: {
        slowgate: '[projects.slowgate.gates]\ncommand = "echo $$ > gate.pid; exec sleep 30"\ntimeout = "60s"',
      },
    });
  });
  afterAll(async () => env?.stop());

  test('the cycle is cancelled and the hanging gate command killed', async () => {
    const handle = await startBatch(env.client, env.config, 'cycle', {});
    const pidFile = path.join(env.projectPath('slowgate'), 'gate.pid');
    const pid = await waitFor(
      'gate command running',
      () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()),
    );
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    await waitFor('gate command killed', () => !processAlive(pid), 5000);
  });
});

describe('bounded history', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await makeEnv({
      concurrency: 2,
      projects: Object.fromEntries(['can1', 'can2', 'can3', 'can4', 'can5', 'can6'].map((p) => [p, ''])),
    });
  });
  afterAll(async () => env?.stop());

  test('a cycle past its history limit continues as new and still accounts for every project', async () => {
    const handle = await startBatch(env.client, env.config, 'cycle', { historyEventsLimit: 40 });
    const result = (await handle.result()) as BatchResult;
    expect(result.rows.map((r) => [r.project, r.status]).sort()).toEqual(
      ['can1', 'can2', 'can3', 'can4', 'can5', 'can6'].map((p) => [p, 'succeeded']),
    );
    // More than one run of the same workflow ID: it continued as new.
    const runs: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
      runs.push(wf.runId);
    expect(runs.length).toBeGreaterThan(1);
  });
});
