// Faults: an agent whose daemons leave its process group (setsid, a double fork), and an agent that prints its
// result and then never exits. Real dev server, the fake agent, real signals; afterwards the process table is
// scanned for anything carrying the job's marker.
import execa from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult, startJob } from '../src/temporal/client';
import { JOB_MARKER_VAR, containmentSupport } from '../src/runner/containment';
import { makeEnv, processesIn, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';
import { processAlive, processesWithEnv } from './helpers/process';

let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv({
    projects: {
      escapetimeout: 'prompt = "[scenario:escapees]"\n[projects.escapetimeout.agent]\ntimeout = "5s"',
      escapecancel: 'prompt = "[scenario:escapees]"',
      escapeexit: 'prompt = "[scenario:escapees:exit]"',
      lingers: 'prompt = "[scenario:result_then_hang]"\n[projects.lingers.agent]\nexit_grace = "1s"',
      lingersstream:
        'prompt = "[scenario:result_then_hang]"\n[projects.lingersstream.agent]\nexit_grace = "1s"\n' +
        'args = ["-p", "{prompt}", "--output-format", "stream-json", "--verbose"]',
    },
  });
});
afterAll(async () => {
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  expect(left).toEqual([]);
});

function escapedPids(project: string): number[] {
  const file = path.join(env.projectPath(project), '.fake-claude-escaped');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

/** The process-table scan: nothing carries the project's job marker, and none of its escaped daemons lives. */
function expectNothingLeft(project: string): void {
  expect(processesWithEnv(JOB_MARKER_VAR, `${project}/`)).toEqual([]);
  for (const pid of escapedPids(project)) expect(processAlive(pid)).toBe(false);
}

test('timeout: daemons that left the process group (setsid, double fork) are stopped with the agent', async () => {
  const { handle } = await startJob(env.client, env.config, { project: 'escapetimeout', kind: 'run' });
  const r = await jobResult(handle, 'escapetimeout');
  expect(r.outcome).toBe('timed_out');
  expect(escapedPids('escapetimeout')).toHaveLength(2);
  expectNothingLeft('escapetimeout');
});

test('cancel: daemons that left the process group are stopped before the job reports cancelled', async () => {
  const { handle } = await startJob(env.client, env.config, { project: 'escapecancel', kind: 'run' });
  await waitFor('both daemons started', () => escapedPids('escapecancel').length === 2, 60_000);
  expect(processesWithEnv(JOB_MARKER_VAR, 'escapecancel/').length).toBeGreaterThanOrEqual(3);
  await handle.cancel();
  const r = await jobResult(handle, 'escapecancel');
  expect(r.outcome).toBe('cancelled');
  expectNothingLeft('escapecancel');
});

test('a normal exit: daemons the agent left running are stopped too (jobs are immutable)', async () => {
  const { handle } = await startJob(env.client, env.config, { project: 'escapeexit', kind: 'run' });
  const r = await jobResult(handle, 'escapeexit');
  expect(r.outcome).toBe('succeeded');
  expect(escapedPids('escapeexit')).toHaveLength(2);
  expectNothingLeft('escapeexit');
});

test.each([
  ['json', 'lingers'],
  ['stream-json', 'lingersstream'],
])(
  '%s: an agent that prints its result and never exits is stopped after exit_grace, its result kept',
  async (_, project) => {
    const { handle } = await startJob(env.client, env.config, { project, kind: 'run' });
    const r = await jobResult(handle, project);
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: [scenario:result_then_hang]');
    expect(r.costUsd).toBe(0.0123);
    expect(r.numTurns).toBe(3);
    expect(r.message).toMatch(/printed its result but had not exited 1s later \(\[agent\] exit_grace.*stopped/);
    expectNothingLeft(project);
  },
);

test('the worker says at start-up which containment its jobs get', async () => {
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  const worker = execa('node', [cli, 'worker'], { env: env.cliEnv, reject: false, stdin: 'ignore', all: true });
  let all = '';
  worker.all?.on('data', (d: Buffer) => (all += d.toString()));
  try {
    await waitFor('the start-up lines', () => all.includes('agent containment:'), 60_000);
    expect(all).toContain(containmentSupport().description);
  } finally {
    worker.kill('SIGTERM');
    await worker;
  }
});
