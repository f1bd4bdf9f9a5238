// An expected job failure is one line in the worker's log and carries no stack trace into the history; a real
// internal error keeps its block. The worker is the built CLI's (`orchestrate worker`) in a subprocess.
import execa from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/worker';
import { makeEnv, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';
import { jobResult, startJob } from '../src/temporal/client';
import { WorkerLog } from '../src/workerLog';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
let env: TestEnv;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  env = await makeEnv({ projects: { noisy: '', gone: '' }, missing: ['gone'], startWorker: false });
});
afterAll(async () => env?.stop());

/** Every failure's stack trace in a workflow's history (workflow and activity failures, with their causes). */
async function stackTraces(workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const traces: string[] = [];
  type Failure = { stackTrace?: string | null; cause?: Failure | null } | null | undefined;
  const walk = (f: Failure) => {
    for (; f; f = f.cause) traces.push(f.stackTrace ?? '');
  };
  for (const e of history.events ?? []) {
    walk(e.workflowExecutionFailedEventAttributes?.failure);
    walk(e.activityTaskFailedEventAttributes?.failure);
  }
  return traces;
}

test('max turns and a missing project folder: one line each in the worker log, no stack trace in history', async () => {
  const worker = execa('node', [CLI, 'worker'], { env: env.cliEnv, reject: false, stdin: 'ignore' });
  let stderr = '';
  worker.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor('the worker to start', () => stderr.includes('worker polling'), 60_000);
    const maxTurns = await startJob(env.client, env.config, {
      project: 'noisy',
      kind: 'run',
      prompt: '[scenario:error_max_turns]',
    });
    const turns = await jobResult(maxTurns.handle, 'noisy');
    expect(turns.outcome).toBe('agent_error');
    const setup = await jobResult(
      (await startJob(env.client, env.config, { project: 'gone', kind: 'run' })).handle,
      'gone',
    );
    expect(setup.outcome).toBe('setup_error');

    await waitFor(
      'both failure lines',
      () => stderr.includes('job/noisy failed') && stderr.includes('job/gone failed'),
    );
    const lines = stderr.split('\n');
    const noisy = lines.filter((l) => l.includes('job/noisy'));
    expect(noisy).toHaveLength(1);
    expect(noisy[0]).toContain(`job/noisy failed · agent_error · ${turns.message} · log folder ${turns.logPath}`);
    const gone = lines.filter((l) => l.includes('job/gone'));
    expect(gone).toHaveLength(1);
    expect(gone[0]).toContain(`job/gone failed · setup_error · ${setup.message}`);
    expect(stderr).not.toContain('Workflow failed');
    expect(stderr).not.toContain('Activity failed');
    expect(stderr).not.toMatch(/\n\s+at /);

    for (const id of ['job/noisy', 'job/gone']) {
      const traces = await stackTraces(id);
      expect(traces.length).toBeGreaterThan(0);
      expect(traces).toEqual(traces.map(() => ''));
    }
  } finally {
    worker.kill('SIGINT');
    await worker;
  }
});

test('a real internal error keeps its stack in the worker log', () => {
  const logged: Array<{ level: LogLevel; message: string; meta?: LogMetadata }> = [];
  const inner = {
    log: (level: LogLevel, message: string, meta?: LogMetadata) => logged.push({ level, message, meta }),
  };
  const log = new WorkerLog('WARN', inner as unknown as Logger);
  const bug = new TypeError("Cannot read properties of undefined (reading 'path')");
  log.warn('Workflow failed', { error: bug, workflowId: 'job/x' });
  expect(logged).toEqual([{ level: 'WARN', message: 'Workflow failed', meta: { error: bug, workflowId: 'job/x' } }]);
  const expected = Object.assign(new Error('x: agent stopped'), { stack: '' });
  log.warn('Workflow failed', { error: expected, workflowId: 'job/x' });
  expect(logged[1]).toEqual({ level: 'WARN', message: 'job/x failed · x: agent stopped' });
});
