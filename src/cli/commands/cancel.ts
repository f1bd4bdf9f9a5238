// `orchestrate cancel`: stop a running job or batch. The workflow's activity stops the agent's whole
// process group (within ~2 s) before the workflow reports "cancelled".
import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { batchWorkflowId, jobWorkflowId } from '../../temporal/ids';
import { getConfig, print, withClient } from '../common';
import { EXIT, UserError } from '../errors';

export async function cancel(target: string, opts: { wait?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const workflowId = ['cycle', 'eod', 'rollover'].includes(target)
    ? batchWorkflowId(target as 'cycle' | 'eod' | 'rollover', config.orchestrator.taskQueue)
    : config.projects[target]
      ? jobWorkflowId(target)
      : target;
  await withClient(config, async ({ client }) => {
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
  });
}
