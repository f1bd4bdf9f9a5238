// Notifications: `[notify] command` runs (via `sh -c`, in the config file's folder) on job failure, on
// usage-limit waits and when the EOD digest is written, with the event as one JSON object on stdin and its
// type and one-line text in the environment. It works with ntfy (`curl -d "$ORCHESTRATE_EVENT_TEXT" ntfy.sh/x`),
// a Slack webhook (`curl -H 'Content-Type: application/json' -d @- …` after a jq), or `notify-send`.
// A hook is bounded by a timeout; a failing, slow or missing hook is logged and never fails anything.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config';
import { webUiUrl } from '../temporal/connection';
import { formatDuration } from './duration';
import { jobFailed } from './outcomes';
import { scrubDeep, scrubKeyShapes, type Scrubber } from './scrub';
import { uiWorkflowUrl } from '../temporal/ui';
import type { AgentRunResult, JobKind, JobPlan, Outcome } from '../temporal/types';

/** A hook still running after this is killed (process group). Short: it runs inside the job's activity. */
export const NOTIFY_TIMEOUT_MS = 10_000;
/** `text` (and $ORCHESTRATE_EVENT_TEXT: environment strings are capped by the OS) is one readable line. */
const TEXT_MAX_CHARS = 1000;

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

interface EventCommon {
  /** When the event happened (ISO). Filled in by notify() when missing. */
  at?: string;
  /** The machine that sent it. Filled in by notify() when missing. */
  host?: string;
  /** One human line, e.g. for `notify-send` or a chat message. Filled in by notify() when missing. */
  text?: string;
}

/** A job ended in anything but success or a cancel (after its last attempt). */
export interface JobFailedEvent extends EventCommon {
  type: 'job_failed';
  project: string;
  kind: JobKind;
  outcome: Outcome;
  message: string;
  workflowId: string;
  runId: string;
  attempt: number;
  durationMs: number | null;
  costUsd: number | null;
  logPath: string | null;
  webUrl: string;
}

/** A job hit the agent's usage limit and waits for the reset before it tries again. */
export interface UsageLimitWaitEvent extends EventCommon {
  type: 'usage_limit_wait';
  project: string;
  /** When the job will try again (ISO). */
  until: string;
  workflowId?: string;
  message?: string;
  webUrl?: string;
}

/** The EOD digest of a day was written. */
export interface EodDigestEvent extends EventCommon {
  type: 'eod_digest';
  date: string;
  path: string;
  totalUsd: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Projects whose EOD failed, with why. */
  failures: Array<{ project: string; status: string; reason: string }>;
}

export type NotifyEvent = JobFailedEvent | UsageLimitWaitEvent | EodDigestEvent;
export type NotifyEventType = NotifyEvent['type'];

export interface NotifyResult {
  /** False when no hook is configured. */
  ran: boolean;
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Why it failed, for the log. */
  error: string | null;
}

export interface NotifyOptions {
  timeoutMs?: number;
  /** Where a failing hook is reported (default: stderr). Activities pass their logger's warn. */
  log?: (message: string) => void;
  /** The secrets of the job the event is about (default: only what is shaped like a key). */
  scrub?: Scrubber;
}

export function eventText(e: NotifyEvent): string {
  switch (e.type) {
    case 'job_failed': {
      const why = e.message.startsWith(`${e.project}: `) ? e.message.slice(e.project.length + 2) : e.message;
      return `${e.project}: ${e.kind} job ${e.outcome}${e.durationMs ? ` after ${formatDuration(e.durationMs)}` : ''} — ${why}`;
    }
    case 'usage_limit_wait':
      return `${e.project}: usage limit reached; the job waits until ${e.until}${e.message ? ` — ${e.message}` : ''}`;
    case 'eod_digest':
      return `EOD ${e.date}: ${e.succeeded} succeeded, ${e.failed} failed, ${e.skipped} skipped · $${e.totalUsd.toFixed(2)} · ${e.path}`;
  }
}

/**
 * Runs the configured hook for `event` and waits for it (at most `timeoutMs`). Never throws: a hook that
 * fails, times out or cannot start is logged through `opts.log` and reported in the result.
 */
export async function notify(
  config: Pick<Config, 'notify' | 'configPath'>,
  event: NotifyEvent,
  opts: NotifyOptions = {},
): Promise<NotifyResult> {
  const command = config.notify.command;
  if (!command) return { ran: false, ok: true, exitCode: null, signal: null, timedOut: false, error: null };
  // The one way out of every notification: scrubbed of the job's secrets (or, without them, of key shapes).
  const full: NotifyEvent = scrubDeep(
    {
      ...event,
      at: event.at ?? new Date().toISOString(),
      host: event.host ?? os.hostname(),
      text: clip(event.text ?? eventText(event), TEXT_MAX_CHARS),
    },
    opts.scrub ?? scrubKeyShapes,
  );
  const log = opts.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const timeoutMs = opts.timeoutMs ?? NOTIFY_TIMEOUT_MS;
  const result = await runHook(command, full, path.dirname(config.configPath), timeoutMs);
  if (!result.ok) log(`notify: [notify] command failed for the ${event.type} event: ${result.error}`);
  return result;
}

function runHook(command: string, event: NotifyEvent, cwd: string, timeoutMs: number): Promise<NotifyResult> {
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    const done = (r: Omit<NotifyResult, 'ran'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stderr?.destroy();
      resolve({ ran: true, ...r });
    };
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', command], {
        cwd,
        // Its own process group, so a timeout kills whatever the hook started too.
        detached: true,
        stdio: ['pipe', 'ignore', 'pipe'],
        env: {
          ...process.env,
          ORCHESTRATE_EVENT: event.type,
          ORCHESTRATE_EVENT_TEXT: event.text ?? '',
          ...('project' in event ? { ORCHESTRATE_PROJECT: event.project } : {}),
        },
      });
    } catch (e) {
      resolve({
        ran: true,
        ok: false,
        exitCode: null,
        signal: null,
        timedOut: false,
        error: `could not start sh: ${(e as Error).message}`,
      });
      return;
    }
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      done({
        ok: false,
        exitCode: null,
        signal: 'SIGKILL',
        timedOut: true,
        error: `still running after ${formatDuration(timeoutMs)}; killed — make the hook faster or run its slow part in the background`,
      });
    }, timeoutMs);
    child.on('error', (e) =>
      done({ ok: false, exitCode: null, signal: null, timedOut: false, error: `could not start sh: ${e.message}` }),
    );
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString('utf8')).slice(-2000);
    });
    // A hook that does not read its stdin closes it early: that is fine.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(event) + '\n');
    child.on('exit', (code, signal) => {
      const finish = () => {
        const ok = code === 0;
        const tail = stderr.trim().split('\n').slice(-3).join(' / ');
        done({
          ok,
          exitCode: code,
          signal,
          timedOut: false,
          error: ok ? null : `${signal ? `killed by ${signal}` : `exit ${code}`}${tail ? `: ${tail}` : ''}`,
        });
      };
      // Let the rest of stderr arrive, unless something the hook left in the background holds it open.
      if (!child.stderr || child.stderr.readableEnded) return finish();
      child.stderr.once('end', finish);
      setTimeout(finish, 200).unref();
    });
  });
}

/** The job_failed event for a finished attempt, or null when there is nothing to report. */
export function jobFailedEvent(
  config: Pick<Config, 'server'>,
  plan: Pick<JobPlan, 'project' | 'kind'>,
  result: Partial<AgentRunResult> & { outcome: Outcome },
  info: { workflowNamespace?: string; workflowExecution?: { workflowId: string; runId: string }; attempt: number },
  opts: { final?: boolean } = {},
): JobFailedEvent | null {
  if (!jobFailed(result.outcome)) return null;
  // The job waits for the reset and runs again (the workflow sends usage_limit_wait instead).
  if (result.outcome === 'usage_limit') return null;
  // A failure that will be retried (a crash the next attempt runs again) is not news yet.
  if (opts.final === false) return null;
  const workflowId = info.workflowExecution?.workflowId ?? '';
  const runId = info.workflowExecution?.runId ?? '';
  return {
    type: 'job_failed',
    project: plan.project,
    kind: plan.kind,
    outcome: result.outcome,
    message: result.message ?? `${plan.project}: ${result.outcome}`,
    workflowId,
    runId,
    attempt: info.attempt,
    durationMs: result.durationMs ?? null,
    costUsd: result.costUsd ?? null,
    logPath: result.logPath ?? null,
    webUrl: uiWorkflowUrl(webUiUrl(config), info.workflowNamespace ?? config.server.namespace, workflowId, runId),
  };
}
