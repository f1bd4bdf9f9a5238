// When jobs of an account at its usage limit may start again. Pure: the job workflow (its durable wait) and the
// worker (holding the account's jobs that are next for a slot) compute it the same way.

export interface UsageLimitEnd {
  /** Epoch ms: the reset plus the margin, or now plus the back-off when the agent gave no reset time. */
  until: number;
  resetKnown: boolean;
}

export function usageLimitEnd(
  resetsAt: string | null,
  plan: { usageLimitMarginMs: number; usageLimitBackoffMs: number },
  nowMs: number,
): UsageLimitEnd {
  const resetAt = resetsAt ? Date.parse(resetsAt) : NaN;
  return Number.isNaN(resetAt)
    ? { until: nowMs + plan.usageLimitBackoffMs, resetKnown: false }
    : { until: resetAt + plan.usageLimitMarginMs, resetKnown: true };
}
