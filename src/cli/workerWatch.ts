// Whether anything polls the task queue a waiting command depends on. Without a worker a started job (or a
// cancel) waits in Temporal indefinitely and durably; the CLI keeps waiting but says why, within seconds, and
// says again when a worker turns up.
import type { Client } from '@temporalio/client';
import { queuePollers } from '../temporal/client';

/** What to start so that a queue gets a worker: the shared queue's or one host's. */
export function noWorkerMessage(taskQueue: string, host?: string | null): string {
  return host
    ? `no worker for host ${host} is polling task queue ${taskQueue} — start \`orchestrate worker --host ${host}\` on that machine`
    : `no worker is polling task queue ${taskQueue} — start \`orchestrate up\` or \`orchestrate worker\``;
}

export interface WorkerWatchOptions {
  client: Client;
  namespace: string;
  taskQueue: string;
  host?: string | null;
  /** What happens once a worker polls, for the notice (e.g. "the job starts then"). */
  then: string;
  /** Where the notices go (the CLI's stderr). */
  write: (line: string) => void;
  /** How often to ask the server again. */
  everyMs?: number;
}

/**
 * Asks the server now and then while a command waits; prints the no-worker notice when nothing polls the queue
 * and a short line when a worker appears. Returns the function that stops watching.
 */
export function watchForWorker(opts: WorkerWatchOptions): () => void {
  let stopped = false;
  let warned = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    let pollers: number;
    try {
      pollers = await queuePollers(opts.client, opts.namespace, opts.taskQueue);
    } catch {
      pollers = -1; // the server could not say: stay quiet rather than guess
    }
    if (stopped) return;
    if (pollers === 0 && !warned) {
      warned = true;
      opts.write(`waiting: ${noWorkerMessage(opts.taskQueue, opts.host)} (${opts.then})`);
    } else if (pollers > 0 && warned) {
      warned = false;
      opts.write(`a worker is polling task queue ${opts.taskQueue} now`);
    }
    timer = setTimeout(() => void check(), opts.everyMs ?? 5000);
    timer.unref();
  };
  void check();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
