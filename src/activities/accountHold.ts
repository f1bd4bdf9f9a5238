// The usage-limit hold of an agent account, as a job reads it before it launches its agent: the hold workflow's
// memo, from the server (no worker needs to answer, as a query would need).
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { accountHoldWorkflowId } from '../temporal/ids';
import { ACCOUNT_HOLD_MEMO, type AccountKey, type AccountLimited } from '../temporal/types';

export function createAccountHoldActivities() {
  async function readAccountHold({
    account,
  }: {
    account: AccountKey;
  }): Promise<{ workflowId: string; held: AccountLimited | null }> {
    const ctx = Context.current();
    // The job's own task queue: a local activity runs on the worker of its workflow.
    const workflowId = accountHoldWorkflowId(account, ctx.info.taskQueue);
    try {
      const d = await ctx.client.workflow.getHandle(workflowId).describe();
      const held = d.memo?.[ACCOUNT_HOLD_MEMO] as AccountLimited | undefined;
      const running = d.status.name === 'RUNNING' && held && typeof held.until === 'string';
      return { workflowId, held: running ? held : null };
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return { workflowId, held: null };
      throw e;
    }
  }
  return { readAccountHold };
}
