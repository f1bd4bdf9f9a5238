// The worker: polls the orchestrator's task queue, runs workflows (sandboxed) and activities (agent
// processes). Started by `orchestrate worker` / `orchestrate up`, or directly with `node dist/worker.js`.
import { NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type Activities } from './activities';
import { prebuiltWorkflowBundle, workflowBundleOptions } from './bundle';
import { loadConfig, type Config } from './config';
import { temporalTarget } from './temporal/connection';
import { taskQueueFor } from './temporal/ids';
import { ORPHAN_SWEEP_EVERY_MS, sweepOrphans } from './runner/orphans';
import { dataConverterFromEnv } from './temporal/codec';
import type { DataConverter } from '@temporalio/common';
import { containmentSupport } from './runner/containment';
import v8 from 'node:v8';
import { WorkerLog } from './workerLog';

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
  /** Activities to register (several workers in one process share one set, and so one agent-slot limit). */
  activities?: Activities;
  /** The worker log that turns expected job failures into one line (it learns their outcomes from activities). */
  log?: WorkerLog;
}

export async function createWorker(
  opts: CreateWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection; ownsConnection: boolean }> {
  const { config } = opts;
  const target = temporalTarget(config);
  const connection = opts.connection ?? (await NativeConnection.connect(target.connectionOptions));
  const bundlePath = opts.workflowBundlePath ?? prebuiltWorkflowBundle().path;
  const bundleOptions = workflowBundleOptions(require.resolve('./workflows'));
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> = bundlePath
    ? { workflowBundle: { codePath: bundlePath } }
    : {
        workflowsPath: bundleOptions.workflowsPath,
        bundlerOptions: {
          preloadModules: bundleOptions.preloadModules,
          webpackConfigHook: bundleOptions.webpackConfigHook,
        },
      };
  const concurrency = config.orchestrator.concurrency;
  limitWorkflowThreadYoungGeneration();
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? target.namespace,
    taskQueue: opts.taskQueue ?? taskQueueFor(config.orchestrator.taskQueue, opts.host),
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...workflowSource,
    dataConverter: opts.dataConverter ?? dataConverterFromEnv(),
    activities:
      opts.activities ??
      createActivities({
        configPath: config.configPath,
        maxAgents: concurrency,
        stateDir: config.orchestrator.stateDir,
      }),
    ...(opts.log ? { interceptors: { activity: [opts.log.activityInterceptor] } } : {}),
    // Agent activities beyond `concurrency` wait for a slot inside the activity (heartbeating), so the
    // poller can keep short activities (gates, config, checks) flowing alongside them.
    maxConcurrentActivityTaskExecutions: concurrency + 16,
    // A frozen worker (SIGSTOP, a paused VM) keeps its open polls, and the server hands the job's retry to one
    // of them until they expire (about a minute): each one absorbs an attempt of the agent job's retry budget
    // before another worker can adopt the agent. Two polls keep short activities flowing and lose at most two.
    maxConcurrentActivityTaskPolls: 2,
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

/** The workflow thread's V8 semi-space limit (MB); V8's own is 16 (64-bit), so its new space grows to 32 MB. */
const WORKFLOW_THREAD_SEMI_SPACE_MB = 4;

/**
 * Caps the young generation of the workflow thread the SDK starts next (it takes no resourceLimits for it). In a
 * 500-project cycle that thread's heap grew to ~85 MB, 32 MB of it new space; with 4 MB semi-spaces it peaked at
 * ~67 MB, and the process's peak RSS went from 281-317 MB to 251-272 MB, with no CPU or wall-time cost beyond the
 * noise (bench/README.md, "Worker memory"). V8 reads the flag when it creates an isolate, so it reaches the new
 * thread and leaves the main thread's heap (created already) as it is. Not a heap cap: the old generation's limit
 * is unchanged, so a burst of allocations is promoted sooner, never refused. An explicit --max-semi-space-size
 * given to the process wins.
 */
function limitWorkflowThreadYoungGeneration(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-semi-space-size'));
  if (!given) v8.setFlagsFromString(`--max-semi-space-size=${WORKFLOW_THREAD_SEMI_SPACE_MB}`);
}

export interface RunWorkerOptions {
  /** Serve this host's queue (`<task_queue>@<host>`); null / absent: the shared queue. */
  host?: string | null;
  /** With a host: also serve the shared queue (projects without a host, cycles, EOD, rollover, schedules). */
  shared?: boolean;
  /** Where the host came from, for the start-up line (e.g. "--host", "[orchestrator] host"). */
  hostSource?: string;
}

/** The task queues a worker with these options polls, with what each one carries (for the start-up line). */
export function servedQueues(
  config: Config,
  opts: RunWorkerOptions = {},
): Array<{ queue: string; host: string | null; what: string }> {
  const shared = {
    queue: config.orchestrator.taskQueue,
    host: null,
    what: 'shared: projects without a host, cycles, EOD, rollover',
  };
  if (!opts.host) return [shared];
  const own = {
    queue: taskQueueFor(config.orchestrator.taskQueue, opts.host),
    host: opts.host,
    what: `host ${opts.host}${opts.hostSource ? `, from ${opts.hostSource}` : ''}: projects with host = "${opts.host}"`,
  };
  return opts.shared ? [shared, own] : [own];
}

/**
 * Runs a worker until SIGINT/SIGTERM (the SDK installs the signal handlers and shuts down gracefully). With a
 * host and `shared`, one worker per queue on one connection, sharing the activities (and so `concurrency`).
 */
export async function runWorker(
  config: Config,
  log: (msg: string) => void = (m) => process.stderr.write(m + '\n'),
  opts: RunWorkerOptions = {},
): Promise<void> {
  // The SDK logs bundling and state changes at INFO; a foreground worker shows warnings and errors unless
  // ORCHESTRATE_LOG_LEVEL says otherwise (DEBUG, INFO, WARN, ERROR).
  const workerLog = new WorkerLog((process.env.ORCHESTRATE_LOG_LEVEL as LogLevel | undefined) ?? 'WARN');
  Runtime.install({ logger: workerLog });
  const bundle = prebuiltWorkflowBundle();
  if (!bundle.path) log(`bundling the workflows at start-up (a few seconds): ${bundle.reason}`);
  const target = temporalTarget(config);
  const queues = servedQueues(config, opts);
  const connection = await NativeConnection.connect(target.connectionOptions);
  const activities = createActivities({
    configPath: config.configPath,
    maxAgents: config.orchestrator.concurrency,
    stateDir: config.orchestrator.stateDir,
  });
  const workers: Worker[] = [];
  try {
    for (const q of queues) {
      const { worker } = await createWorker({
        config,
        connection,
        namespace: target.namespace,
        taskQueue: q.queue,
        activities,
        log: workerLog,
        ...(bundle.path ? { workflowBundlePath: bundle.path } : {}),
      });
      workers.push(worker);
    }
    const list = queues.map((q) => `"${q.queue}" (${q.what})`).join(' and ');
    log(
      `worker polling task queue${queues.length > 1 ? 's' : ''} ${list} on ${target.connectionOptions.address} (namespace ${target.namespace}), up to ${config.orchestrator.concurrency} agents at once`,
    );
    log(containmentSupport().description);
    if (opts.host && !opts.shared)
      log(
        `not polling the shared queue "${config.orchestrator.taskQueue}": projects without a host, cycles and schedules need a worker without a host somewhere (or \`--shared\` here)`,
      );
    const stopSweeping = sweepOrphansPeriodically(config, workers[0], log);
    // One worker stopping (a fatal error) stops the others, so the process never half-serves.
    const results = await Promise.allSettled(
      workers.map((w) =>
        w.run().finally(() => {
          for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
        }),
      ),
    );
    stopSweeping();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    // A worker created but never run (the next one failed to start) still holds the connection.
    await connection.close().catch((e: Error) => log(`closing the connection: ${e.message}`));
  }
  log('worker stopped');
}

/**
 * Stops agents whose job closed while no worker ran (./runner/orphans): once now, then every few minutes, one
 * sweep at a time. Returns the function that stops sweeping.
 */
function sweepOrphansPeriodically(config: Config, worker: Worker, log: (msg: string) => void): () => void {
  const client = worker.client;
  if (!client) return () => undefined;
  let sweeping = false;
  const sweep = () => {
    if (sweeping) return;
    sweeping = true;
    sweepOrphans(config.orchestrator.stateDir, client, log)
      .catch((e: Error) => log(`orphan sweep failed: ${e.message}`))
      .finally(() => (sweeping = false));
  };
  sweep();
  const timer = setInterval(sweep, ORPHAN_SWEEP_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

if (require.main === module) {
  loadConfig(process.argv[2])
    .then((config) => runWorker(config))
    .catch((err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    });
}
