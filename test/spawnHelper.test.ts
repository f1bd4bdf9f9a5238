// The spawn helper with real processes: agents it starts lead their own process group and are not the worker's
// children; it goes with the worker without taking agents along; a helper that dies or hangs never holds a launch
// up (the launch falls back to a direct spawn), and the next launch starts a new one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgentProcess, type AgentProcessSpec } from '../src/runner/process';
import { readProcStat } from '../src/runner/processGroup';
import { SPAWN_HELPER_VAR, spawnHelperPid } from '../src/runner/spawnHelper';
import { waitFor } from './helpers/env';
import { processAlive } from './helpers/process';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orch-spawn-helper-'));
});
afterAll(() => {
  const pid = spawnHelperPid();
  if (pid) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function spec(name: string, script: string, env: Record<string, string> = {}): AgentProcessSpec {
  return {
    command: '/bin/sh',
    args: ['-c', script],
    cwd: dir,
    env,
    stdoutPath: path.join(dir, `${name}.out`),
    stderrPath: path.join(dir, `${name}.err`),
  };
}

test('an agent started through the helper leads its own group, gets its environment, and its exit is reported', async () => {
  const agent = await startAgentProcess(spec('plain', 'echo "$GREETING"; exit 3', { GREETING: 'hello' }));
  const stat = readProcStat(agent.pid);
  const helper = spawnHelperPid();
  expect(helper).not.toBeNull();
  if (stat) {
    expect(stat.pgrp).toBe(agent.pid);
    expect(stat.ppid).toBe(helper);
  }
  expect(await agent.exited).toEqual({ exitCode: 3, signal: null });
  expect(readFileSync(path.join(dir, 'plain.out'), 'utf8')).toBe('hello\n');
});

test('the helper dies while an agent runs: the agent carries on, its end is still seen, the next launch gets a new helper', async () => {
  const running = await startAgentProcess(spec('long', 'sleep 1; echo finished'));
  const first = spawnHelperPid()!;
  process.kill(first, 'SIGKILL');
  await waitFor('the helper to be gone', () => !processAlive(first));
  expect(processAlive(running.pid)).toBe(true);
  await running.exited;
  expect(readFileSync(path.join(dir, 'long.out'), 'utf8')).toBe('finished\n');
  const next = await startAgentProcess(spec('next', 'exit 0'));
  expect(await next.exited).toEqual({ exitCode: 0, signal: null });
  expect(spawnHelperPid()).not.toBe(first);
});

test('a hung helper: the launch falls back to a direct spawn after saying why, and the helper is replaced', async () => {
  await (
    await startAgentProcess(spec('warm', 'exit 0'))
  ).exited;
  const hung = spawnHelperPid()!;
  process.kill(hung, 'SIGSTOP');
  const why: string[] = [];
  const agent = await startAgentProcess(spec('fallback', 'exit 4'), async (w) => void why.push(w));
  expect(why.join('\n')).toMatch(/spawn helper \(pid \d+\) did not answer/);
  expect(readProcStat(agent.pid)?.ppid ?? process.pid).toBe(process.pid);
  expect(await agent.exited).toEqual({ exitCode: 4, signal: null });
  await waitFor('the hung helper to be killed', () => !processAlive(hung));
  const next = await startAgentProcess(spec('after', 'exit 0'));
  expect(await next.exited).toEqual({ exitCode: 0, signal: null });
  expect(spawnHelperPid()).not.toBe(hung);
});

test(`${SPAWN_HELPER_VAR}=0: the worker spawns the agent itself`, async () => {
  process.env[SPAWN_HELPER_VAR] = '0';
  try {
    const agent = await startAgentProcess(spec('direct', 'sleep 0.2'));
    expect(readProcStat(agent.pid)?.ppid).toBe(process.pid);
    expect(readProcStat(agent.pid)?.pgrp).toBe(agent.pid);
    await agent.exited;
  } finally {
    delete process.env[SPAWN_HELPER_VAR];
  }
});

test('the helper goes when its worker does, and leaves the agents running', async () => {
  // A worker of its own (this jest process stays), from the TypeScript sources: it starts an agent through the
  // helper and dies by SIGKILL.
  const script = `
    const ts = require('typescript');
    require.extensions['.ts'] = (m, file) =>
      m._compile(ts.transpileModule(require('node:fs').readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText, file);
    const { startAgentProcess } = require(${JSON.stringify(path.resolve(__dirname, '../src/runner/process'))});
    const { spawnHelperPid } = require(${JSON.stringify(path.resolve(__dirname, '../src/runner/spawnHelper'))});
    startAgentProcess(${JSON.stringify(spec('survivor', 'sleep 2; echo survived'))}).then((a) => {
      console.log(JSON.stringify({ agent: a.pid, helper: spawnHelperPid() }));
      process.kill(process.pid, 'SIGKILL');
    });`;
  let printed = '';
  try {
    execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: path.resolve(__dirname, '..') });
  } catch (e) {
    printed = (e as { stdout: string }).stdout;
  }
  const { agent, helper } = JSON.parse(printed.trim()) as { agent: number; helper: number };
  await waitFor('the helper to go with its worker', () => !processAlive(helper));
  expect(processAlive(agent)).toBe(true);
  await waitFor('the agent to finish on its own', () => !processAlive(agent));
  expect(readFileSync(path.join(dir, 'survivor.out'), 'utf8')).toBe('survived\n');
});
