// The `orchestrate` CLI as a user runs it: the built dist/cli.js in a subprocess, no TTY.
import execa from 'execa';
import { Client, Connection } from '@temporalio/client';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeEnv, makeRepo, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';
import { requireBuiltCli, runCli, spawnCli } from './helpers/cli';
import { freePorts } from './helpers/server';
import { localTime } from '../src/lib/dates';
import { jobWorkflowId, scheduleIds } from '../src/temporal/ids';
import { processAlive } from './helpers/process';

let env: TestEnv;

beforeAll(async () => {
  requireBuiltCli();
  env = await makeEnv({ projects: { clia: 'prompt = "say hi"', clib: '' } });
});
afterAll(async () => env?.stop());

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli({ ...env.cliEnv, ...extraEnv }, args);
}

test('run --json prints one object with the documented keys; exit 0', async () => {
  const r = await cli(['run', '-p', 'clia', '--json']);
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(Object.keys(out)).toEqual(
    expect.arrayContaining([
      'workflowId',
      'project',
      'outcome',
      'exitCode',
      'durationMs',
      'costUsd',
      'numTurns',
      'sessionId',
      'logPath',
      'result',
    ]),
  );
  expect(out).toMatchObject({
    workflowId: jobWorkflowId('clia'),
    project: 'clia',
    outcome: 'succeeded',
    exitCode: 0,
    result: 'Done: say hi',
  });
  // No TTY: no spinner escape codes anywhere.
  expect(r.stderr).not.toContain(String.fromCharCode(27));
});

test('human output: outcome, duration, cost, log path and Web UI link; exit 1 on a failed job', async () => {
  const r = await cli(['run', '-p', 'clib', '--prompt', '[scenario:error_max_turns]']);
  expect(r.exitCode).toBe(1);
  expect(r.stdout).toMatch(/^clib · agent_error · \d+(ms|s)/);
  expect(r.stdout).toMatch(/\$0\.0\d+/);
  expect(r.stdout).toMatch(/max turns/i);
  expect(r.stdout).toContain(`log: ${env.stateDir}`);
  expect(r.stdout).toMatch(/web: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/job%2Fclib\/[0-9a-f-]+/);
});

test('a second trigger is refused with exit 3 while a job runs', async () => {
  const first = await cli(['run', '-p', 'clib', '--prompt', '[scenario:slow:8]', '--no-wait', '--json']);
  expect(first.exitCode).toBe(0);
  const second = await cli(['run', '-p', 'clib']);
  expect(second.exitCode).toBe(3);
  expect(second.stderr).toContain(`already running: ${jobWorkflowId('clib')}`);
  const attached = await cli(['run', '-p', 'clib', '--attach', '--json']);
  expect(attached.exitCode).toBe(0);
  expect(JSON.parse(attached.stdout).result).toContain('[scenario:slow:8]');
});

test('usage and config errors exit 2 with a message, never a stack trace', async () => {
  const unknown = await cli(['run', '-p', 'nope']);
  expect(unknown.exitCode).toBe(2);
  expect(unknown.stderr).toMatch(/Unknown project "nope"\. Projects in .*: clia, clib\./);

  const bad = path.join(env.dir, 'bad.toml');
  writeFileSync(bad, '[orchestrator]\ntimezone = "Mars/Olympus"\n[projects.x]\npth = "/tmp"\n');
  const r = await cli(['--config', bad, 'run', '-p', 'x']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain('is invalid');
  expect(r.stderr).toContain('orchestrator.timezone');
  expect(r.stderr).toContain('did you mean "path"');
  expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);

  const noArgs = await cli(['run']);
  expect(noArgs.exitCode).toBe(2);
  expect(noArgs.stderr).toMatch(/required option '-p, --project <name>'/);
});

test('cycle --wait --json, pause and resume', async () => {
  expect((await cli(['pause', '-p', 'clib'])).stdout).toMatch(/clib: paused/);
  const r = await cli(['cycle', '--wait', '--json']);
  expect(r.exitCode).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result.rows.find((x: { project: string }) => x.project === 'clib')).toMatchObject({
    decision: 'skip',
    status: 'skipped',
  });
  expect(result.rows.find((x: { project: string }) => x.project === 'clia')).toMatchObject({
    decision: 'run',
    status: 'succeeded',
  });
  // Without a TTY the live view prints plain lines to stderr as projects change state.
  expect(r.stderr).toMatch(/clia: succeeded/);
  expect((await cli(['resume', '-p', 'clib'])).stdout).toMatch(/clib: resumed/);
  const human = await cli(['cycle', '--wait', '--project', 'clib']);
  expect(human.stdout).toMatch(/PROJECT\s+DECISION\s+OUTCOME\s+DURATION\s+COST\s+REASON/);
  expect(human.stdout).toMatch(/clib\s+run\s+succeeded/);
});

test('schedule apply --print-temporal-cli shows the equivalent temporal commands', async () => {
  const cfg = path.join(env.dir, 'sched.toml');
  writeFileSync(cfg, '[orchestrator]\ntimezone = "Europe/London"\n[schedules]\neod = "23:00"\nrollover = "06:00"\n');
  const r = await cli(['--config', cfg, 'schedule', 'apply', '--print-temporal-cli']);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain('temporal schedule create');
  expect(r.stdout).toContain('--schedule-id orchestrate-eod');
  expect(r.stdout).toContain('--time-zone Europe/London');
  expect(r.stdout).toContain('--overlap-policy Skip');
});

test('server status on a config whose server is not running says how to start it', async () => {
  const cfg = path.join(env.dir, 'other.toml');
  writeFileSync(
    cfg,
    `[orchestrator]\nstate_dir = "${path.join(env.dir, 'other-state')}"\n[server]\nport = 1\nui_port = 2\n`,
  );
  const r = await cli(['--config', cfg, 'server', 'status']);
  expect(r.exitCode).toBe(1);
  expect(r.stdout).toMatch(/not running \(start it with `orchestrate server start`\)/);
});

test('cancel from the CLI stops the agent (whole process group) and the job reports cancelled', async () => {
  const started = await cli(['run', '-p', 'clib', '--prompt', '[scenario:grandchildren]', '--no-wait']);
  expect(started.exitCode).toBe(0);
  const pidsFile = path.join(env.projectPath('clib'), '.fake-claude-pids');
  const deadline = Date.now() + 20_000;
  while (!existsSync(pidsFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const pids = readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
  const r = await cli(['cancel', 'clib', '--wait']);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain('cancelled: job/clib');
  for (const pid of pids) expect(processAlive(pid)).toBe(false);
  const again = await cli(['cancel', 'clib']);
  expect(again.exitCode).toBe(1);
  expect(again.stderr).toMatch(/job\/clib is not running \(cancelled\)/);
});

test('scripts/temporal-schedules.sh creates the same schedules with the temporal CLI', async () => {
  const prefix = `clitest-${Date.now()}-`;
  const r = await execa('bash', [path.join(REPO_ROOT, 'scripts', 'temporal-schedules.sh')], {
    env: {
      ...env.cliEnv,
      TEMPORAL_BIN: path.join(REPO_ROOT, '.tools', 'bin', 'temporal'),
      SCHEDULE_PREFIX: prefix,
      TASK_QUEUE: env.taskQueue,
      TIME_ZONE: 'Europe/London',
    },
    reject: false,
  });
  expect(r.exitCode).toBe(0);
  try {
    const d = await env.client.schedule.getHandle(`${prefix}eod@${env.taskQueue}`).describe();
    expect(d.spec.timezone).toBe('Europe/London');
    expect(d.policies.overlap).toBe('SKIP');
    expect(
      d.info.nextActionTimes.every((t) =>
        t.toLocaleTimeString('en-GB', { timeZone: 'Europe/London' }).startsWith('23:00'),
      ),
    ).toBe(true);
    const roll = await env.client.schedule.getHandle(`${prefix}rollover@${env.taskQueue}`).describe();
    expect(
      roll.info.nextActionTimes[0].toLocaleTimeString('en-GB', { timeZone: 'Europe/London' }).startsWith('06:00'),
    ).toBe(true);
  } finally {
    for (const id of ['eod', 'rollover'])
      await env.client.schedule
        .getHandle(`${prefix}${id}@${env.taskQueue}`)
        .delete()
        .catch(() => undefined);
  }
});

/** A long-running CLI command (worker, up); `ownEnv` is its whole environment. */
const background = (args: string[], ownEnv: NodeJS.ProcessEnv = env.cliEnv) => spawnCli(ownEnv, args, false);

describe('worker: the host comes from [orchestrator] host unless --host says otherwise', () => {
  let hostedConfig: string;

  beforeAll(() => {
    // The same registry, as seen from a machine named "clihost", plus a project pinned to it.
    makeRepo(env.projectPath('clipinned'));
    hostedConfig = path.join(env.dir, 'hosted.toml');
    writeFileSync(
      hostedConfig,
      readFileSync(env.configPath, 'utf8').replace('[orchestrator]\n', '[orchestrator]\nhost = "clihost"\n') +
        `\n[projects.clipinned]\npath = "${env.projectPath('clipinned')}"\nhost = "clihost"\n`,
    );
  });

  test("a worker started via the CLI with host in the config serves that host's queue", async () => {
    const { child, out } = background(['--config', hostedConfig, 'worker']);
    try {
      await waitFor('the worker to start', () => out.stderr.includes('worker polling'), 60_000);
      expect(out.stderr).toContain(`task queue "${env.taskQueue}@clihost" (host clihost, from [orchestrator] host`);
      expect(out.stderr).toContain(`not polling the shared queue "${env.taskQueue}"`);
      // Only this worker polls <queue>@clihost (the test's in-process worker serves the shared queue).
      const r = await cli(['--config', hostedConfig, 'run', '-p', 'clipinned', '--json', '--prompt', 'pinned job']);
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        project: 'clipinned',
        outcome: 'succeeded',
        result: 'Done: pinned job',
      });
    } finally {
      child.kill('SIGINT');
    }
    const done = await child;
    expect(done.exitCode).toBe(0);
    expect(out.stderr).toContain('worker stopped');
  });

  test('--host overrides the config (--host "" = the shared queue); --shared serves both', async () => {
    for (const [flag, expected] of [
      [['--host', 'elsewhere'], `task queue "${env.taskQueue}@elsewhere" (host elsewhere, from --host`],
      [['--host', ''], `task queue "${env.taskQueue}" (shared`],
      [
        ['--shared'],
        `task queues "${env.taskQueue}" (shared: projects without a host, cycles, EOD, rollover) and "${env.taskQueue}@clihost"`,
      ],
    ] as const) {
      const { child, out } = background(['--config', hostedConfig, 'worker', ...flag]);
      try {
        await waitFor(`the worker (${flag.join(' ')}) to start`, () => out.stderr.includes('worker polling'), 60_000);
        expect(out.stderr).toContain(expected);
      } finally {
        child.kill('SIGINT');
      }
      expect((await child).exitCode).toBe(0);
    }
  });
});

test('up: its own dev server, the schedules, the worker; schedule list|pause|unpause|trigger|delete; Ctrl-C stops both', async () => {
  // A fresh server on free ports with its own state folder: the shared test server is left alone.
  const [port, uiPort] = await freePorts(2);
  const dir = path.join(env.dir, 'up');
  mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'workspaces.toml');
  const taskQueue = `up-${Date.now()}`;
  writeFileSync(
    cfg,
    [
      '[orchestrator]',
      `task_queue = "${taskQueue}"`,
      `state_dir = "${path.join(dir, 'state')}"`,
      'timezone = "Europe/London"',
      'host = "uphost"',
      '[server]',
      `port = ${port}`,
      `ui_port = ${uiPort}`,
      '[schedules]',
      'eod = "23:00"',
      'rollover = "06:00"',
      '',
    ].join('\n'),
  );
  // No TEMPORAL_* settings: the CLI must reach the server from [server], as a user's would.
  const bare = Object.fromEntries(Object.entries(env.cliEnv).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const upCli = (args: string[]) => runCli(bare, ['--config', cfg, ...args], false);

  const { child: up, out } = background(['--config', cfg, 'up'], bare);
  let serverPid: number | undefined;
  const connection = await waitFor(
    'up to be serving',
    async () => (out.stderr.includes('worker polling') ? Connection.connect({ address: `127.0.0.1:${port}` }) : null),
    90_000,
  ).catch((e: Error) => {
    up.kill('SIGINT');
    throw new Error(`${e.message}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`);
  });
  try {
    expect(out.stdout).toContain(`Temporal started at 127.0.0.1:${port}; Web UI: http://127.0.0.1:${uiPort}`);
    expect(out.stdout).toContain(`orchestrate-eod@${taskQueue}`);
    // up serves the shared queue (schedules start there) and, with [orchestrator] host, that host's queue.
    expect(out.stderr).toContain(`task queues "${taskQueue}" (shared`);
    expect(out.stderr).toContain(`"${taskQueue}@uphost" (host uphost, from [orchestrator] host`);
    const status = await upCli(['server', 'status', '--json']);
    serverPid = JSON.parse(status.stdout).pid as number;
    expect(processAlive(serverPid)).toBe(true);

    // Schedule IDs carry the task queue unless it is the default one: orchestrate-eod@<queue>.
    const ids = scheduleIds(taskQueue);
    const list = await upCli(['schedule', 'list']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(/SCHEDULE\s+STATE\s+WHEN\s+NEXT RUNS/);
    expect(list.stdout).toMatch(new RegExp(`${ids.eod}\\s+active`));
    expect(list.stdout).toMatch(new RegExp(`${ids.rollover}\\s+active`));

    // status shows the schedules' next runs, from the server: EOD at 23:00 and rollover at 06:00, London time.
    const report = JSON.parse((await upCli(['status', '--json'])).stdout) as {
      schedules: Array<{ id: string; paused: boolean; nextRuns: string[] }>;
    };
    const at = (id: string) => report.schedules.find((x) => x.id === id)?.nextRuns ?? [];
    expect(at(ids.eod).length).toBeGreaterThan(0);
    expect(at(ids.eod).every((t) => localTime(new Date(t), 'Europe/London') === '23:00')).toBe(true);
    expect(at(ids.rollover).every((t) => localTime(new Date(t), 'Europe/London') === '06:00')).toBe(true);
    expect(Date.parse(at(ids.eod)[0])).toBeGreaterThan(Date.now());
    expect(Date.parse(at(ids.eod)[0]) - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);

    const listJson = async () =>
      JSON.parse((await upCli(['schedule', 'list', '--json'])).stdout) as Array<{ id: string; paused: boolean }>;
    expect((await upCli(['schedule', 'pause', 'eod'])).stdout).toContain(`paused ${ids.eod}`);
    expect((await listJson()).find((r) => r.id === ids.eod)?.paused).toBe(true);
    expect((await upCli(['schedule', 'unpause', 'eod'])).stdout).toContain(`unpaused ${ids.eod}`);
    expect((await listJson()).find((r) => r.id === ids.eod)?.paused).toBe(false);

    const trigger = await upCli(['schedule', 'trigger', 'eod']);
    expect(trigger.stdout).toContain(`triggered ${ids.eod}`);
    // The schedule's EOD runs on up's worker (no projects: it writes an empty digest and completes).
    const client = new Client({ connection, namespace: 'default' });
    const eod = await waitFor(
      'the triggered EOD to complete',
      async () => {
        for await (const wf of client.workflow.list({ query: `WorkflowType = 'eod'` }))
          if (wf.status.name === 'COMPLETED') return wf;
        return null;
      },
      60_000,
    );
    expect(eod.taskQueue).toBe(taskQueue);
    expect(eod.workflowId.startsWith(`eod@${taskQueue}-`)).toBe(true);

    expect((await upCli(['schedule', 'delete', 'eod'])).stdout).toContain(`deleted ${ids.eod}`);
    expect((await listJson()).map((r) => r.id)).toEqual([ids.rollover]);
    const again = await upCli(['schedule', 'delete', 'eod']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain(`no schedule "${ids.eod}"`);
  } finally {
    await connection.close();
    up.kill('SIGINT');
  }
  const done = await up;
  expect(done.exitCode).toBe(0);
  expect(out.stderr).toContain('worker stopped');
  expect(out.stdout).toContain('Temporal dev server stopped');
  expect(processAlive(serverPid as number)).toBe(false);
  const after = await upCli(['server', 'status']);
  expect(after.exitCode).toBe(1);
  expect(after.stdout).toMatch(/^not running/);
});
