// What this worker knows about its agent accounts: which one is at its usage limit (until when), and which one
// failed to log in during which batch. A batch keeps up to 2 × concurrency jobs in flight, so a job can be
// started and waiting for one of this worker's agent slots when another job of its account hits the limit; the
// batch holds only the jobs it has not started yet. This worker holds those in flight: when such a job's turn
// comes it starts no agent and reports the limit (its workflow then waits for the reset durably) or, in the
// batch that found the account not logged in, the auth failure. The durable holds stay in the workflows; this
// is only what saves the launches in between, and it goes with the worker process.
import { bareRunResult, type AccountKey, type AgentRunResult, type JobPlan } from '../temporal/types';
import { usageLimitEnd } from '../lib/usageLimit';

interface LimitHold {
  /** When this worker learnt of the limit. */
  since: number;
  until: number;
  resetsAt: string | null;
  message: string;
}

/** A batch's auth failures are forgotten after this long (the batch is long over). */
const AUTH_HOLD_MS = 24 * 60 * 60 * 1000;

type HeldPlan = Pick<JobPlan, 'project' | 'account' | 'usageLimitMarginMs' | 'usageLimitBackoffMs'>;

export class WorkerAccountHolds {
  private readonly limits = new Map<AccountKey, LimitHold>();
  /** `<batch id> <account>` → the first job's reason and when it was learnt. */
  private readonly authFailures = new Map<string, { message: string; at: number }>();

  /** Learns from a job's result (a launched agent's: results of jobs held here teach nothing new). */
  note(plan: HeldPlan, batchId: string | undefined, result: AgentRunResult, nowMs: number): void {
    if (!plan.account || result.notLaunched) return;
    if (result.outcome === 'usage_limit') {
      const { until } = usageLimitEnd(result.usageLimitResetsAt, plan, nowMs);
      const known = this.limits.get(plan.account);
      if (!known || known.until < until)
        this.limits.set(plan.account, {
          since: nowMs,
          until,
          resetsAt: result.usageLimitResetsAt,
          message: result.message,
        });
    } else if (result.authFailure && batchId) {
      const key = `${batchId} ${plan.account}`;
      if (!this.authFailures.has(key)) this.authFailures.set(key, { message: result.message, at: nowMs });
    } else if (result.outcome === 'succeeded') {
      // An agent that started after the limit was learnt and got through: the account was reset early.
      const known = this.limits.get(plan.account);
      if (known && nowMs - result.durationMs > known.since) this.limits.delete(plan.account);
    }
  }

  /** The result to report instead of starting the agent, or null: start it. */
  heldResult(plan: HeldPlan, batchId: string | undefined, nowMs: number): AgentRunResult | null {
    if (!plan.account) return null;
    for (const [key, auth] of this.authFailures) if (nowMs - auth.at > AUTH_HOLD_MS) this.authFailures.delete(key);
    const auth = batchId ? this.authFailures.get(`${batchId} ${plan.account}`) : undefined;
    if (auth) {
      return bareRunResult(
        'agent_error',
        `${plan.project}: not started: its agent account is not logged in — ${auth.message}`,
        {
          authFailure: true,
          notLaunched: true,
        },
      );
    }
    const limit = this.limits.get(plan.account);
    if (!limit) return null;
    if (limit.until <= nowMs) {
      this.limits.delete(plan.account);
      return null;
    }
    return bareRunResult(
      'usage_limit',
      `${plan.project}: not started: its agent account is at its usage limit (another job hit it) — ${limit.message}`,
      { usageLimitResetsAt: limit.resetsAt, notLaunched: true },
    );
  }
}
