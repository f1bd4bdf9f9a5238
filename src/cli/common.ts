// Helpers shared by the CLI's command modules: config loading, output, and reaching Temporal.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadConfig, parseConfig, resolveConfigPath, unknownProjectMessage, type Config } from '../config';
import type { Connected } from '../temporal/client';
import { SetupError, UserError } from './errors';

export interface GlobalOpts {
  config?: string;
}

export async function getConfig(cmd: Command, opts: { allowMissing?: boolean } = {}): Promise<Config> {
  const { config: explicit } = cmd.optsWithGlobals<GlobalOpts>();
  const configPath = resolveConfigPath(explicit);
  if (opts.allowMissing && !existsSync(configPath)) {
    process.stderr.write(
      `note: no config at ${configPath}; running with defaults and no projects. Create one with \`orchestrate init\`, or \`cp workspaces.example.toml workspaces.toml\` and edit it.\n`,
    );
    return parseConfig('', configPath);
  }
  return loadConfig(explicit);
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** The project must exist in the config; the error names the known ones and the closest match. */
export function requireProject(config: Config, name: string): void {
  if (Object.hasOwn(config.projects, name)) return;
  throw new UserError(unknownProjectMessage(config, name));
}

/**
 * Connects to Temporal, runs `fn`, and closes the connection whatever happens. Not reaching Temporal is a
 * setup error (exit 2). The client library is loaded here, when a command first needs it.
 */
export async function withClient<T>(config: Pick<Config, 'server'>, fn: (c: Connected) => Promise<T>): Promise<T> {
  const connected = await tryConnect(config);
  if (!connected.connected) throw new SetupError(connected.error);
  try {
    return await fn(connected.connected);
  } finally {
    await connected.connected.connection.close();
  }
}

/** For commands that still have something to show without a server: the connection, or why there is none. */
export async function tryConnect(
  config: Pick<Config, 'server'>,
): Promise<{ connected: Connected; error: null } | { connected: null; error: string }> {
  const { connectClient } = await import('../temporal/client');
  try {
    return { connected: await connectClient(config), error: null };
  } catch (e) {
    return { connected: null, error: (e as Error).message };
  }
}
