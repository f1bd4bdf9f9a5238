// The worker: polls the orchestrator's task queue, runs workflows (sandboxed) and activities (agent
// processes). Started by `orchestrate worker` / `orchestrate up`, or directly with `node dist/worker.js`.
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from './activities';
import { prebuiltWorkflowBundle } from './bundle';
import { loadConfig, type Config } from './config';
import { temporalTarget } from './connection';
import { taskQueueFor } from './shared';
import { dataConverterFromEnv } from './codec';
import type { DataConverter } from '@temporalio/common';

export interface CreateWorkerOptions {
  config: Config;
  /** Existing connection (tests); otherwise one is made from envconfig / [server]. */
  connection?: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Serve this host's queue (`<task_queue>@<host>`) instead of the shared one. */
  host?: string | null;
  /**
   * Prebuilt workflow bundle (tests build it once). Default: dist/workflow-bundle.js from `npm run build`;
   * without one (running from the TypeScript sources) the workflows are bundled at start-up.
   */
  workflowBundlePath?: string;
  identity?: string;
  /** Payload codec etc.; default: encryption when ORCHESTRATE_ENCRYPTION_KEY(_FILE) is set. */
  dataConverter?: DataConverter;
}

export async function createWorker(
  opts: CreateWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection; ownsConnection: boolean }> {
  const { config } = opts;
  const target = temporalTarget(config);
  const connection = opts.connection ?? (await NativeConnection.connect(target.connectionOptions));
  const bundlePath = opts.workflowBundlePath ?? prebuiltWorkflowBundle().path;
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = bundlePath
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: require.resolve('./workflows') };
  const concurrency = config.orchestrator.concurrency;
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? target.namespace,
    taskQueue: opts.taskQueue ?? taskQueueFor(config.orchestrator.taskQueue, opts.host),
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...workflowSource,
    dataConverter: opts.dataConverter ?? dataConverterFromEnv(),
    activities: createActivities({ configPath: config.configPath, maxAgents: concurrency }),
    // Agent activities beyond `concurrency` wait for a slot inside the activity (heartbeating), so the
    // poller can keep short activities (gates, config, checks) flowing alongside them.
    maxConcurrentActivityTaskExecutions: concurrency + 16,
    // Cancellation reaches an activity only with a heartbeat response, so this throttle bounds how late a
    // cancel is noticed. At 1 s, an agent that ignores SIGTERM (SIGKILL after the 1 s cancel grace) was
    // gone up to 2.1 s after the cancel; at 500 ms (the activity's own heartbeat cadence), ≤ 1.6 s
    // (bench P4, bench/README.md). Costs one heartbeat RPC per running agent every 500 ms instead of 1 s.
    maxHeartbeatThrottleInterval: '500 milliseconds',
    defaultHeartbeatThrottleInterval: '500 milliseconds',
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
  opts: { host?: string | null } = {},
): Promise<void> {
  // The SDK logs bundling and state changes at INFO; a foreground worker shows warnings and errors unless
  // ORCHESTRATE_LOG_LEVEL says otherwise (DEBUG, INFO, WARN, ERROR).
  Runtime.install({ logger: new DefaultLogger((process.env.ORCHESTRATE_LOG_LEVEL as LogLevel | undefined) ?? 'WARN') });
  const bundle = prebuiltWorkflowBundle();
  if (!bundle.path) log(`bundling the workflows at start-up (a few seconds): ${bundle.reason}`);
  const { worker, connection } = await createWorker({
    config,
    host: opts.host,
    ...(bundle.path ? { workflowBundlePath: bundle.path } : {}),
  });
  const target = temporalTarget(config);
  const queue = taskQueueFor(config.orchestrator.taskQueue, opts.host);
  log(
    `worker polling task queue "${queue}" on ${target.connectionOptions.address} (namespace ${target.namespace}), up to ${config.orchestrator.concurrency} agents at once`,
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
