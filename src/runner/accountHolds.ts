// What this worker learnt about the agent accounts of the batches it runs jobs for: which account is at its
// usage limit (until when) or failed to log in, per batch. A batch keeps up to 2 × concurrency jobs in flight,
// so a job can be started and waiting for one of this worker's agent slots when another job of its account hits
// the limit; the batch holds only the jobs it has not started yet, and a job reads the account's durable hold
// only before it asks for its agent. This worker holds those in flight: when such a job's turn comes it starts
// no agent and reports the limit (its workflow then waits for the reset durably) or the auth failure. The
// durable holds stay in Temporal; this only saves the launches in between, and goes with the worker process.
import { bareRunResult, type AgentRunResult, type JobPlan } from '../temporal/types';
import { usageLimitEnd } from '../lib/usageLimit';

interface LimitHold {
  /** When this worker learnt of the limit. */
  since: number;
  until: number;
  resetsAt: string | null;
  message: string;
}

/** What is known about a batch's accounts is forgotten after this long (the batch is long over). */
const FORGET_AFTER_MS = 24 * 60 * 60 * 1000;

type HeldPlan = Pick<JobPlan, 'project' | 'account' | 'usageLimitMarginMs' | 'usageLimitBackoffMs'>;

export class WorkerAccountHolds {
  /** `<batch id> <account>` → the limit one of the batch's jobs hit. */
  private readonly limits = new Map<string, LimitHold>();
  /** `<batch id> <account>` → the first job's reason and when it was learnt. */
  private readonly authFailures = new Map<string, { message: string; at: number }>();

  /** Learns from a batch's job's result (a launched agent's: results of jobs held here teach nothing new). */
  note(plan: HeldPlan, batchId: string | undefined, result: AgentRunResult, nowMs: number): void {
    if (!plan.account || !batchId || result.notLaunched) return;
    const key = `${batchId} ${plan.account}`;
    if (result.outcome === 'usage_limit') {
      const { until } = usageLimitEnd(result.usageLimitResetsAt, plan, nowMs);
      const known = this.limits.get(key);
      if (!known || known.until < until)
        this.limits.set(key, { since: nowMs, until, resetsAt: result.usageLimitResetsAt, message: result.message });
    } else if (result.authFailure) {
      if (!this.authFailures.has(key)) this.authFailures.set(key, { message: result.message, at: nowMs });
    } else if (result.outcome === 'succeeded') {
      // An agent that started after the limit was learnt and got through: the account was reset early.
      const known = this.limits.get(key);
      if (known && nowMs - result.durationMs > known.since) this.limits.delete(key);
    }
  }

  /** The result to report instead of starting the agent, or null: start it. */
  heldResult(plan: HeldPlan, batchId: string | undefined, nowMs: number): AgentRunResult | null {
    this.forgetOld(nowMs);
    if (!plan.account || !batchId) return null;
    const key = `${batchId} ${plan.account}`;
    const auth = this.authFailures.get(key);
    if (auth) {
      return bareRunResult(
        'agent_error',
        `${plan.project}: not started: its agent account is not logged in — ${auth.message}`,
        { authFailure: true, notLaunched: true },
      );
    }
    const limit = this.limits.get(key);
    if (!limit || limit.until <= nowMs) return null;
    return bareRunResult(
      'usage_limit',
      `${plan.project}: not started: its agent account is at its usage limit (another job hit it) — ${limit.message}`,
      { usageLimitResetsAt: limit.resetsAt, notLaunched: true },
    );
  }

  private forgetOld(nowMs: number): void {
    for (const [key, auth] of this.authFailures) if (nowMs - auth.at > FORGET_AFTER_MS) this.authFailures.delete(key);
    for (const [key, limit] of this.limits) if (limit.until <= nowMs) this.limits.delete(key);
  }
}
