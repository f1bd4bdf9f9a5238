// The local dev server and worker settings the `up`, `worker` and `server` commands share.
import type { Config } from '../config';
import type { DevServerOptions } from '../devserver/server';
import { SetupError } from './errors';

export function devServerOptions(config: Config): DevServerOptions {
  return {
    stateDir: config.orchestrator.stateDir,
    ip: config.server.ip,
    port: config.server.port,
    uiPort: config.server.uiPort,
    namespace: config.server.namespace,
  };
}

/** Starts the dev server (or finds it running); failing to (a port in use, no Temporal CLI) is a setup error. */
export async function ensureDevServer(config: Config) {
  const { startDevServer } = await import('../devserver/server');
  try {
    return await startDevServer({
      ...devServerOptions(config),
      onProgress: (m) => process.stderr.write(m + '\n'),
    });
  } catch (e) {
    throw new SetupError((e as Error).message);
  }
}

/** The host a worker serves: `--host` ("" = none) wins over `[orchestrator] host`. */
export function workerHost(config: Config, flag: string | undefined): { host: string | null; hostSource?: string } {
  if (flag !== undefined) return flag.trim() ? { host: flag.trim(), hostSource: '--host' } : { host: null };
  return config.orchestrator.host
    ? { host: config.orchestrator.host, hostSource: '[orchestrator] host' }
    : { host: null };
}
