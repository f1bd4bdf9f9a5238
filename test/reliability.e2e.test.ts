// Faults: the worker dies or is deployed mid-job, odd prompts and paths, secrets, broken state folders.
// Workers here are real `orchestrate worker` processes, so they can be SIGKILLed and SIGTERMed.
import execa from 'execa';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult, startJob } from '../src/temporal/client';
import { loadConfig } from '../src/config';
import { makeEnv, processesIn, makeRepo, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
let env: TestEnv;
let stamps: string;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  // No in-process worker: the tests start and kill worker processes themselves.
  env = await makeEnv({
    projects: {
      rel1: 'prompt = "[scenario:slow:15]"',
      rel2: 'prompt = "[scenario:slow:6]"',
      relenv: 'prompt = "[envdump]"\n[projects.relenv.agent]\nenv_allow = ["PATH", "HOME"]\nenv = { GIVEN = "1" }',
    },
    startWorker: false,
  });
  stamps = path.join(env.dir, 'stamps.jsonl');
  const text = readFileSync(env.configPath, 'utf8').replace(
    '[agent]\n',
    `[agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps}", ORCH_SECRET_TOKEN = "tok-9f8e7d-never-logged" }\n`,
  );
  await env.writeConfig(text);
  env.config = await loadConfig(env.configPath);
});
afterAll(async () => {
  // The process table, scanned: no agent (or grandchild) of this suite may outlive it.
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  expect(left).toEqual([]);
});

function startWorkerProcess() {
  const child = execa('node', [CLI, 'worker'], {
    env: { ...env.cliEnv, WORKER_ONLY_VAR: 'from-the-worker' },
    reject: false,
    stdin: 'ignore',
    all: true,
  });
  return child;
}

function agentStarts(project: string): number {
  if (!existsSync(stamps)) return 0;
  return readFileSync(stamps, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; cwd: string })
    .filter((e) => e.event === 'start' && e.cwd === env.projectPath(project)).length;
}

function agentRunning(project: string, prompt: string): boolean {
  const r = execa.sync('ps', ['-eo', 'args'], { reject: false });
  return (
    r.stdout.split('\n').some((l) => l.includes('fake-claude.js') && l.includes(prompt) && !l.startsWith('sh ')) &&
    agentStarts(project) > 0
  );
}

test('worker SIGKILL mid-job: a new worker adopts the running agent; exactly one agent ever ran', async () => {
  const w1 = startWorkerProcess();
  const { handle } = await startJob(env.client, env.config, { project: 'rel1', kind: 'run' });
  await waitFor('agent started', () => agentStarts('rel1') === 1);
  w1.kill('SIGKILL');
  await w1;
  // The agent outlives its worker.
  expect(agentRunning('rel1', '[scenario:slow:15]')).toBe(true);
  const w2 = startWorkerProcess();
  try {
    const r = await jobResult(handle, 'rel1');
    expect(r.outcome).toBe('succeeded');
    expect(r.result).toBe('Done: [scenario:slow:15]');
    expect(agentStarts('rel1')).toBe(1);
    const runFolder = path.dirname(r.logPath);
    // Launched by attempt 1, adopted by a later attempt that launched nothing.
    expect(path.basename(r.logPath)).toBe('attempt-1');
    expect(readdirSync(runFolder).filter((d) => existsSync(path.join(runFolder, d, 'launch.json')))).toEqual([
      'attempt-1',
    ]);
  } finally {
    w2.kill('SIGTERM');
    await w2;
  }
});

test('worker SIGTERM mid-job (a deploy): the agent keeps running and the next worker adopts it', async () => {
  const w1 = startWorkerProcess();
  const { handle } = await startJob(env.client, env.config, { project: 'rel2', kind: 'run' });
  await waitFor('agent started', () => agentStarts('rel2') === 1);
  w1.kill('SIGTERM');
  const exited = await w1;
  expect(exited.all).toContain('worker stopped');
  expect(agentRunning('rel2', '[scenario:slow:6]')).toBe(true);
  const w2 = startWorkerProcess();
  try {
    const r = await jobResult(handle, 'rel2');
    expect(r.outcome).toBe('succeeded');
    expect(agentStarts('rel2')).toBe(1);
  } finally {
    w2.kill('SIGTERM');
    await w2;
  }
});

describe('bad input', () => {
  let w: ReturnType<typeof startWorkerProcess>;
  beforeAll(() => {
    w = startWorkerProcess();
  });
  afterAll(async () => {
    w.kill('SIGTERM');
    await w;
  });

  test('a prompt with quotes, $(), backticks, newlines and 100 KB reaches the agent byte for byte', async () => {
    const prompt = `[marker] it's "quoted" $(touch /tmp/pwned-orch) \`id\` ; rm -rf / #\nline two\n\ttabbed ${'x'.repeat(100 * 1024)}`;
    const { handle } = await startJob(env.client, env.config, { project: 'rel1', kind: 'run', prompt });
    const r = await jobResult(handle, 'rel1');
    expect(r.outcome).toBe('succeeded');
    const marker = JSON.parse(readFileSync(path.join(env.projectPath('rel1'), '.fake-claude-marker'), 'utf8'));
    expect(marker.prompt).toBe(prompt);
    expect(existsSync('/tmp/pwned-orch')).toBe(false);
  });

  test('project paths with spaces and non-ASCII characters', async () => {
    const odd = path.join(env.dir, 'projects', 'my proj — ünïcødé');
    makeRepo(odd);
    const text = readFileSync(env.configPath, 'utf8') + `\n[projects.odd]\npath = "${odd}"\nprompt = "[marker] hi"\n`;
    await env.writeConfig(text);
    const config = await loadConfig(env.configPath);
    const r = await jobResult((await startJob(env.client, config, { project: 'odd', kind: 'run' })).handle, 'odd');
    expect(r.outcome).toBe('succeeded');
    expect(JSON.parse(readFileSync(path.join(odd, '.fake-claude-marker'), 'utf8')).cwd).toBe(odd);
  });

  test('no environment value in workflow history or in the files the orchestrator writes', async () => {
    const r = await jobResult(
      (await startJob(env.client, env.config, { project: 'rel1', kind: 'run', prompt: 'hello' })).handle,
      'rel1',
    );
    const history = JSON.stringify(await env.client.workflow.getHandle(r.workflowId).fetchHistory());
    expect(history).not.toContain('tok-9f8e7d-never-logged');
    // The orchestrator's own files (not the agent's stdout/stderr, which are the agent's business).
    const ours: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, name.name);
        if (name.isDirectory()) walk(p);
        else if (!['stdout.log', 'stderr.log'].includes(name.name)) ours.push(p);
      }
    };
    walk(env.stateDir);
    expect(ours.length).toBeGreaterThan(3);
    for (const f of ours) expect(readFileSync(f, 'utf8')).not.toContain('tok-9f8e7d-never-logged');
  });

  test('env_allow: the agent gets only the allowed worker variables plus its configured env', async () => {
    const r = await jobResult(
      (await startJob(env.client, env.config, { project: 'relenv', kind: 'run' })).handle,
      'relenv',
    );
    expect(r.outcome).toBe('succeeded');
    const names = JSON.parse(
      readFileSync(path.join(env.projectPath('relenv'), '.fake-claude-env'), 'utf8'),
    ) as string[];
    expect(names).toEqual(expect.arrayContaining(['PATH', 'HOME', 'GIVEN', 'ORCHESTRATE_PROJECT']));
    expect(names).not.toContain('WORKER_ONLY_VAR');
    // Without env_allow the worker's environment is inherited.
    const r2 = await jobResult(
      (await startJob(env.client, env.config, { project: 'rel2', kind: 'run', prompt: '[envdump]' })).handle,
      'rel2',
    );
    expect(r2.outcome).toBe('succeeded');
    expect(JSON.parse(readFileSync(path.join(env.projectPath('rel2'), '.fake-claude-env'), 'utf8'))).toContain(
      'WORKER_ONLY_VAR',
    );
  });

  test('state folder deleted between runs: recreated', async () => {
    rmSync(env.stateDir, { recursive: true, force: true });
    const r = await jobResult(
      (await startJob(env.client, env.config, { project: 'rel1', kind: 'run', prompt: 'again' })).handle,
      'rel1',
    );
    expect(r.outcome).toBe('succeeded');
    expect(existsSync(r.logPath)).toBe(true);
  });

  test('state folder unusable: a clear setup error, not a crash loop', async () => {
    const blocker = path.join(env.dir, 'not-a-dir');
    writeFileSync(blocker, 'a file where a folder should be');
    const text = readFileSync(env.configPath, 'utf8').replace(
      /state_dir = ".*"/,
      `state_dir = "${path.join(blocker, 'state')}"`,
    );
    const bad = path.join(env.dir, 'bad-state.toml');
    writeFileSync(bad, text);
    // The worker reads its own config file: point this worker at the broken one.
    const w2 = execa('node', [CLI, 'worker'], {
      env: { ...env.cliEnv, ORCHESTRATE_CONFIG: bad },
      reject: false,
      stdin: 'ignore',
    });
    try {
      // Stop the good worker so the job lands on the broken one.
      w.kill('SIGTERM');
      await w;
      const r = await jobResult(
        (await startJob(env.client, env.config, { project: 'rel1', kind: 'run' })).handle,
        'rel1',
      );
      expect(r.outcome).toBe('setup_error');
      expect(r.message).toMatch(
        /rel1: cannot create the run folder .*ENOTDIR.* make orchestrator.state_dir .* writable/,
      );
    } finally {
      w2.kill('SIGTERM');
      await w2;
      w = startWorkerProcess();
    }
  });
});
