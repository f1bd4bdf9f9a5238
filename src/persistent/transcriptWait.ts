// Claude Code runs its Stop hook as the turn ends, and may append the turn's last entries to the transcript a
// moment later: an answer not there yet is looked for again for a short while before the pane is used instead.

/** How long after the Stop hook the transcript may still be catching up. */
export const TRANSCRIPT_SETTLE_MS = 2000;
const POLL_MS = 100;

/** `read()` until it yields an answer or `settleMs` has passed; null when it never did. */
export async function answerOnceWritten(
  read: () => Promise<string | null>,
  settleMs: number = TRANSCRIPT_SETTLE_MS,
): Promise<string | null> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const answer = await read();
    if (answer !== null || Date.now() >= deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
