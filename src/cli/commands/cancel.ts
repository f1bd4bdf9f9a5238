// `orchestrate cancel`: stop a running job or batch. The workflow's activity stops the agent's whole
// process group (within ~2 s) before the workflow reports "cancelled".
import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { batchWorkflowId, hostOfTaskQueue, jobWorkflowId } from '../../temporal/ids';
import { getConfig, print, withClient } from '../common';
import { EXIT, UserError } from '../errors';
import { watchForWorker } from '../workerWatch';

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
    let taskQueue: string;
    try {
      ({
        status: { name: status },
        taskQueue,
      } = await handle.describe());
    } catch (e) {
      if (e instanceof WorkflowNotFoundError)
        throw new UserError(`no workflow "${workflowId}" — see \`orchestrate status\``);
      throw e;
    }
    if (status !== 'RUNNING')
      throw new UserError(`${workflowId} is not running (${status.toLowerCase()})`, EXIT.failed);
    await handle.cancel();
    if (opts.wait) {
      // The cancel is recorded at once, but only a worker can run the workflow's clean-up and close it.
      const stopWatching = watchForWorker({
        client,
        namespace: client.options.namespace,
        taskQueue,
        host: hostOfTaskQueue(config.orchestrator.taskQueue, taskQueue),
        then: 'the cancel is recorded and takes effect when one does',
        write: (line) => process.stderr.write(line + '\n'),
      });
      try {
        await handle.result().catch(() => undefined);
      } finally {
        stopWatching();
      }
    }
    print(`${opts.wait ? 'cancelled' : 'cancel requested'}: ${workflowId}`);
  });
}
