// How the CLI and the worker reach Temporal. @temporalio/envconfig reads the standard profile file and
// TEMPORAL_* env vars (address, namespace, TLS client certs, API key), so the same code runs against the
// dev server, a self-hosted cluster or Temporal Cloud; without any, we use the local dev server from
// workspaces.toml's [server].
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';

export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions & { address: string };
  namespace: string;
  /** True when the address came from envconfig (a profile or TEMPORAL_ADDRESS), not the local dev server. */
  external: boolean;
}

export function temporalTarget(config: Pick<Config, 'server'>): TemporalTarget {
  const loaded = loadClientConnectConfig({ profile: process.env.TEMPORAL_PROFILE });
  const address = loaded.connectionOptions.address;
  return {
    connectionOptions: { ...loaded.connectionOptions, address: address ?? `${config.server.ip}:${config.server.port}` },
    namespace: loaded.namespace ?? config.server.namespace,
    external: Boolean(address),
  };
}

/** Where a person opens the Web UI: ORCHESTRATE_UI_URL, else the local dev server's UI. */
export function webUiUrl(config: Pick<Config, 'server'>): string {
  return process.env.ORCHESTRATE_UI_URL ?? `http://${config.server.ip}:${config.server.uiPort}`;
}
