// Starting the orchestrator twice, and stopping it by its pid: one `up`/worker per queue and state folder unless
// --force, no rebuild of dist/ under a running worker, and `npm start` stops cleanly on a plain `kill`.
import execa from 'execa';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeEnv, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';
import { requireBuiltCli, runCli, spawnCli } from './helpers/cli';
import { freePorts } from './helpers/server';
import { liveProcess, processAlive } from './helpers/process';
import { workersDir } from '../src/cli/workerLock';

let env: TestEnv;

beforeAll(async () => {
  requireBuiltCli();
  env = await makeEnv({ projects: { twice: '' }, startWorker: false });
});
afterAll(async () => env?.stop());

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli({ ...env.cliEnv, ...extraEnv }, args);
}

const background = (args: string[]) => spawnCli(env.cliEnv, args);

test('a second up or worker on the same queue is refused unless --force; the build refuses while one runs', async () => {
  const first = background(['worker']);
  try {
    await waitFor('the worker to start', () => first.out.stderr.includes('worker polling'), 60_000);
    const pid = first.child.pid as number;

    const again = await cli(['worker']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain(
      `orchestrate worker is already running for state folder ${env.stateDir} (pid ${pid}`,
    );
    expect(again.stderr).toContain('pass --force');
    // `up` serves the shared queue too: refused before it starts a server or applies schedules.
    const up = await cli(['up']);
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toContain(`(pid ${pid}`);
    expect(up.stdout).not.toContain('Temporal');
    // Another host's queue is not the same queue.
    const other = background(['worker', '--host', 'elsewhere']);
    await waitFor('the other host worker', () => other.out.stderr.includes('worker polling'), 60_000);
    other.child.kill('SIGINT');
    expect((await other.child).exitCode).toBe(0);

    const forced = background(['worker', '--force']);
    await waitFor('the forced worker', () => forced.out.stderr.includes('worker polling'), 60_000);
    forced.child.kill('SIGINT');
    expect((await forced.child).exitCode).toBe(0);

    // `npm start` sees the running worker of this checkout, leaves dist/ alone, and its `up` is refused.
    const start = await execa('sh', [path.join(REPO_ROOT, 'scripts', 'start.sh')], {
      env: env.cliEnv,
      reject: false,
      stdin: 'ignore',
    });
    // Other test files may run workers of this checkout at the same time: ours is among those named.
    expect(start.stderr).toContain('not rebuilding dist/: a worker of this checkout is running from it (pid ');
    expect(start.stderr).toMatch(new RegExp(`pid ${pid}: node [^;)]*dist/cli\\.js worker`));
    expect(start.stdout).not.toContain('tsc -p');
    expect(start.exitCode).toBe(2);
    expect(start.stderr).toContain(`orchestrate worker is already running for state folder ${env.stateDir}`);
  } finally {
    first.child.kill('SIGINT');
  }
  expect((await first.child).exitCode).toBe(0);
  // Gone with its process: the next start is not refused, and the build may go ahead.
  expect(readdirSync(workersDir(env.stateDir))).toEqual([]);
  // (Workers of other test files may still run from this checkout's dist/: only ours must be gone.)
  const build = await execa('node', [path.join(REPO_ROOT, 'scripts', 'build-guard.js')], { reject: false });
  expect(build.stderr).not.toContain(`pid ${first.child.pid}:`);
});

test('npm start stops cleanly on SIGTERM to its pid: the worker and the dev server it started are gone', async () => {
  const [port, uiPort] = await freePorts(2);
  const dir = path.join(env.dir, 'npmstart');
  mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'workspaces.toml');
  writeFileSync(
    cfg,
    [
      '[orchestrator]',
      `task_queue = "npmstart-${Date.now()}"`,
      `state_dir = "${path.join(dir, 'state')}"`,
      'timezone = "Europe/London"',
      '[server]',
      `port = ${port}`,
      `ui_port = ${uiPort}`,
      '',
    ].join('\n'),
  );
  const bare = Object.fromEntries(Object.entries(env.cliEnv).filter(([k]) => !k.startsWith('TEMPORAL_')));
  // Its own process group, as a supervisor starts it; the signal goes to npm's pid only, not the group.
  const npm = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    // The suite built dist/ already; a rebuild here would pull it from under the other test files running now.
    env: { ...bare, ORCHESTRATE_CONFIG: cfg, ORCHESTRATE_SKIP_BUILD: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  const npmPid = npm.pid as number;
  try {
    await waitFor('npm start to be serving', () => output.includes('worker polling'), 300_000);
  } catch (e) {
    process.kill(-npmPid, 'SIGKILL');
    throw new Error(`${(e as Error).message}\n${output}`);
  }
  const nodePid = Number(/up: pid (\d+)/.exec(output)?.[1]);
  const status = await runCli(bare, ['--config', cfg, 'server', 'status', '--json'], false);
  const serverPid = JSON.parse(status.stdout).pid as number;
  expect(processAlive(nodePid)).toBe(true);
  expect(processAlive(serverPid)).toBe(true);

  process.kill(npmPid, 'SIGTERM');
  const code = await exited;
  await waitFor('up and its dev server to exit', () => !processAlive(nodePid) && !processAlive(serverPid), 60_000);
  expect(output).toContain('worker stopped');
  expect(output).toContain('Temporal dev server stopped');
  expect(code).toBe(0);
  // Nothing of the group is left: no orphaned node, shell or server.
  const leftovers = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => liveProcess(Number(e))?.pgid === npmPid);
  expect(leftovers).toEqual([]);
});
