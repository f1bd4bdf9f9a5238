// `orchestrate cancel`: stop a running job or batch. The workflow's activity stops the agent's whole
// process group (within ~2 s) before the workflow reports "cancelled".
import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { connectClient } from '../temporal/client';
import { batchWorkflowId, jobWorkflowId } from '../temporal/ids';
import { EXIT, UserError, getConfig, print } from './common';

export function registerCancelCommands(program: Command): void {
  program
    .command('cancel <target>')
    .description('cancel a running job (project name or workflow ID) or batch (cycle, eod, rollover)')
    .option('--wait', 'wait until it has stopped (agent process group gone)')
    .action(async (target: string, opts: { wait?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      const workflowId = ['cycle', 'eod', 'rollover'].includes(target)
        ? batchWorkflowId(target as 'cycle' | 'eod' | 'rollover', config.orchestrator.taskQueue)
        : config.projects[target]
          ? jobWorkflowId(target)
          : target;
      const { client, connection } = await connectClient(config);
      try {
        const handle = client.workflow.getHandle(workflowId);
        let status: string;
        try {
          status = (await handle.describe()).status.name;
        } catch (e) {
          if (e instanceof WorkflowNotFoundError)
            throw new UserError(`no workflow "${workflowId}" — see \`orchestrate status\``);
          throw e;
        }
        if (status !== 'RUNNING')
          throw new UserError(`${workflowId} is not running (${status.toLowerCase()})`, EXIT.failed);
        await handle.cancel();
        if (opts.wait) await handle.result().catch(() => undefined);
        print(`${opts.wait ? 'cancelled' : 'cancel requested'}: ${workflowId}`);
      } finally {
        await connection.close();
      }
    });
}
