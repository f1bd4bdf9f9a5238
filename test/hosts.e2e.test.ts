// Several hosts on one machine: each host's worker runs only the projects pinned to it.
import { NativeConnection, type Worker } from '@temporalio/worker';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult, startBatch, startJob } from '../src/temporal/client';
import { loadConfig, type Config } from '../src/config';
import type { BatchResult, BatchRow } from '../src/temporal/types';
import { createWorker } from '../src/worker';
import execa from 'execa';
import { makeEnv, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';
import { gatherStatus, renderStatus } from '../src/cli/commands/status';

let env: TestEnv;
const WRITE_WORKLOG = 'eod_prompt = "[write:{worklog_path}]"';
const workers: Array<{ worker: Worker; running: Promise<void>; connection: NativeConnection }> = [];

/**
 * The same registry as seen from another machine: its own state folder. The shared machine has no checkout of
 * hsta (alpha's project): there its path leads nowhere, so only alpha can see hsta's files.
 */
async function configFor(name: string): Promise<Config> {
  let text = readFileSync(env.configPath, 'utf8').replace(
    /state_dir = ".*"/,
    `state_dir = "${path.join(env.dir, `state-${name}`)}"`,
  );
  if (name === 'shared') text = text.replace(env.projectPath('hsta'), path.join(env.dir, 'not-on-this-host', 'hsta'));
  const file = path.join(env.dir, `workspaces-${name}.toml`);
  writeFileSync(file, text);
  return loadConfig(file);
}

async function startWorkerFor(config: Config, host: string | null) {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const { worker } = await createWorker({
    config,
    connection,
    host,
    workflowBundlePath: process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE,
  });
  workers.push({ worker, running: worker.run(), connection });
}

beforeAll(async () => {
  env = await makeEnv({
    // gamma has no worker: a cycle waits host_wait for it, then skips its project.
    projects: {
      hsta: `host = "alpha"\n${WRITE_WORKLOG}`,
      hstb: `host = "beta"\n${WRITE_WORKLOG}`,
      hstshared: WRITE_WORKLOG,
      hstd: `host = "gamma"\n${WRITE_WORKLOG}`,
    },
    orchestratorExtra: ['host_wait = "3s"'],
    startWorker: false,
  });
  await startWorkerFor(await configFor('shared'), null);
  await startWorkerFor(await configFor('alpha'), 'alpha');
  await startWorkerFor(await configFor('beta'), 'beta');
});

afterAll(async () => {
  for (const w of workers) w.worker.shutdown();
  for (const w of workers) {
    await w.running;
    await w.connection.close();
  }
  await env?.stop();
});

test("each project's agent runs only on its own host's worker", async () => {
  for (const [project, host] of [
    ['hsta', 'alpha'],
    ['hstb', 'beta'],
    ['hstshared', 'shared'],
  ]) {
    const r = await jobResult((await startJob(env.client, env.config, { project, kind: 'run' })).handle, project);
    expect(r.outcome).toBe('succeeded');
    expect(r.logPath.startsWith(path.join(env.dir, `state-${host}`) + path.sep)).toBe(true);
  }
});

test('a cycle started on the shared queue runs gates and jobs on each host, and skips a host without a worker', async () => {
  const started = Date.now();
  const result = (await (await startBatch(env.client, env.config, 'cycle', {})).result()) as BatchResult;
  const byProject = Object.fromEntries(result.rows.map((r) => [r.project, r]));
  expect(byProject.hstd).toMatchObject({
    decision: 'error',
    status: 'skipped',
    reason: 'no worker for host gamma (start `orchestrate worker --host gamma` on it)',
  });
  // It waited host_wait (3 s) for gamma, not the 2-minute default.
  expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
  expect(byProject.hsta.status).toBe('succeeded');
  expect(byProject.hsta.logPath?.startsWith(path.join(env.dir, 'state-alpha'))).toBe(true);
  expect(byProject.hstb.logPath?.startsWith(path.join(env.dir, 'state-beta'))).toBe(true);
  expect(byProject.hstshared.logPath?.startsWith(path.join(env.dir, 'state-shared'))).toBe(true);
});

test('status shows jobs on host queues and says which host has no worker', async () => {
  const { handle } = await startJob(env.client, env.config, {
    project: 'hsta',
    kind: 'run',
    prompt: '[scenario:slow:4]',
  });
  const report = await waitFor('hsta running in status', async () => {
    const r = await gatherStatus(env.config);
    return r.running.some((j) => j.project === 'hsta') ? r : null;
  });
  expect(report.hosts).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ host: 'alpha', workers: 1 }),
      expect.objectContaining({ host: 'gamma', workers: 0 }),
    ]),
  );
  expect(renderStatus(report)).toContain('no worker for host gamma');
  await jobResult(handle, 'hsta');
});

test('run for a project whose host has no worker says so while it waits', async () => {
  const cli = execa('node', [path.join(REPO_ROOT, 'dist', 'cli.js'), 'run', '-p', 'hstd'], {
    env: { ...env.cliEnv },
    reject: false,
    stdin: 'ignore',
  });
  let stderr = '';
  cli.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor('the no-worker note', () => stderr.includes('waiting: no worker for host gamma'), 20_000);
  } finally {
    cli.kill('SIGTERM');
    await cli;
    await env.client.workflow
      .getHandle('job/hstd')
      .terminate('test over')
      .catch(() => undefined);
  }
});

test("EOD verifies each work log on the project's host; EOD and rollover skip a host without a worker", async () => {
  const eod = (await (await startBatch(env.client, env.config, 'eod', {})).result()) as BatchResult;
  const byProject = Object.fromEntries(eod.rows.map((r) => [r.project, r])) as Record<string, BatchRow>;
  for (const project of ['hsta', 'hstb', 'hstshared']) {
    expect({ project, status: byProject[project].status, reason: byProject[project].reason }).toEqual({
      project,
      status: 'succeeded',
      reason: expect.any(String),
    });
    expect(byProject[project].worklogPath).toBe(path.join(env.projectPath(project), `docs/worklog/${eod.date}.md`));
  }
  const noGamma = {
    decision: 'error',
    status: 'skipped',
    reason: 'no worker for host gamma (start `orchestrate worker --host gamma` on it)',
  };
  expect(byProject.hstd).toMatchObject(noGamma);
  const digest = readFileSync(eod.digestPath!, 'utf8');
  expect(digest).toContain('- EOD skipped: no worker for host gamma');

  const rollover = (await (await startBatch(env.client, env.config, 'rollover', {})).result()) as BatchResult;
  expect(rollover.rows.find((r) => r.project === 'hstd')).toMatchObject(noGamma);
  expect(rollover.rows.find((r) => r.project === 'hsta')?.status).toBe('succeeded');
});
