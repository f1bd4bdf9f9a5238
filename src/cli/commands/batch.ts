// `orchestrate cycle|eod|rollover`: start a batch (one per kind at a time); with --wait, follow it and print
// the result table; with --attach, follow the one already running instead of refusing.
import type { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { uiWorkflowUrl } from '../../temporal/ui';
import { AlreadyRunningError, startBatch } from '../../temporal/client';
import { webUiUrl } from '../../temporal/connection';
import type { BatchKind } from '../../temporal/types';
import { getConfig, print, requireProject, withClient } from '../common';
import { EXIT, UserError } from '../errors';
import { batchFailed, renderBatch } from '../render/table';
import { watchBatch } from '../render/watch';

interface BatchOpts {
  project?: string[];
  date?: string;
  wait?: boolean;
  attach?: boolean;
  json?: boolean;
}

/** Why a second batch of a kind is refused, with the command that follows the running one instead. */
export function batchRunningHint(kind: BatchKind, workflowId: string): string {
  return `already running: ${workflowId} — follow it with \`orchestrate ${kind} --attach\`, or see \`orchestrate status\``;
}

export function batchCommand(kind: BatchKind) {
  return async (opts: BatchOpts, cmd: Command): Promise<number> => {
    const config = await getConfig(cmd);
    for (const p of opts.project ?? []) requireProject(config, p);
    if (opts.date && !/^\d{4}-\d{2}-\d{2}$/.test(opts.date))
      throw new UserError(`--date must be YYYY-MM-DD, got "${opts.date}"`);
    return withClient(config, async ({ client }) => {
      let handle: WorkflowHandle;
      let attached = false;
      try {
        handle = await startBatch(client, config, kind, { projects: opts.project, date: opts.date });
      } catch (e) {
        if (!(e instanceof AlreadyRunningError)) throw e;
        if (!opts.attach) throw new UserError(batchRunningHint(kind, e.workflowId), EXIT.alreadyRunning);
        handle = client.workflow.getHandle(e.workflowId);
        attached = true;
      }
      const link = uiWorkflowUrl(webUiUrl(config), client.options.namespace, handle.workflowId);
      if (!opts.wait && !attached) {
        print(
          opts.json
            ? JSON.stringify({ workflowId: handle.workflowId, webUrl: link })
            : `started ${handle.workflowId}\nweb: ${link}`,
        );
        return EXIT.ok;
      }
      if (attached && !opts.json) process.stderr.write(`following ${handle.workflowId} (already running)\n`);
      const result = await watchBatch(handle, opts.json ? process.stderr : process.stdout);
      print(opts.json ? JSON.stringify(result) : `${renderBatch(result)}\nweb: ${link}`);
      return batchFailed(result) || result.refused ? EXIT.failed : EXIT.ok;
    });
  };
}
