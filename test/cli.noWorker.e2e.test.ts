// With the server up and no worker, the CLI says so within seconds and keeps waiting: the job is durable and
// runs (or is cancelled) once a worker polls its queue. The built dist/cli.js in a subprocess, no TTY.
import { NativeConnection, type Worker } from '@temporalio/worker';
import { makeEnv, waitFor, type TestEnv } from './helpers/env';
import { requireBuiltCli, runCli, spawnCli } from './helpers/cli';
import { createWorker } from '../src/worker';

let env: TestEnv;

beforeAll(async () => {
  requireBuiltCli();
  env = await makeEnv({ projects: { lonely: 'prompt = "say hi"', stuck: '' }, startWorker: false });
});
afterAll(async () => env?.stop());

function cli(args: string[]) {
  return runCli(env.cliEnv, args);
}

const background = (args: string[]) => spawnCli(env.cliEnv, args);

/** A worker for the test's queue, started only when the test says so. */
async function startWorker(): Promise<{ stop: () => Promise<void>; worker: Worker }> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const { worker } = await createWorker({
    config: env.config,
    connection,
    namespace: 'default',
    workflowBundlePath: process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE,
  });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

const notice = () =>
  `no worker is polling task queue ${env.taskQueue} — start \`orchestrate up\` or \`orchestrate worker\``;

test('run, status and cancel --wait say that no worker polls the queue, and the waits end once one does', async () => {
  const run = background(['run', '-p', 'lonely']);
  await waitFor('run to say no worker polls the queue', () => run.out.stderr.includes(notice()), 60_000);

  const text = await cli(['status']);
  expect(text.stdout).toContain(notice());
  const json = JSON.parse((await cli(['status', '--json'])).stdout) as { sharedQueueWorkers: number };
  expect(json.sharedQueueWorkers).toBe(0);

  // A second job, left to wait with --no-wait, then cancelled with --wait: the cancel waits for a worker too.
  expect((await cli(['run', '-p', 'stuck', '--no-wait'])).exitCode).toBe(0);
  const cancel = background(['cancel', 'stuck', '--wait']);
  await waitFor('cancel --wait to say no worker polls the queue', () => cancel.out.stderr.includes(notice()), 60_000);

  const worker = await startWorker();
  try {
    const ran = await run.child;
    expect(ran.exitCode).toBe(0);
    expect(ran.stdout).toMatch(/^lonely · succeeded/);
    const cancelled = await cancel.child;
    expect(cancelled.exitCode).toBe(0);
    expect(cancel.out.stdout).toContain('cancelled: job/stuck');
    const after = JSON.parse((await cli(['status', '--json'])).stdout) as { sharedQueueWorkers: number };
    expect(after.sharedQueueWorkers).toBeGreaterThan(0);
    expect((await cli(['status'])).stdout).not.toContain('no worker is polling');
  } finally {
    await worker.stop();
  }
});
