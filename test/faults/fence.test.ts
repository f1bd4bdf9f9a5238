// Faults around who owns a running agent: a worker frozen past its heartbeat timeout, a config file broken
// while a job's owner is down, a job terminated while no worker runs. Workers are real `orchestrate worker`
// processes in their own process groups, frozen, killed and continued by real signals.
import execa from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { AlreadyRunningError, jobResult, startJob } from '../../src/temporal/client';
import { loadConfig } from '../../src/config';
import { readLedger } from '../../src/lib/ledger';
import { agentStartsIn, makeEnv, processesIn, REPO_ROOT, waitFor, type TestEnv } from '../helpers/env';
import { processAlive } from '../helpers/process';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const TEMPORAL = path.join(REPO_ROOT, '.tools', 'bin', 'temporal');
let env: TestEnv;
let goodConfig: string;
const stamps = (project: string) => path.join(env.dir, `${project}.stamps.jsonl`);

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  env = await makeEnv({
    projects: {
      frozen: 'prompt = "[scenario:slow:90]"',
      badcfg: 'prompt = "[scenario:slow:25]"',
      orphan: 'prompt = "[scenario:slow:90]"',
    },
    startWorker: false,
  });
  // Each project's agent stamps its own file, so "exactly one agent ran" is counted per job.
  let text = readFileSync(env.configPath, 'utf8');
  for (const p of ['frozen', 'badcfg', 'orphan'])
    text += `\n[projects.${p}.agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps(p)}" }\ntimeout = "5m"\n`;
  await env.writeConfig(text);
  goodConfig = text;
  env.config = await loadConfig(env.configPath);
});
afterAll(async () => {
  // The process table, scanned: no agent (or grandchild) of this suite may outlive it.
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  expect(left).toEqual([]);
});

interface WorkerProcess {
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * A real worker process, leader of its own process group, its log (INFO) collected. `--force`: these tests run
 * two workers on one queue and state folder on purpose (a frozen one and its successor).
 */
async function startWorker(): Promise<WorkerProcess> {
  const child = execa('node', [CLI, 'worker', '--force'], {
    env: { ...env.cliEnv, ORCHESTRATE_LOG_LEVEL: 'INFO' },
    reject: false,
    stdin: 'ignore',
    all: true,
    detached: true,
  });
  let out = '';
  child.all?.on('data', (d: Buffer) => (out += d.toString()));
  const pid = child.pid ?? -1;
  await waitFor('the worker polling', () => out.includes('worker polling task queue'), 60_000);
  return {
    pid,
    output: () => out,
    stop: async () => {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await child;
    },
  };
}

/** The job's run folder (<state>/runs/<project>/<runKey>) once its agent has been launched. */
function launchedRun(project: string): { baseDir: string; pid: number } | null {
  const runs = path.join(env.stateDir, 'runs', project);
  if (!existsSync(runs)) return null;
  for (const key of readdirSync(runs)) {
    const launch = path.join(runs, key, 'attempt-1', 'launch.json');
    if (existsSync(launch)) return { baseDir: path.join(runs, key), pid: JSON.parse(readFileSync(launch, 'utf8')).pid };
  }
  return null;
}

/** The running agent activity's attempt, as the server sees it. */
async function pendingAttempt(workflowId: string): Promise<number> {
  const desc = await env.client.workflow.getHandle(workflowId).describe();
  return desc.raw.pendingActivities?.[0]?.attempt ?? 0;
}

test('a worker frozen past heartbeat_timeout: another adopts; the thawed one walks away; one agent, no false cancel', async () => {
  const owner = await startWorker();
  let other: WorkerProcess | undefined;
  try {
    const { handle } = await startJob(env.client, env.config, { project: 'frozen', kind: 'run' });
    await waitFor('agent started', () => agentStartsIn(stamps('frozen')) === 1, 60_000);
    other = await startWorker();
    process.kill(owner.pid, 'SIGSTOP');
    // Past the heartbeat timeout the server retries the activity; the attempt that reaches the live worker
    // adopts the agent (the first retries may land on the frozen worker's open polls and time out too).
    await waitFor(
      'the other worker adopting the agent',
      async () => {
        const status = (await handle.describe()).status.name;
        if (status !== 'RUNNING')
          throw new Error(
            `job ${status} before adoption:\n${owner.output().slice(-3000)}\n${other?.output().slice(-3000)}`,
          );
        return other?.output().includes('adopting agent');
      },
      240_000,
    );
    process.kill(owner.pid, 'SIGCONT');
    // The thawed attempt learns from the server that it is no longer current, and leaves the agent alone.
    await waitFor('the thawed attempt walking away', () => owner.output().includes('is no longer current'), 60_000);
    const r = await jobResult(handle, 'frozen');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: [scenario:slow:90]');
    expect(agentStartsIn(stamps('frozen'))).toBe(1);
    const run = launchedRun('frozen');
    expect(run).not.toBeNull();
    const reported = JSON.parse(readFileSync(path.join(run!.baseDir, 'attempt-1', 'reported.json'), 'utf8'));
    expect(reported).toMatchObject({ outcome: 'succeeded', final: true });
    const ledger = await readLedger(env.stateDir, 'frozen');
    expect(ledger.map((e) => e.outcome)).toEqual(['succeeded']);
    expect(owner.output()).not.toMatch(/job cancelled|stopping agent process group/);
  } finally {
    await owner.stop();
    await other?.stop();
  }
  expect(processesIn(env.projectPath('frozen'))).toEqual([]);
}, 400_000);

test('a broken config while the owner is down: the surviving worker adopts and finishes; a second run is refused', async () => {
  const owner = await startWorker();
  let other: WorkerProcess | undefined;
  try {
    const { handle } = await startJob(env.client, env.config, { project: 'badcfg', kind: 'run' });
    await waitFor('agent started', () => agentStartsIn(stamps('badcfg')) === 1, 60_000);
    other = await startWorker();
    process.kill(owner.pid, 'SIGKILL');
    await env.writeConfig(goodConfig + '\n[[[ this is not TOML\n');
    await waitFor(
      'the surviving worker adopting the agent',
      async () => {
        return (await pendingAttempt(handle.workflowId)) >= 2 && other?.output().includes('adopting agent');
      },
      120_000,
    );
    // The job still runs (its agent adopted), so the project takes no second job.
    await expect(startJob(env.client, env.config, { project: 'badcfg', kind: 'run' })).rejects.toBeInstanceOf(
      AlreadyRunningError,
    );
    const r = await jobResult(handle, 'badcfg');
    expect(r.outcome).toBe('succeeded');
    expect(agentStartsIn(stamps('badcfg'))).toBe(1);
    expect((await readLedger(env.stateDir, 'badcfg')).map((e) => e.outcome)).toEqual(['succeeded']);
  } finally {
    await env.writeConfig(goodConfig);
    await owner.stop();
    await other?.stop();
  }
  expect(processesIn(env.projectPath('badcfg'))).toEqual([]);
}, 300_000);

test('a job terminated while no worker runs: the next worker stops its agent, records it, and logs it', async () => {
  const owner = await startWorker();
  let next: WorkerProcess | undefined;
  try {
    const { handle } = await startJob(env.client, env.config, { project: 'orphan', kind: 'run' });
    await waitFor('agent started', () => agentStartsIn(stamps('orphan')) === 1, 60_000);
    const run = await waitFor('the launch recorded', () => launchedRun('orphan'));
    await owner.stop();
    await execa(TEMPORAL, [
      'workflow',
      'terminate',
      '--workflow-id',
      handle.workflowId,
      '--reason',
      'fault test: terminated while no worker runs',
      '--address',
      process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
      '--namespace',
      'default',
    ]);
    // Nobody watches the agent now: it keeps running until a worker comes back.
    expect(processAlive(run.pid)).toBe(true);
    next = await startWorker();
    await waitFor('the orphan sweep stopping the agent', () => !processAlive(run.pid), 60_000);
    await waitFor('the sweep in the worker log', () => next?.output().includes('orphan sweep'), 30_000);
    expect(next.output()).toMatch(/orphan sweep: orphan: job .* was terminated while its agent \(pid \d+\)/);
    expect(processesIn(env.projectPath('orphan'))).toEqual([]);
    const ledger = await readLedger(env.stateDir, 'orphan');
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ outcome: 'cancelled', workflowId: handle.workflowId });
    expect(ledger[0].message).toMatch(/was terminated .* orphan sweep stopped/);
    const reported = JSON.parse(readFileSync(path.join(run.baseDir, 'attempt-1', 'reported.json'), 'utf8'));
    expect(reported).toMatchObject({ outcome: 'cancelled', final: true });
  } finally {
    await owner.stop();
    await next?.stop();
  }
}, 300_000);
