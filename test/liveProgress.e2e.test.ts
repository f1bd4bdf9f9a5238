// Live progress and stalls, as a user sees them: the fake agent streams stream-json over time; `status --json`
// shows its turn, tool and cost so far while it runs, and so do the job's current details in the Web UI; a
// silent agent is stopped at stall_timeout with the reason, run once more like a crash, and ends `stalled` in
// the result, the ledger and the notification; `logs` renders the conversation. The built dist/cli.js in a
// subprocess, against the shared dev server.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROGRESS_DETAILS_EVERY_MS } from '../src/activities/attemptContext';
import { jobWorkflowId } from '../src/temporal/ids';
import { makeEnv, processesIn, waitFor, waitForDetails, type TestEnv } from './helpers/env';
import { requireBuiltCli, runCli } from './helpers/cli';

const STREAM_ARGS = '["-p", "{prompt}", "--output-format", "stream-json", "--verbose"]';
let env: TestEnv;

beforeAll(async () => {
  requireBuiltCli();
  env = await makeEnv({
    projects: {
      // No stall_timeout: the silent tool call waits until the test releases it.
      lpprog: '[projects.lpprog.agent]\nstall_timeout = ""',
      lpstall: '[projects.lpstall.agent]\nstall_timeout = "3s"',
    },
    agentArgs: STREAM_ARGS,
    extra: `[notify]\ncommand = "cat >> notify.jsonl"\n`,
  });
});
afterAll(async () => env?.stop());

function cli(args: string[]) {
  return runCli(env.cliEnv, args);
}

interface RunningJson {
  project: string;
  phase: string;
  progress?: { turn?: number; tool?: string; text?: string; costUsd?: number; tokens?: { output: number } };
}

test('status --json shows the running agent: its turn, the tool in use and its cost so far', async () => {
  const started = await cli(['run', '-p', 'lpprog', '--prompt', '[scenario:silence] serve it', '--no-wait']);
  expect(started.exitCode).toBe(0);
  const job = await waitFor(
    'lpprog running Bash: npm run dev',
    async () => {
      const s = JSON.parse((await cli(['status', '--json'])).stdout) as { running: RunningJson[] };
      const j = s.running.find((r) => r.project === 'lpprog');
      return j?.progress?.tool ? j : null;
    },
    90_000,
  );
  expect(job.progress).toMatchObject({ turn: 1, tool: 'Bash: npm run dev', text: 'Starting the dev server.' });
  expect(job.progress?.costUsd).toBeGreaterThan(0);
  expect(job.progress?.tokens?.output).toBe(120);
  const human = await cli(['status']);
  expect(human.stdout).toMatch(
    /lpprog\s+run\s+\S+\s+\d+\s+running agent · turn 1 · Bash: npm run dev · [\d.k]+ tokens · \$0\.\d{4}/,
  );

  // The job's current details in the Web UI say it too, once the agent has run for a while (the activity tells
  // its workflow at most every PROGRESS_DETAILS_EVERY_MS, none sooner: a short job costs no extra workflow task).
  const details = await waitForDetails(
    env.client.workflow.getHandle(jobWorkflowId('lpprog')),
    /Bash: npm run dev/,
    PROGRESS_DETAILS_EVERY_MS + 60_000,
  );
  expect(details).toMatch(
    /^running agent pid \d+ in \S+\n\n\[scenario:silence\] serve it\n\nturn 1 · Bash: npm run dev · /,
  );

  writeFileSync(path.join(env.projectPath('lpprog'), '.fake-claude-release'), '');
  await waitFor(
    'lpprog to finish',
    async () => {
      const s = JSON.parse((await cli(['status', '--json'])).stdout) as {
        projects: Array<{ project: string; last: { outcome: string } | null }>;
      };
      return s.projects.find((p) => p.project === 'lpprog')?.last?.outcome === 'succeeded';
    },
    90_000,
  );

  // logs renders the conversation; --raw keeps the file as written.
  const logs = await cli(['logs', 'lpprog']);
  expect(logs.exitCode).toBe(0);
  expect(logs.stdout).toContain('Starting the dev server.\n▸ Bash: npm run dev\n  │ ready on :3000\n');
  expect(logs.stdout).toMatch(/✓ result · 3 turns · [\d.k]+ tokens · \$0\.0123/);
  expect(logs.stdout).not.toContain('{"type"');
  const raw = await cli(['logs', 'lpprog', '--raw']);
  const dir = (await cli(['logs', 'lpprog', '--path'])).stdout.trim();
  expect(`${raw.stdout}\n`).toBe(readFileSync(path.join(dir, 'stdout.log'), 'utf8'));
});

test('an agent silent for stall_timeout is stopped with the reason, run once more, and ends stalled', async () => {
  const r = await cli(['run', '-p', 'lpstall', '--prompt', '[scenario:silence] hang on', '--json']);
  expect(r.exitCode).toBe(1);
  const result = JSON.parse(r.stdout) as { outcome: string; message: string; logPath: string; costUsd: number };
  expect(result.outcome).toBe('stalled');
  expect(result.costUsd).toBeGreaterThan(0); // what it spent before it went silent, from its stream
  expect(result.message).toContain('stalled: no output for 3s, last event: tool_use Bash: npm run dev');
  expect(result.message).toContain('stall_timeout');
  // Run once more like a crash: two launches, each stopped.
  const runDir = path.dirname(result.logPath);
  expect(readdirSync(runDir).filter((d) => d.startsWith('attempt-'))).toHaveLength(2);
  // Its whole process group is gone.
  expect(processesIn(env.projectPath('lpstall'))).toEqual([]);

  const history = JSON.parse((await cli(['history', '--project', 'lpstall', '--json'])).stdout) as Array<{
    outcome: string;
    message: string;
  }>;
  expect(history[0]).toMatchObject({ outcome: 'stalled', message: expect.stringContaining('stalled: no output') });
  const events = await waitFor('the job_failed notification', () => {
    const file = path.join(env.dir, 'notify.jsonl');
    if (!existsSync(file)) return null;
    const all = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; project?: string; outcome?: string });
    return all.find((e) => e.type === 'job_failed' && e.project === 'lpstall');
  });
  expect(events).toMatchObject({ outcome: 'stalled' });
});
