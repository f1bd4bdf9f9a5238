// One account, one limit: the agent accounts a batch knows to be at their usage limit (until the reset) or not
// logged in. A job that hits the limit tells the batch (a signal); the batch holds the account's jobs it has not
// started until the reset, with a durable timer, and sends one usage_limit_wait per account and reset. After an
// auth failure it starts no more jobs of that account: they are skipped with the first job's reason and fix.
// The holds live in the workflow's state, so they survive worker and server restarts, and go on over
// continue-as-new in the carry.
import { defineSignal, isCancellation, log, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { NotifyActivities } from '../../temporal/activities';
import { ACCOUNT_HOLD_PATCH, LIMIT_NOTICE_FROM_LAUNCHED_JOB_PATCH } from '../../temporal/patches';
import {
  ACCOUNT_LIMITED_SIGNAL,
  USAGE_LIMIT_WAIT_NOTE,
  type AccountCarry,
  type AccountKey,
  type AccountLimited,
  type BatchRow,
} from '../../temporal/types';
import { localTime } from '../../lib/dates';
import type { Batch } from './open';

export const accountLimitedSignal = defineSignal<[AccountLimited]>(ACCOUNT_LIMITED_SIGNAL);

const { sendNotification } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 2 },
  summary: 'notify: usage limit',
});

/** What to do with a job before it starts: run it, wait (its account is at the limit), or skip it. */
export type AccountVerdict =
  { start: true } | { start: false; waitUntil: number; note: string } | { start: false; skip: string };

export class AccountHolds {
  private readonly limits = new Map<AccountKey, AccountLimited>();
  private readonly authFailures = new Map<AccountKey, string>();
  /** Per account, the reset its last usage_limit_wait named (ms). */
  private readonly notified = new Map<AccountKey, number>();

  constructor(
    private readonly batch: Batch,
    /** Shows a running job's wait in the batch's table, until `until` (ms). */
    private readonly onLimited: (project: string, note: string, until: number) => void,
  ) {
    const carried = batch.input.carry?.accounts;
    for (const l of carried?.limits ?? []) {
      this.limits.set(l.account, l);
      this.notified.set(l.account, Date.parse(l.until));
    }
    for (const [account, reason] of carried?.authFailures ?? []) this.authFailures.set(account, reason);
    setHandler(accountLimitedSignal, (limited) => this.limited(limited));
  }

  /** The project's account, from the config snapshot (none in snapshots of older runs: never held). */
  accountOf(project: string): AccountKey | null {
    return this.batch.projectNamed(project)?.account ?? null;
  }

  /** Whether the project's job may start now. */
  verdict(project: string): AccountVerdict {
    const account = this.accountOf(project);
    if (!account) return { start: true };
    const auth = this.authFailures.get(account);
    if (auth !== undefined && patched(ACCOUNT_HOLD_PATCH)) {
      return { start: false, skip: `not started: its agent account is not logged in — ${auth}` };
    }
    const limit = this.limits.get(account);
    const until = limit ? Date.parse(limit.until) : NaN;
    if (limit && until > Date.now() && patched(ACCOUNT_HOLD_PATCH)) {
      return { start: false, waitUntil: until, note: this.waitNote(limit) };
    }
    return { start: true };
  }

  /** Waits, durably, for the account's reset (a timer in the batch's history). */
  async waitFor(until: number): Promise<void> {
    await sleep(Math.max(0, until - Date.now()));
  }

  /** A job of the account failed to log in: its other jobs are skipped with this job's reason and fix. */
  authFailed(project: string, row: BatchRow): void {
    const account = this.accountOf(project);
    if (account && !this.authFailures.has(account)) this.authFailures.set(account, `${row.reason}`);
  }

  /** What continue-as-new carries on. */
  carry(): AccountCarry {
    return { limits: [...this.limits.values()], authFailures: [...this.authFailures.entries()] };
  }

  private waitNote(limit: AccountLimited): string {
    const tz = this.batch.snap.timezone;
    const at = `${localTime(new Date(limit.until), tz)} (${tz})`;
    return limit.resetKnown
      ? `${USAGE_LIMIT_WAIT_NOTE} at ${at}`
      : `${USAGE_LIMIT_WAIT_NOTE}, backing off until ${at} (reset time not given)`;
  }

  private async limited(limited: AccountLimited): Promise<void> {
    const until = Date.parse(limited.until);
    const known = this.limits.get(limited.account);
    if (!(Date.parse(known?.until ?? '') >= until)) this.limits.set(limited.account, limited);
    this.onLimited(limited.project, this.waitNote(limited), until);
    // A job its worker launched no agent for waits too; the job that hit the limit notifies (its signal may come
    // after). Several running jobs of the account may hit the same limit: the first one's signal notifies.
    // (Patched: a host worker may run a newer job than the batch's worker; its runs before notified for any.)
    if (limited.notLaunched && patched(LIMIT_NOTICE_FROM_LAUNCHED_JOB_PATCH)) return;
    const notifiedUntil = this.notified.get(limited.account) ?? NaN;
    if (!(notifiedUntil >= until)) this.notified.set(limited.account, until);
    if (notifiedUntil > Date.now()) return;
    try {
      await sendNotification({
        type: 'usage_limit_wait',
        project: limited.project,
        until: limited.until,
        workflowId: limited.workflowId,
        message: `${limited.message} — jobs of the same agent account wait for the reset too`,
      });
    } catch (err) {
      // A notification is a courtesy: its failure never fails or changes the batch.
      if (isCancellation(err)) throw err;
      log.warn(`notification usage_limit_wait failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
