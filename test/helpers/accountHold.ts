// A job of another run that hit its account's usage limit, as the tests stand it in: the accountHold workflow it
// would have started (its ID, its memo), ending at `until`.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { accountHoldWorkflowId } from '../../src/temporal/ids';
import { ACCOUNT_HOLD_MEMO, type AccountLimited } from '../../src/temporal/types';

export async function startAccountHold(
  client: Client,
  taskQueue: string,
  account: string,
  until: string,
): Promise<{ hold: WorkflowHandle; limited: AccountLimited }> {
  const limited: AccountLimited = {
    account,
    project: 'elsewhere',
    until,
    resetKnown: true,
    message: 'usage limit reached',
    workflowId: 'job/elsewhere',
  };
  const hold = await client.workflow.start('accountHold', {
    taskQueue,
    workflowId: accountHoldWorkflowId(account, taskQueue),
    args: [limited],
    memo: { [ACCOUNT_HOLD_MEMO]: limited },
  });
  return { hold, limited };
}
