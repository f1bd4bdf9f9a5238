// The exit grace: an agent that has printed its complete result but does not exit (something it started, an MCP
// server or a background shell, keeps it alive) is given [agent] exit_grace to exit on its own; then it is to be
// stopped, and its outcome, cost and turns read from the printed result instead of being lost to a timeout.
// stdout is read as it grows: only when it changed, only its tail first, and the parse only once the tail hints at
// a result.
import type { AgentConfig } from '../config';
import { formatDuration } from '../lib/duration';
import { hasPrintedResult, mayHoldResult } from '../agents/printedResult';
import { readTail } from './process';

/** How often the growing output is looked at. */
const LOOK_EVERY_MS = 500;
const HINT_BYTES = 64 * 1024;
/** As the final parse: the whole output up to this size, else its tail (the result comes last). */
const WHOLE_MAX_BYTES = 8 * 1024 * 1024;
const TAIL_BYTES = 1024 * 1024;

export interface ExitGraceWatch {
  /** True once the output holds the complete result. */
  resultPrinted: () => boolean;
  stop: () => void;
}

/**
 * Watches `stdoutPath`; once it holds the agent's complete result, logs so and, `agent.exitGraceMs` later, calls
 * `onGraceOver` (unless stopped first: the agent exited, or was stopped for another reason).
 */
export function watchExitGrace(
  stdoutPath: string,
  agent: Pick<AgentConfig, 'profile' | 'outputFormat' | 'exitGraceMs'>,
  /** Names the agent in the log line, e.g. "<project>: agent pid <pid>". */
  who: string,
  log: (msg: string) => void,
  onGraceOver: () => void,
): ExitGraceWatch {
  let printed = false;
  let stopped = false;
  let lastSize = -1;
  let looking = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const look = async () => {
    if (looking || printed || stopped) return;
    looking = true;
    try {
      if (!(await holdsResult())) return;
      if (stopped) return;
      printed = true;
      clearInterval(poll);
      log(`${who} printed its result; it has ${formatDuration(agent.exitGraceMs)} ([agent] exit_grace) to exit`);
      graceTimer = setTimeout(() => !stopped && onGraceOver(), agent.exitGraceMs);
    } catch {
      // the output cannot be read now: the next look tries again
    } finally {
      looking = false;
    }
  };
  const holdsResult = async (): Promise<boolean> => {
    const tail = await readTail(stdoutPath, HINT_BYTES);
    if (tail.size === lastSize) return false;
    lastSize = tail.size;
    if (!mayHoldResult(agent.profile, tail.data.toString('utf8'))) return false;
    const out = await readTail(stdoutPath, tail.size <= WHOLE_MAX_BYTES ? WHOLE_MAX_BYTES : TAIL_BYTES);
    return hasPrintedResult(agent.profile, agent.outputFormat, out.data);
  };
  const poll = setInterval(() => void look(), LOOK_EVERY_MS);
  void look();
  return {
    resultPrinted: () => printed,
    stop: () => {
      stopped = true;
      clearInterval(poll);
      clearTimeout(graceTimer);
    },
  };
}
