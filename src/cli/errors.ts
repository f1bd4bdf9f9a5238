// The CLI's exit codes and the errors that carry them. Exit codes: 0 ok / job succeeded, 1 job failed,
// 2 usage, config or setup error, 3 refused because a job for that project is already running.
import type { JobResult } from '../temporal/types';

export const EXIT = { ok: 0, failed: 1, usage: 2, alreadyRunning: 3 } as const;

/** An error the user can fix; printed as one line, without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

/** Something outside orchestrate is not set up (Temporal unreachable, a port in use): exit 2. */
export class SetupError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** A job's exit code: 0 succeeded, 2 it could not start (setup error), 1 any other failure. */
export function exitCodeFor(result: Pick<JobResult, 'outcome'>): number {
  if (result.outcome === 'succeeded') return EXIT.ok;
  if (result.outcome === 'setup_error') return EXIT.usage;
  return EXIT.failed;
}
