// `orchestrate pause|resume -p <project>`: the pause marker that cycles' gates check.
import type { Command } from 'commander';
import { setPaused } from '../../gates';
import { getConfig, print, requireProject } from '../common';

export function pauseCommand(paused: boolean) {
  return async (opts: { project: string }, cmd: Command): Promise<void> => {
    const config = await getConfig(cmd);
    requireProject(config, opts.project);
    await setPaused(config.orchestrator.stateDir, opts.project, paused);
    print(
      `${opts.project}: ${paused ? `paused (cycles skip it; \`orchestrate resume -p ${opts.project}\` to resume)` : 'resumed'}`,
    );
  };
}
