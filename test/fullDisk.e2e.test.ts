// A full disk mid-job: the state folder sits on a real 2 MB tmpfs that the agent's output fills. The job must
// end as a clear failure naming the full disk and the folder, never as a success.
import execa from 'execa';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult } from '../src/temporal/client';
import { makeEnv, processesIn, REPO_ROOT, type TestEnv } from './helpers/env';

let env: TestEnv;
let mounted = false;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this fault test mounts a tmpfs: run it as root');
  env = await makeEnv({ projects: { full: 'prompt = "[scenario:fill_disk]"' } });
  mkdirSync(env.stateDir, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', env.stateDir]);
  mounted = true;
});
afterAll(async () => {
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  if (mounted) await execa('umount', [env.stateDir]);
  await env?.stop();
  expect(left).toEqual([]);
});

test('the agent fills the disk of the state folder: a failure naming the full disk and the folder (exit 1), no false success', async () => {
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  const run = await execa('node', [cli, 'run', '-p', 'full'], { env: env.cliEnv, reject: false });
  expect(run.exitCode).toBe(1);
  const stateDir = env.stateDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(run.stdout).toMatch(
    new RegExp(
      `full · crashed[\\s\\S]*the disk holding the state folder ${stateDir} \\(orchestrator.state_dir\\) is full`,
    ),
  );
  const r = await jobResult(env.client.workflow.getHandle('job/full'), 'full');
  expect(r.outcome).toBe('crashed');
  // Launched once: another launch would fill the same disk again.
  expect(path.basename(r.logPath)).toBe('attempt-1');
  // The ledger line could not be written either: that is part of the job's result, not only a worker warning.
  expect(r.message).toMatch(/the job's line could not be written to the cost ledger .*ENOSPC/);
  expect(r.recordProblem).toMatch(/ENOSPC/);
  // The agent did fill it: its output is in the run folder, cut off.
  expect(readFileSync(path.join(r.logPath, 'stdout.log'), 'utf8')).toMatch(/^progress/);
});
