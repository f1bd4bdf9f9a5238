// A running launch's progress, read from its run folder as the output files grow (so a worker that adopts a
// launch after a restart reads the same): the agent's event stream folded into turn, tool, text, tokens and
// cost so far; and when it last wrote anything, for stall_timeout. Reading the files is all it does: it stops
// nothing itself, it tells the watch loop.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ProgressTracker, type StreamProgress } from '../agents/progress';
import { lastNonEmptyLine } from '../agents/text';
import { formatDuration } from '../lib/duration';
import type { AgentHeartbeat } from '../temporal/types';
import type { AgentProgress } from '../temporal/heartbeat';
import { readTail } from './process';
import { STDERR_FILE, STDOUT_FILE } from './runFolder';

/** On the first look at a big file (an adopted launch), only its last part is read: the rest is history. */
const FIRST_READ_MAX_BYTES = 1024 * 1024;
/** Bytes read per look at most, so that a burst of output cannot hold the heartbeat up. */
const READ_MAX_BYTES = 4 * 1024 * 1024;
/** A single line longer than this is skipped (a huge tool result): progress needs none of it. */
const LINE_MAX_BYTES = 8 * 1024 * 1024;

/** Follows stdout.log as it grows, line by line, and feeds the lines to a ProgressTracker. */
export class StreamFollower {
  private offset = 0;
  private first = true;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private skipping = false;
  readonly tracker = new ProgressTracker();

  /** `startAt`: the byte to read from (what is before it is not this job's), else the whole file. */
  constructor(
    readonly file: string,
    startAt?: number,
  ) {
    if (startAt !== undefined) {
      this.offset = startAt;
      this.first = false;
    }
  }

  /** Reads what was written since the last call. */
  async poll(): Promise<void> {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(this.file, 'r');
      const { size } = await handle.stat();
      if (size < this.offset) this.offset = 0; // replaced: start over
      if (this.first && size > FIRST_READ_MAX_BYTES) {
        this.offset = size - FIRST_READ_MAX_BYTES;
        this.skipping = true; // the first line read is a part of one
      }
      this.first = false;
      const length = Math.min(size - this.offset, READ_MAX_BYTES);
      if (length <= 0) return;
      const data = Buffer.alloc(length);
      const { bytesRead } = await handle.read(data, 0, length, this.offset);
      this.offset += bytesRead;
      this.take(data.subarray(0, bytesRead));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    } finally {
      await handle?.close();
    }
  }

  private take(data: Buffer): void {
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
      const piece = data.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
      } else {
        this.tracker.addLine(Buffer.concat([...this.partial, piece]).toString('utf8'));
      }
      this.partial = [];
      this.partialBytes = 0;
    }
    const rest = data.subarray(start);
    if (rest.length === 0) return;
    this.partialBytes += rest.length;
    if (this.partialBytes > LINE_MAX_BYTES) {
      this.partial = [];
      this.partialBytes = 0;
      this.skipping = true;
    } else if (!this.skipping) this.partial.push(Buffer.from(rest));
  }
}

/** The heartbeat's progress fields of what an event stream said so far (only those it has). */
export function progressFields(p: StreamProgress): Omit<AgentProgress, 'lastOutputAt'> {
  return {
    ...(p.turn > 0 ? { turn: p.turn } : {}),
    ...(p.tool ? { tool: p.tool } : {}),
    ...(p.text ? { text: p.text } : {}),
    ...(p.tokens ? { tokens: p.tokens } : {}),
    ...(p.costUsd !== null ? { costUsd: p.costUsd } : {}),
    ...(p.retry ? { retry: p.retry } : {}),
    ...(p.rateLimit ? { rateLimit: p.rateLimit } : {}),
    ...(p.lastEvent ? { lastEvent: p.lastEvent } : {}),
  };
}

/** What a launch's event stream says it did so far (the last part of a big stream only): for a stopped launch. */
export async function progressSoFar(dir: string): Promise<StreamProgress> {
  const f = new StreamFollower(path.join(dir, STDOUT_FILE));
  await f.poll();
  return f.tracker.snapshot();
}

/** The time the launch last wrote output (ms since the epoch): the later of its output files' mtimes. */
async function lastOutputAt(dir: string, fallback: number): Promise<number> {
  const times = await Promise.all(
    [STDOUT_FILE, STDERR_FILE].map((f) =>
      fs.stat(path.join(dir, f)).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  return Math.max(fallback, ...times);
}

export interface LaunchProgress {
  heartbeat: AgentHeartbeat;
  /** Set when the agent has been silent for stall_timeout: why it is stopped. */
  stalled: string | null;
}

/** Watches one launch's run folder: each look gives the heartbeat and says whether the agent stalled. */
export class LaunchMonitor {
  private readonly stream: StreamFollower;

  constructor(
    private readonly dir: string,
    private readonly startedAt: number,
    private readonly stallTimeoutMs: number | null,
  ) {
    this.stream = new StreamFollower(path.join(dir, STDOUT_FILE));
  }

  async look(now = Date.now()): Promise<LaunchProgress> {
    const stdoutPath = path.join(this.dir, STDOUT_FILE);
    const [out, err, lastAt] = await Promise.all([
      readTail(stdoutPath, 2048),
      readTail(path.join(this.dir, STDERR_FILE), 2048),
      lastOutputAt(this.dir, this.startedAt),
      this.stream.poll(),
    ]);
    const text = out.data.length > 0 ? out.data.toString('utf8') : err.data.toString('utf8');
    const p = this.stream.tracker.snapshot();
    const heartbeat: AgentHeartbeat = {
      bytes: out.size + err.size,
      lastLine: (lastNonEmptyLine(text) ?? '').slice(0, 200),
      lastOutputAt: new Date(lastAt).toISOString(),
      ...progressFields(p),
    };
    const silentMs = now - lastAt;
    const stalled =
      this.stallTimeoutMs !== null && silentMs >= this.stallTimeoutMs
        ? `stalled: no output for ${formatDuration(this.stallTimeoutMs)}, last event: ${
            p.lastEvent ?? (heartbeat.lastLine || 'none')
          }`
        : null;
    return { heartbeat, stalled };
  }
}
