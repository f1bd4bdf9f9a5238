// The worker: polls the orchestrator's task queue, runs workflows (sandboxed) and activities (agent
// processes). Started by `orchestrate worker` / `orchestrate up`, or directly with `node dist/worker.js`.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { loadConfig, type Config } from './config';
import { temporalTarget } from './connection';

export interface CreateWorkerOptions {
  config: Config;
  /** Existing connection (tests); otherwise one is made from envconfig / [server]. */
  connection?: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Prebuilt workflow bundle (tests build it once); otherwise workflows are bundled from source. */
  workflowBundlePath?: string;
  identity?: string;
}

export async function createWorker(
  opts: CreateWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection; ownsConnection: boolean }> {
  const { config } = opts;
  const target = temporalTarget(config);
  const connection = opts.connection ?? (await NativeConnection.connect(target.connectionOptions));
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundlePath
    ? { workflowBundle: { codePath: opts.workflowBundlePath } }
    : { workflowsPath: require.resolve('./workflows') };
  const concurrency = config.orchestrator.concurrency;
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? target.namespace,
    taskQueue: opts.taskQueue ?? config.orchestrator.taskQueue,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...workflowSource,
    activities: createActivities({ configPath: config.configPath, maxAgents: concurrency }),
    // Agent activities beyond `concurrency` wait for a slot inside the activity (heartbeating), so the
    // poller can keep short activities (gates, config, checks) flowing alongside them.
    maxConcurrentActivityTaskExecutions: concurrency + 16,
    // Cancellation reaches an activity only with a heartbeat response: flush heartbeats every second so a
    // cancel from the CLI or Web UI stops the agent within ~2 s.
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
    // On SIGINT/SIGTERM: stop polling, give running activities this long, then cancel them. With
    // on_shutdown = "detach" (the default) a cancelled agent job leaves its agent running for the next
    // worker to adopt, so there is no reason to hold a deploy up.
    shutdownGraceTime: config.orchestrator.onShutdown === 'detach' ? '2 seconds' : '10 seconds',
  });
  return { worker, connection, ownsConnection: !opts.connection };
}

/** Runs a worker until SIGINT/SIGTERM (the SDK installs the signal handlers and shuts down gracefully). */
export async function runWorker(
  config: Config,
  log: (msg: string) => void = (m) => process.stderr.write(m + '\n'),
): Promise<void> {
  const { worker, connection } = await createWorker({ config });
  const target = temporalTarget(config);
  log(
    `worker polling task queue "${config.orchestrator.taskQueue}" on ${target.connectionOptions.address} (namespace ${target.namespace}), up to ${config.orchestrator.concurrency} agents at once`,
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
  log('worker stopped');
}

if (require.main === module) {
  loadConfig(process.argv[2])
    .then((config) => runWorker(config))
    .catch((err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    });
}
