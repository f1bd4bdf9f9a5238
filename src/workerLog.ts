// The foreground worker's log. A job that ends badly for a reason the user acts on (a setup error, max turns, an
// agent error) is one line: project, outcome, message, log folder. The SDK would log it as a multi-line
// "Workflow failed" warning with the error's stack; orchestrate builds expected failures without a stack (see
// temporal/failures.ts), which is how this log tells them from real internal errors, which keep their block.
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { isSetupFailure } from './temporal/failures';
import { DefaultLogger, type LogLevel, type LogMetadata, type Logger } from '@temporalio/worker';

/** What the job's last agent run left behind, as its activity returned it. */
interface LastRun {
  outcome: string;
  logPath?: string;
}

const MAX_REMEMBERED = 1000;

export class WorkerLog implements Logger {
  private readonly lastRuns = new Map<string, LastRun>();
  private readonly inner: Logger;

  constructor(level: LogLevel, inner?: Logger) {
    this.inner = inner ?? new DefaultLogger(level);
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const line = message === 'Workflow failed' ? this.expectedFailureLine(meta) : null;
    if (line === null) this.inner.log(level, message, meta);
    else this.inner.log('WARN', line);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }

  /**
   * Records each activity's agent-run result (outcome and run folder) by workflow, for the failure line. The
   * workflow's own failure reaches the log through the sandbox boundary as a bare message.
   */
  readonly activityInterceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      execute: async (input, next) => {
        const workflowId = ctx.info.workflowExecution?.workflowId;
        try {
          const result = await next(input);
          if (workflowId) this.remember(workflowId, result);
          return result;
        } catch (e) {
          if (workflowId) this.remember(workflowId, { outcome: isSetupFailure(e) ? 'setup_error' : 'failed' });
          throw e;
        }
      },
    },
  });

  private remember(workflowId: string, result: unknown): void {
    const r = result as Partial<LastRun> | null;
    if (!r || typeof r !== 'object' || typeof r.outcome !== 'string') return;
    this.lastRuns.delete(workflowId);
    this.lastRuns.set(workflowId, {
      outcome: r.outcome,
      logPath: typeof r.logPath === 'string' ? r.logPath : undefined,
    });
    if (this.lastRuns.size > MAX_REMEMBERED) this.lastRuns.delete(this.lastRuns.keys().next().value as string);
  }

  private expectedFailureLine(meta: LogMetadata | undefined): string | null {
    const error = meta?.error as { message?: unknown; stack?: unknown } | undefined;
    if (!error || typeof error.message !== 'string') return null;
    if (typeof error.stack === 'string' && /\n\s+at /.test(error.stack)) return null;
    const workflowId = typeof meta?.workflowId === 'string' ? meta.workflowId : '?';
    const last = this.lastRuns.get(workflowId);
    this.lastRuns.delete(workflowId);
    const parts = [
      `${workflowId} failed`,
      ...(last ? [last.outcome] : []),
      error.message,
      ...(last?.logPath ? [`log folder ${last.logPath}`] : []),
    ];
    return parts.join(' · ');
  }
}
