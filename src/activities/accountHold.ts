// The usage-limit hold of an agent account, as a job reads it before it launches its agent: the hold workflow's
// memo, from the server (no worker needs to answer, as a query would need). The agent activity reads it itself
// (heldAcrossRunsResult); jobs of older runs read it in a local activity (readAccountHold).
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { accountHoldWorkflowId } from '../temporal/ids';
import {
  ACCOUNT_HOLD_MEMO,
  bareRunResult,
  type AccountKey,
  type AccountLimited,
  type AgentRunResult,
  type JobPlan,
} from '../temporal/types';

/** How long a launch waits at most for the hold to be read; then it runs (the agent meets the limit itself). */
const HOLD_READ_TIMEOUT_MS = 10_000;

/** The hold's workflow ID and, while it runs, the limit it holds the account for. */
async function describeAccountHold(
  client: Client,
  account: AccountKey,
  taskQueue: string,
): Promise<{ workflowId: string; held: AccountLimited | null }> {
  const workflowId = accountHoldWorkflowId(account, taskQueue);
  try {
    const d = await client.withDeadline(Date.now() + HOLD_READ_TIMEOUT_MS, () =>
      client.workflow.getHandle(workflowId).describe(),
    );
    const held = d.memo?.[ACCOUNT_HOLD_MEMO] as AccountLimited | undefined;
    const running = d.status.name === 'RUNNING' && held && typeof held.until === 'string';
    return { workflowId, held: running ? held : null };
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return { workflowId, held: null };
    throw e;
  }
}

/**
 * The result the agent activity reports instead of launching while the job's account is held (a job of another
 * run hit its usage limit), or null: launch. The hold is the one of the activity's task queue (the job's own). A
 * hold that cannot be read is no reason not to run: the agent meets the limit itself, and the job waits then.
 */
export async function heldAcrossRunsResult(
  ctx: { client: Client; info: { taskQueue: string }; log: { warn: (message: string) => void } },
  plan: Pick<JobPlan, 'project' | 'account'>,
): Promise<AgentRunResult | null> {
  if (!plan.account) return null;
  let held: AccountLimited | null;
  try {
    ({ held } = await describeAccountHold(ctx.client, plan.account, ctx.info.taskQueue));
  } catch (e) {
    ctx.log.warn(`${plan.project}: could not read the usage-limit hold of its account; launching: ${String(e)}`);
    return null;
  }
  if (!held || !(Date.parse(held.until) > Date.now())) return null;
  return bareRunResult(
    'usage_limit',
    `${plan.project}: not started: its agent account is held at its usage limit until ${held.until} (${held.project}'s job hit it) — ${held.message}`,
    { usageLimitResetsAt: held.until, notLaunched: true, heldAcrossRuns: { project: held.project, until: held.until } },
  );
}

export function createAccountHoldActivities() {
  async function readAccountHold({
    account,
  }: {
    account: AccountKey;
  }): Promise<{ workflowId: string; held: AccountLimited | null }> {
    const ctx = Context.current();
    // The job's own task queue: a local activity runs on the worker of its workflow.
    return describeAccountHold(ctx.client, account, ctx.info.taskQueue);
  }
  return { readAccountHold };
}
