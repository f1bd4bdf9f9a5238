// The same project triggered three ways at the same moment: `orchestrate run` (the CLI), a cycle started by the
// CLI and the cycle schedule's trigger. However they interleave, exactly one agent runs in the repo: the job's
// fixed workflow ID refuses a second job, a cycle skips a project whose job runs, and a second cycle stands down.
import execa from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBatch } from '../src/temporal/client';
import { loadConfig } from '../src/config';
import { applySchedules } from '../src/temporal/schedules';
import { type BatchResult } from '../src/temporal/types';
import { jobWorkflowId, scheduleIds } from '../src/temporal/ids';
import { agentStartsIn, makeEnv, processesIn, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
let env: TestEnv;
let stamps: string;

beforeAll(async () => {
  env = await makeEnv({ projects: { twice: 'prompt = "[scenario:slow:3] the one job"' } });
  stamps = path.join(env.dir, 'stamps.jsonl');
  const text = readFileSync(env.configPath, 'utf8')
    .replace('eod = ""\nrollover = ""', 'eod = ""\nrollover = ""\ncycle_every = "1h"')
    .replace('[agent]\n', `[agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps}" }\n`);
  await env.writeConfig(text);
  env.config = await loadConfig(env.configPath);
});

afterAll(async () => {
  await env.client.schedule
    .getHandle(scheduleIds(env.taskQueue).cycle)
    .delete()
    .catch(() => undefined);
  await env?.stop();
});

const agentStarts = () => agentStartsIn(stamps);

async function workflowsOfThisQueue(): Promise<
  Array<{ workflowId: string; runId: string; type: string; status: string }>
> {
  const out = [];
  for await (const w of env.client.workflow.list({ query: `TaskQueue = '${env.taskQueue}'` }))
    out.push({ workflowId: w.workflowId, runId: w.runId, type: w.type, status: w.status.name });
  return out;
}

test('CLI run, a CLI cycle and the cycle schedule at once: one agent, and every trigger says what it did', async () => {
  expect((await applySchedules(env.client, env.config)).created).toEqual([scheduleIds(env.taskQueue).cycle]);

  const [run, cycle] = await Promise.all([
    execa('node', [CLI, 'run', '-p', 'twice', '--no-wait'], { env: env.cliEnv, reject: false, stdin: 'ignore' }),
    startBatch(env.client, env.config, 'cycle', { projects: ['twice'] }),
    env.client.schedule.getHandle(scheduleIds(env.taskQueue).cycle).trigger(),
  ]);
  // The CLI started the job, or found it running (exit 3, "already running").
  expect([0, 3]).toContain(run.exitCode);
  if (run.exitCode === 3) expect(run.stderr).toContain(`already running: ${jobWorkflowId('twice')}`);

  // Wait until the scheduled cycle exists and everything on this queue has closed.
  const all = await waitFor(
    'every workflow of the three triggers to close',
    async () => {
      const ws = await workflowsOfThisQueue();
      const scheduled = ws.some((w) => w.type === 'cycle' && w.workflowId !== cycle.workflowId);
      return scheduled && ws.every((w) => w.status !== 'RUNNING') ? ws : null;
    },
    60_000,
  );
  const cycles = all.filter((w) => w.type === 'cycle');
  expect(cycles).toHaveLength(2);
  const results = await Promise.all(
    cycles.map((c) => env.client.workflow.getHandle(c.workflowId, c.runId).result() as Promise<BatchResult>),
  );
  // Each cycle either stood down (another cycle of this queue ran), skipped the busy project, or ran its job.
  const ran: string[] = [];
  for (const r of results) {
    if (r.refused) {
      expect(r.refused).toMatch(/^another cycle is already running/);
      continue;
    }
    const row = r.rows.find((x) => x.project === 'twice')!;
    if (row.status === 'skipped') expect(row.reason).toMatch(/already running/);
    else {
      expect(row.status).toBe('succeeded');
      ran.push(row.workflowId!);
    }
  }
  expect(results.filter((r) => r.refused).length).toBeLessThanOrEqual(1);
  // The job ran once, started by whichever trigger came first; one agent start in total, none left behind.
  const jobs = all.filter((w) => w.type === 'agentJob');
  expect(jobs.map((j) => [j.workflowId, j.status])).toEqual([[jobWorkflowId('twice'), 'COMPLETED']]);
  expect(ran.length + (run.exitCode === 0 ? 1 : 0)).toBe(1);
  expect(agentStarts()).toBe(1);
  expect(processesIn(env.projectPath('twice'))).toEqual([]);
});
