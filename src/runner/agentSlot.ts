// Waiting for one of this worker's agent slots (orchestrator.concurrency per worker), heartbeating meanwhile.
import { CancelledFailure } from '@temporalio/common';
import { leaseLost } from '../temporal/failures';
import type { AgentHeartbeatWriter } from '../temporal/types';

/** What waiting for a slot needs of the activity attempt. */
export interface SlotWaiter {
  heartbeat: AgentHeartbeatWriter;
  cancelSignal: AbortSignal;
  /** Resolves with the slot's release once one is free. */
  acquireSlot: () => Promise<() => void>;
  isLeaseLost?: () => boolean;
}

/**
 * Waits for a free agent slot, heartbeating every `everyMs`, and gives up on cancellation. A slot granted after
 * the wait gave up is released at once: a cancelled wait must not keep a slot from the worker's other jobs.
 */
export async function acquireSlot(ctx: SlotWaiter, everyMs: number): Promise<() => void> {
  // A stale attempt's wait ends without a cancel: the job is not cancelled, and nothing is recorded.
  const why = () =>
    ctx.isLeaseLost?.()
      ? leaseLost('this attempt is no longer current; it stopped waiting for an agent slot')
      : new CancelledFailure('cancelled while waiting for an agent slot');
  if (ctx.cancelSignal.aborted) throw why();
  const beat = setInterval(() => ctx.heartbeat({ phase: 'waiting for a free agent slot' }), everyMs);
  const slot = ctx.acquireSlot();
  try {
    const cancelled = new Promise<never>((_, reject) => {
      if (ctx.cancelSignal.aborted) reject(why());
      ctx.cancelSignal.addEventListener('abort', () => reject(why()));
    });
    cancelled.catch(() => undefined);
    return await Promise.race([slot, cancelled]);
  } catch (e) {
    // Given back as soon as it is granted (or at once, if it was granted in the same tick).
    void slot.then((release) => release());
    throw e;
  } finally {
    clearInterval(beat);
  }
}
