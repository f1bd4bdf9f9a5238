// `orchestrate worker`: a worker in the foreground, for the shared queue or one host's queue.
import type { Command } from 'commander';
import { runWorker } from '../../worker';
import { getConfig } from '../common';
import { workerHost } from '../devServer';

export async function worker(opts: { host?: string; shared?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  await runWorker(config, undefined, { ...workerHost(config, opts.host), shared: Boolean(opts.shared) });
}
