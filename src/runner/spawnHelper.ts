// The spawn helper: a tiny Node process that starts agents on the worker's behalf. Forking a process copies its
// page tables, so a worker of a few hundred MB blocks its event loop for tens of milliseconds on every agent it
// starts itself; the helper is a bare `node` with nothing loaded, and forks in a millisecond or two.
//
// The worker starts it on its first launch (and again after it went idle or died), and talks to it in JSON lines
// over its stdin and stdout: a request names the command, argv, folder, full environment and the run folder's files
// for stdio; the reply gives the pid, and a later line the exit status. The agent is still the leader of its own process group and writes
// only to files, so nothing about it depends on the helper: when the worker goes, the helper's stdin closes and it
// exits without touching the agents, which the next worker adopts from their run folders as before. A helper that
// dies or stops answering is noticed: its launch fails over to a direct spawn (see ./process), the next launch
// starts a new helper, and the exits it can no longer report are read from /proc instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { processStartTicks } from './processGroup';
import type { AgentExit } from './process';

/** Set to 0 to spawn agents from the worker itself (for debugging). */
export const SPAWN_HELPER_VAR = 'ORCHESTRATE_SPAWN_HELPER';
/**
 * A helper that has not answered a launch within this long is taken for hung: it is killed, the launch falls back.
 * Longer while it starts (a Node start-up on a loaded machine takes seconds); a dead one is noticed at once.
 */
const REPLY_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
/** A helper with nothing to do for this long is let go (the next launch starts another): none lingers idle. */
const IDLE_MS = 30_000;
/** How often an agent's end is looked for in /proc once the helper that started it is gone. */
const ORPHAN_POLL_MS = 250;

/** What the helper starts: everything resolved by the worker (the environment is the agent's whole environment). */
export interface HelperSpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  stdinPath: string | null;
}

/**
 * The helper's source, run with `node -e`: it needs no file of its own (the same from src/ under ts-jest as from
 * dist/) and loads nothing but child_process and fs; `ps` shows it as orchestrate-spawn-helper. Detached: its own
 * process group, so a Ctrl-C meant for the worker's terminal does not reach it (the worker decides when it goes,
 * by closing its stdin).
 */
const HELPER_SOURCE = String.raw`'use strict';
process.title = 'orchestrate-spawn-helper';
const { spawn } = require('node:child_process');
const { openSync, closeSync } = require('node:fs');
const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
process.stdout.on('error', () => process.exit(0));
function launch(req) {
  const fds = [];
  const open = (file, flags) => {
    const fd = openSync(file, flags, 0o600);
    fds.push(fd);
    return fd;
  };
  try {
    const stdio = [req.stdinPath ? open(req.stdinPath, 'r') : 'ignore', open(req.stdoutPath, 'a'), open(req.stderrPath, 'a')];
    const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio });
    if (child.pid === undefined) {
      child.on('error', (e) => send({ id: req.id, error: { code: e.code, message: e.message } }));
      return;
    }
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => send({ id: req.id, exit: { exitCode: code, signal } }));
    send({ id: req.id, pid: child.pid });
  } catch (e) {
    send({ id: req.id, error: { code: e.code, message: e.message } });
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line) launch(JSON.parse(line));
  }
});
process.stdin.on('end', () => process.exit(0));
send({ ready: true });
`;

/** The helper could not start an agent (it is gone, hung, or never started): the caller spawns directly. */
export class SpawnHelperUnavailable extends Error {}

/** A launch the helper reported, or why it failed. */
type Reply = { id: number; pid: number } | { id: number; error: { code?: string; message: string } };
/** A launch the helper reported, with its exit to come. */
type Started = { id: number; pid: number; exited: Promise<AgentExit> } | Extract<Reply, { error: unknown }>;

type Refable = { ref?: () => void; unref?: () => void };

interface Running {
  pid: number;
  startTicks: number | null;
  resolve: (exit: AgentExit) => void;
}

/** One helper process; a new one is started when the last one is gone. */
class SpawnHelper {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly awaitingPid = new Map<number, { settle: (r: Started | Error) => void; timer: NodeJS.Timeout }>();
  private readonly running = new Map<number, Running>();
  private lastStderr = '';
  private idleTimer: NodeJS.Timeout | null = null;
  /** The running helper has said it reads requests. */
  private ready = false;

  /** Starts the agent through the helper; resolves with its pid and its exit. Rejects with SpawnHelperUnavailable. */
  async spawn(req: HelperSpawnRequest): Promise<{ pid: number; exited: Promise<AgentExit> } | { error: Error }> {
    let child: ChildProcess;
    try {
      child = this.child ?? this.start();
    } catch (e) {
      throw new SpawnHelperUnavailable(`the spawn helper could not be started (${(e as Error).message})`);
    }
    const id = this.nextId++;
    const timeoutMs = this.ready ? REPLY_TIMEOUT_MS : START_TIMEOUT_MS;
    const reply = await new Promise<Started | Error>((settle) => {
      const timer = setTimeout(() => {
        this.awaitingPid.delete(id);
        this.holdOpen();
        settle(new SpawnHelperUnavailable(`the spawn helper (pid ${child.pid}) did not answer within ${timeoutMs} ms`));
        child.kill('SIGKILL');
      }, timeoutMs);
      this.awaitingPid.set(id, { settle, timer });
      this.holdOpen();
      child.stdin?.write(JSON.stringify({ id, ...req }) + '\n');
    });
    if (reply instanceof Error) throw reply;
    if ('error' in reply) return { error: Object.assign(new Error(reply.error.message), { code: reply.error.code }) };
    return { pid: reply.pid, exited: reply.exited };
  }

  pid(): number | null {
    return this.child?.pid ?? null;
  }

  private start(): ChildProcess {
    const child = spawn(process.execPath, ['-e', HELPER_SOURCE], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Only what node itself needs: the agents get their whole environment with each request.
      env: { PATH: process.env.PATH ?? '' },
    });
    this.child = child;
    this.ready = false;
    this.lastStderr = '';
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line) this.onLine(line);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (this.lastStderr = (this.lastStderr + chunk).slice(-2000)));
    // A write to a helper that just died fails with EPIPE: its exit below says so.
    child.stdin?.on('error', () => undefined);
    // 'close', not 'exit': the replies it wrote before it went are read first.
    child.on('error', () => this.gone(child));
    child.on('close', () => this.gone(child));
    // The helper keeps this process alive only while it owes it an answer (a pid, an exit), as a child would;
    // it goes when this process does (its stdin closes).
    child.unref();
    for (const s of [child.stdin, child.stderr]) (s as unknown as Refable | null)?.unref?.();
    this.holdOpen();
    return child;
  }

  /**
   * Reads the helper's replies with the event loop held open only while some are owed; a helper that owes none
   * is let go after IDLE_MS.
   */
  private holdOpen(): void {
    const out = this.child?.stdout as unknown as Refable | null | undefined;
    const busy = this.awaitingPid.size + this.running.size > 0;
    if (busy) out?.ref?.();
    else out?.unref?.();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (busy || !this.child) return;
    this.idleTimer = setTimeout(() => this.retire(), IDLE_MS);
    this.idleTimer.unref();
  }

  /** Lets an idle helper go: forgotten first (its exit is no failure), it exits when its stdin closes. */
  private retire(): void {
    const child = this.child;
    if (!child || this.awaitingPid.size + this.running.size > 0) return;
    this.child = null;
    child.stdin?.end();
  }

  private onLine(line: string): void {
    let msg: Reply | { id: number; exit: AgentExit } | { ready: true };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return; // not one of its replies (node printed something): the launch waiting for it times out
    }
    if ('ready' in msg) {
      this.ready = true;
      return;
    }
    if ('exit' in msg) {
      const run = this.running.get(msg.id);
      this.running.delete(msg.id);
      this.holdOpen();
      run?.resolve(msg.exit);
      return;
    }
    const waiting = this.awaitingPid.get(msg.id);
    if (!waiting) return;
    this.awaitingPid.delete(msg.id);
    clearTimeout(waiting.timer);
    if ('error' in msg) {
      this.holdOpen();
      waiting.settle(msg);
      return;
    }
    // Registered now, not when the caller resumes: the exit may be on the next line of the same read.
    const { id, pid } = msg;
    const exited = new Promise<AgentExit>((resolve) => {
      this.running.set(id, { pid, startTicks: processStartTicks(pid), resolve });
    });
    this.holdOpen();
    waiting.settle({ id, pid, exited });
  }

  /** The helper exited (or could not be started): its launches fall back, its agents are watched in /proc. */
  private gone(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = null;
    const why = this.lastStderr.trim().split('\n').at(-1);
    for (const [id, waiting] of this.awaitingPid) {
      clearTimeout(waiting.timer);
      waiting.settle(
        new SpawnHelperUnavailable(
          `the spawn helper (pid ${child.pid ?? '?'}) exited${child.exitCode !== null ? ` with code ${child.exitCode}` : ''}${child.signalCode ? ` by ${child.signalCode}` : ''}${why ? `: ${why}` : ''}`,
        ),
      );
      this.awaitingPid.delete(id);
    }
    for (const [id, run] of this.running) this.orphaned(id, run);
  }

  /** Its helper is gone, so nobody reports this agent's exit: it ended when its pid no longer names it. */
  private orphaned(id: number, run: Running): void {
    this.running.delete(id);
    const poll = setInterval(() => {
      const ticks = processStartTicks(run.pid);
      if (ticks !== null && (run.startTicks === null || ticks === run.startTicks)) return;
      clearInterval(poll);
      // The wrapper's exit file has the status (the caller reads it first).
      run.resolve({ exitCode: null, signal: null });
    }, ORPHAN_POLL_MS);
  }
}

let shared: SpawnHelper | null = null;

/** Whether agents are started through the helper (the default) or by the worker itself (SPAWN_HELPER_VAR=0). */
export function spawnHelperEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[SPAWN_HELPER_VAR] !== '0';
}

/** Starts an agent through this process's helper (started on first use, and again after it died). */
export function spawnThroughHelper(
  req: HelperSpawnRequest,
): Promise<{ pid: number; exited: Promise<AgentExit> } | { error: Error }> {
  shared ??= new SpawnHelper();
  return shared.spawn(req);
}

/** The running helper's pid, if one runs (for tests and diagnostics). */
export function spawnHelperPid(): number | null {
  return shared?.pid() ?? null;
}
