// Containment on its own, with real processes: the marker sweep finds and stops daemons that left the agent's
// process group (setsid, a double fork) without any cgroup; the cgroup stops processes that dropped the marker.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  JOB_CGROUP_VAR,
  JOB_MARKER_VAR,
  containmentEnv,
  containmentSupport,
  jobContainment,
  stopJob,
} from '../src/runner/containment';
import { startAgentProcess } from '../src/runner/process';
import { WRAPPER } from '../src/runner/runFolder';
import { readProcStat } from '../src/runner/processGroup';
import { FAKE_CLAUDE, waitFor } from './helpers/env';
import { processAlive, processesWithEnv } from './helpers/process';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orch-contain-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the fake agent's `escapees` scenario under the wrapper; resolves with the leader and the daemons' pids. */
async function startEscapees(name: string, env: Record<string, string>, agent: string[] = []) {
  const cwd = path.join(dir, name);
  mkdirSync(cwd, { recursive: true });
  const child = await startAgentProcess({
    command: '/bin/sh',
    args: ['-c', WRAPPER, 'orchestrate-agent', ...agent, FAKE_CLAUDE, '-p', '[scenario:escapees]'],
    cwd,
    env: { ...env, ORCHESTRATE_EXIT_FILE: path.join(cwd, 'exit.code') },
    stdoutPath: path.join(cwd, 'stdout.log'),
    stderrPath: path.join(cwd, 'stderr.log'),
  });
  const file = path.join(cwd, '.fake-claude-escaped');
  const daemons = await waitFor('both daemons ready', () => {
    const pids = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
    return pids.length === 2 ? pids : null;
  });
  return { leader: child.pid, daemons, exited: child.exited };
}

test('the marker sweep (no cgroup) stops a setsid daemon and a double-forked one that ignore SIGTERM', async () => {
  const job = { marker: `contain-test/marker-${process.pid}`, cgroup: null };
  const { leader, daemons, exited } = await startEscapees('marker', { [JOB_MARKER_VAR]: job.marker });
  // Both really left the agent's process group.
  for (const pid of daemons) expect(readProcStat(pid)?.pgrp).not.toBe(leader);
  await stopJob(job, leader, 500);
  await exited;
  for (const pid of daemons) expect(processAlive(pid)).toBe(false);
  expect(processesWithEnv(JOB_MARKER_VAR, job.marker)).toEqual([]);
});

const cgroupTest = containmentSupport().cgroupParent ? test : test.skip;
cgroupTest('the job cgroup stops processes that dropped the marker (env -i), and is removed after', async () => {
  const job = jobContainment('contain-test', `cgroup-${process.pid}`);
  const env = await containmentEnv(job);
  expect(env[JOB_CGROUP_VAR]).toBe(job.cgroup);
  // The agent runs under `env -i`: none of its processes carries the marker, only the wrapper does.
  const { leader, daemons, exited } = await startEscapees('cgroup', env, ['env', '-i', 'PATH=/usr/bin:/bin']);
  for (const pid of daemons) {
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).not.toContain(JOB_MARKER_VAR);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(path.basename(job.cgroup!));
  }
  await stopJob(job, leader, 0);
  await exited;
  for (const pid of daemons) expect(processAlive(pid)).toBe(false);
  expect(existsSync(job.cgroup!)).toBe(false);
});
