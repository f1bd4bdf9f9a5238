// `orchestrate worker`: a worker in the foreground, for the shared queue or one host's queue.
import type { Command } from 'commander';
import { runWorker, servedQueues } from '../../worker';
import { getConfig } from '../common';
import { workerHost } from '../devServer';
import { claimWorker } from '../workerLock';

export async function worker(opts: { host?: string; shared?: boolean; force?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const workerOpts = { ...workerHost(config, opts.host), shared: Boolean(opts.shared) };
  const queues = servedQueues(config, workerOpts).map((q) => q.queue);
  claimWorker(config.orchestrator.stateDir, 'worker', queues, Boolean(opts.force));
  await runWorker(config, undefined, workerOpts);
}
