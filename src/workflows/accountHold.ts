// One account, one limit, across jobs that share no batch (separate `orchestrate run`s, a run beside a cycle):
// a job that hits the usage limit starts the account's hold, a workflow with a deterministic ID that runs until
// the reset (a durable timer) with the limit in its memo. Every job of the account reads the hold before it
// launches its agent (its agent activity does, or for jobs of older runs a local activity) and, while it holds,
// waits for the reset on its own durable timer instead of starting an agent that would meet the same wall. All of
// it lives in Temporal, so it survives worker and server restarts.
import {
  CancellationScope,
  ParentClosePolicy,
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AccountHoldActivities } from '../temporal/activities';
import {
  ACCOUNT_HOLD_MEMO,
  EXTEND_ACCOUNT_HOLD_SIGNAL,
  USAGE_LIMIT_WAIT_NOTE,
  type AccountLimited,
  type JobPlan,
} from '../temporal/types';
import { localTime } from '../lib/dates';

const extendAccountHoldSignal = defineSignal<[AccountLimited]>(EXTEND_ACCOUNT_HOLD_SIGNAL);

const { readAccountHold } = proxyLocalActivities<AccountHoldActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/** Waits for a hold that a later limit keeps extending at most this many times before the job launches anyway. */
const MAX_HOLD_WAITS = 6;

/** The hold of one account: runs until its `until` (a later limit of the account extends it), then ends. */
export async function accountHold(limited: AccountLimited): Promise<void> {
  let held = limited;
  setHandler(extendAccountHoldSignal, (later) => {
    if (Date.parse(later.until) <= Date.parse(held.until)) return;
    held = later;
    upsertMemo({ [ACCOUNT_HOLD_MEMO]: later });
  });
  while (Date.parse(held.until) > Date.now()) {
    const until = held.until;
    setCurrentDetails(
      `${USAGE_LIMIT_WAIT_NOTE} until ${until}: ${held.project}'s job hit the usage limit\n\n${held.message}`,
    );
    await condition(() => held.until !== until, Date.parse(until) - Date.now());
  }
}

/**
 * Holds the job's account until the limit's reset, for jobs outside its batch. True when this job started the
 * hold (its usage_limit_wait is the account's one notification for this reset); false when another job of the
 * account already holds it (extended to this limit's reset if that is later). A job cancelled while it waits
 * cancels the hold it started (releaseAccountHold): a person who stops the wait wants the account to be tried.
 */
export async function holdAccount(limited: AccountLimited): Promise<boolean> {
  let workflowId = '';
  try {
    ({ workflowId } = await readAccountHold({ account: limited.account }));
    // Left running when the job ends (it ends at the reset, or gave up waiting): the hold is the account's.
    await startChild(accountHold, {
      workflowId,
      args: [limited],
      memo: { [ACCOUNT_HOLD_MEMO]: limited },
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    startedHold = workflowId;
    return true;
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !workflowId) {
      log.warn(`could not hold account ${limited.account} for its usage limit: ${String(err)}`);
      return true;
    }
  }
  try {
    await getExternalWorkflowHandle(workflowId).signal(extendAccountHoldSignal, limited);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn(`could not extend the usage-limit hold of account ${limited.account}: ${String(err)}`);
  }
  return false;
}

/** The hold this job started (workflow state: one per job), for releaseAccountHold. */
let startedHold: string | null = null;

/** The job's wait was cancelled: the hold it started goes too, so the account's other jobs try again. */
export async function releaseAccountHold(): Promise<void> {
  const workflowId = startedHold;
  if (!workflowId) return;
  startedHold = null;
  try {
    await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(workflowId).cancel());
  } catch (err) {
    log.warn(`could not cancel the usage-limit hold ${workflowId}: ${String(err)}`);
  }
}

/**
 * Before a launch: while the job's account is held (another job hit its usage limit), wait for the reset with
 * `wait` (a durable timer). A hold that cannot be read is no reason not to run: the agent meets the limit
 * itself, and the job waits then.
 */
export async function waitOutAccountHold(
  plan: Pick<JobPlan, 'account' | 'project' | 'timezone'>,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  if (!plan.account) return;
  for (let waits = 0; waits < MAX_HOLD_WAITS; waits++) {
    let held: AccountLimited | null;
    try {
      ({ held } = await readAccountHold({ account: plan.account }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn(`${plan.project}: could not read the usage-limit hold of its account: ${String(err)}`);
      return;
    }
    if (!held || !(Date.parse(held.until) > Date.now())) return;
    await waitForAccountHold(held, plan, wait);
  }
}

/** Waits with `wait` (a durable timer) for the end of the account's hold: `held.project`'s job hit its limit. */
export async function waitForAccountHold(
  held: Pick<AccountLimited, 'project' | 'until'>,
  plan: Pick<JobPlan, 'timezone'>,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  const until = Date.parse(held.until);
  const at = `${localTime(new Date(until), plan.timezone)} (${plan.timezone})`;
  setCurrentDetails(
    `${USAGE_LIMIT_WAIT_NOTE} at ${at}: ${held.project}'s job hit the usage limit of this agent account`,
  );
  await wait(Math.max(0, until - Date.now()));
}
