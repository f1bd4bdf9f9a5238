// Waiting for an agent slot: a wait that is cancelled gives back the slot it would have got.
import { CancelledFailure } from '@temporalio/common';
import { acquireSlot } from '../src/runner/agentSlot';
import { Semaphore } from '../src/lib/semaphore';

const waiter = (slots: Semaphore, cancelSignal: AbortSignal) => ({
  heartbeat: () => undefined,
  cancelSignal,
  acquireSlot: () => slots.acquire(),
});

test('a wait cancelled before its slot frees never keeps the slot', async () => {
  const slots = new Semaphore(1);
  const busy = await slots.acquire();
  const abort = new AbortController();
  const waiting = acquireSlot(waiter(slots, abort.signal), 1000);
  abort.abort();
  await expect(waiting).rejects.toBeInstanceOf(CancelledFailure);
  busy();
  await new Promise((r) => setImmediate(r));
  // The slot went back: the next job gets it at once.
  expect(slots.inUse).toBe(0);
  const next = await acquireSlot(waiter(slots, new AbortController().signal), 1000);
  expect(slots.inUse).toBe(1);
  next();
});

test('a wait already cancelled takes no slot, even a free one', async () => {
  const slots = new Semaphore(1);
  const abort = new AbortController();
  abort.abort();
  await expect(acquireSlot(waiter(slots, abort.signal), 1000)).rejects.toBeInstanceOf(CancelledFailure);
  await new Promise((r) => setImmediate(r));
  expect(slots.inUse).toBe(0);
});
