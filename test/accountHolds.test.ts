// The worker's own account holds: what a job in flight gets instead of an agent once the worker knows its
// account is at the usage limit (until the reset) or, in the same batch, not logged in.
import { WorkerAccountHolds } from '../src/runner/accountHolds';
import { Semaphore } from '../src/lib/semaphore';
import { bareRunResult } from '../src/temporal/types';

const plan = (project: string, account = 'claude@local:abc') => ({
  project,
  account,
  usageLimitMarginMs: 60_000,
  usageLimitBackoffMs: 300_000,
});
const T0 = Date.parse('2026-12-01T12:00:00Z');

describe('worker account holds', () => {
  test('a usage limit with a reset time holds the account until the reset plus the margin', () => {
    const holds = new WorkerAccountHolds();
    const resetsAt = '2026-12-01T13:00:00.000Z';
    holds.note(plan('a'), 'cycle', bareRunResult('usage_limit', 'a: limit', { usageLimitResetsAt: resetsAt }), T0);
    const held = holds.heldResult(plan('b'), undefined, T0 + 1000);
    expect(held).toMatchObject({ outcome: 'usage_limit', usageLimitResetsAt: resetsAt, notLaunched: true });
    expect(held?.message).toMatch(/^b: not started: its agent account is at its usage limit/);
    // Another account runs; the held one runs again after the reset plus the margin.
    expect(holds.heldResult(plan('c', 'codex@local:def'), undefined, T0 + 1000)).toBeNull();
    expect(holds.heldResult(plan('b'), undefined, Date.parse(resetsAt) + 59_000)).not.toBeNull();
    expect(holds.heldResult(plan('b'), undefined, Date.parse(resetsAt) + 60_000)).toBeNull();
  });

  test('without a reset time the hold lasts the back-off; a success of the account lifts it', () => {
    const holds = new WorkerAccountHolds();
    holds.note(plan('a'), undefined, bareRunResult('usage_limit', 'a: limit'), T0);
    expect(holds.heldResult(plan('b'), undefined, T0 + 299_000)?.usageLimitResetsAt).toBeNull();
    expect(holds.heldResult(plan('b'), undefined, T0 + 300_000)).toBeNull();
    holds.note(plan('a'), undefined, bareRunResult('usage_limit', 'a: limit'), T0);
    // A job that started before the limit and ends well after it says nothing about the reset; one started after does.
    holds.note(plan('d'), undefined, bareRunResult('succeeded', 'd: done', { durationMs: 5000 }), T0 + 1000);
    expect(holds.heldResult(plan('b'), undefined, T0 + 1001)).not.toBeNull();
    holds.note(plan('e'), undefined, bareRunResult('succeeded', 'e: done', { durationMs: 500 }), T0 + 1000);
    expect(holds.heldResult(plan('b'), undefined, T0 + 1001)).toBeNull();
  });

  test('an auth failure holds the account only in its batch; held results teach nothing', () => {
    const holds = new WorkerAccountHolds();
    holds.note(plan('a'), 'cycle-1', bareRunResult('agent_error', 'a: Not logged in', { authFailure: true }), T0);
    expect(holds.heldResult(plan('b'), 'cycle-1', T0 + 1)).toMatchObject({
      outcome: 'agent_error',
      authFailure: true,
      notLaunched: true,
      message: expect.stringMatching(/^b: not started: its agent account is not logged in — a: Not logged in/),
    });
    expect(holds.heldResult(plan('b'), 'cycle-2', T0 + 1)).toBeNull();
    expect(holds.heldResult(plan('b'), undefined, T0 + 1)).toBeNull();
    const heldLimit = bareRunResult('usage_limit', 'b: not started', { notLaunched: true });
    holds.note(plan('b'), undefined, heldLimit, T0);
    expect(holds.heldResult(plan('c'), undefined, T0 + 1)).toBeNull();
  });

  test('a plan without an account (an older run) is never held', () => {
    const holds = new WorkerAccountHolds();
    holds.note(plan('a'), undefined, bareRunResult('usage_limit', 'a: limit'), T0);
    expect(holds.heldResult({ ...plan('b'), account: undefined }, undefined, T0 + 1)).toBeNull();
  });
});

test('a semaphore grown by n wakes n waiters, then has n more free slots', async () => {
  const s = new Semaphore(1);
  const first = await s.acquire();
  const woken: number[] = [];
  const waiters = [1, 2, 3].map((n) => s.acquire().then((release) => (woken.push(n), release)));
  s.grow(2);
  await new Promise((r) => setImmediate(r));
  expect(woken).toEqual([1, 2]);
  expect(s.size).toBe(3);
  first();
  await waiters[2];
  expect(woken).toEqual([1, 2, 3]);
  expect(s.inUse).toBe(3);
});
