// `orchestrate server start|stop|status`: the local Temporal dev server (SQLite in the state folder).
import type { Command } from 'commander';
import { devServerStatus, stopDevServer } from '../../devserver/server';
import { getConfig, print } from '../common';
import { devServerOptions, ensureDevServer } from '../devServer';
import { EXIT } from '../errors';

export async function serverStart(_opts: unknown, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const s = await ensureDevServer(config);
  print(
    `${s.alreadyRunning ? 'already running' : 'started'}: Temporal at ${s.address} (pid ${s.pid}); Web UI: ${s.uiUrl}`,
  );
}

export async function serverStop(_opts: unknown, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const r = await stopDevServer(devServerOptions(config));
  print(r.wasRunning ? 'stopped' : 'not running');
}

export async function serverStatus(opts: { json?: boolean }, cmd: Command): Promise<number> {
  const config = await getConfig(cmd, { allowMissing: true });
  const s = await devServerStatus(devServerOptions(config));
  if (opts.json) print(JSON.stringify(s));
  else if (s.running) print(`running: Temporal at ${s.address} (pid ${s.pid}); Web UI: ${s.uiUrl}; data: ${s.dbPath}`);
  else
    print(`not running (start it with \`orchestrate server start\`); it would serve ${s.address}, Web UI ${s.uiUrl}`);
  return s.running ? EXIT.ok : EXIT.failed;
}
