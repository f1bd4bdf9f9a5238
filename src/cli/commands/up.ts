// `orchestrate up`: the single-machine command: dev server, schedules and a worker in the foreground.
import type { Command } from 'commander';
import { stopDevServer } from '../../devserver/server';
import { applySchedules } from '../../temporal/schedules';
import { runWorker, servedQueues } from '../../worker';
import { getConfig, print, withClient } from '../common';
import { devServerOptions, ensureDevServer, workerHost } from '../devServer';
import { claimWorker } from '../workerLock';

export async function up(opts: { host?: string; force?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const host = workerHost(config, opts.host);
  // `up` is the single-machine command and starts the schedules, so it always serves the shared queue.
  const workerOpts = { ...host, shared: true };
  claimWorker(
    config.orchestrator.stateDir,
    'up',
    servedQueues(config, workerOpts).map((q) => q.queue),
    Boolean(opts.force),
  );
  print(`up: pid ${process.pid} (\`kill ${process.pid}\` or Ctrl-C stops it)`);
  const server = await ensureDevServer(config);
  print(
    `Temporal ${server.alreadyRunning ? 'already running' : 'started'} at ${server.address}; Web UI: ${server.uiUrl}`,
  );
  await withClient(config, async ({ client }) => {
    const applied = await applySchedules(client, config);
    const names = [...applied.created, ...applied.updated];
    print(names.length ? `schedules: ${names.join(', ')}` : 'schedules: none configured');
  });
  await runWorker(config, undefined, workerOpts);
  if (!server.alreadyRunning) {
    await stopDevServer(devServerOptions(config));
    print('Temporal dev server stopped (its data stays in the state folder).');
  }
}
