// Helpers shared by the CLI's command modules: config loading, output, errors and exit codes.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadConfig, parseConfig, resolveConfigPath, unknownProjectMessage, type Config } from '../config';

export const EXIT = { ok: 0, failed: 1, usage: 2, alreadyRunning: 3 } as const;

/** An error the user can fix; printed without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

export interface GlobalOpts {
  config?: string;
}

export async function getConfig(cmd: Command, opts: { allowMissing?: boolean } = {}): Promise<Config> {
  const { config: explicit } = cmd.optsWithGlobals<GlobalOpts>();
  const configPath = resolveConfigPath(explicit);
  if (opts.allowMissing && !existsSync(configPath)) {
    process.stderr.write(
      `note: no config at ${configPath}; running with defaults and no projects. Create one with \`cp workspaces.example.toml workspaces.toml\` and edit it.\n`,
    );
    return parseConfig('', configPath);
  }
  return loadConfig(explicit);
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** The project must exist in the config; the error lists the known ones. */
export function requireProject(config: Config, name: string): void {
  if (config.projects[name]) return;
  throw new UserError(unknownProjectMessage(config, name));
}
