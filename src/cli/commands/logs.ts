// `orchestrate logs <project|workflowId> [-f]`: a job's agent output from its run folder
// (<state_dir>/runs/<project>/<run key>/attempt-<n>/stdout.log and stderr.log). The agent's stdout goes to
// stdout, an event stream rendered as a conversation (`--raw`: as written), and its stderr to stderr. Without
// `-f` it reads the newest run folder from disk alone; `-f` asks the server for the job's run, follows it while
// it runs and stops when it ends.
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config';
import { jobWorkflowId } from '../../temporal/ids';
import { getConfig, print, tryConnect } from '../common';
import { EXIT, UserError } from '../errors';
import { ConversationRenderer, wantsColor } from '../render/conversation';
import { STDERR_FILE, STDOUT_FILE, agentStillRuns } from '../../runner/runFiles';

const POLL_MS = 300;

export interface LogTarget {
  project: string;
  workflowId: string;
}

export function resolveLogTarget(config: Config, arg: string): LogTarget {
  if (config.projects[arg]) return { project: arg, workflowId: jobWorkflowId(arg) };
  if (arg.startsWith('job/') && arg.length > 4) return { project: arg.slice(4), workflowId: arg };
  if (existsSync(path.join(config.orchestrator.stateDir, 'runs', arg))) {
    return { project: arg, workflowId: jobWorkflowId(arg) };
  }
  const known = Object.keys(config.projects);
  throw new UserError(
    `"${arg}" is neither a project nor a job's workflow ID (job/<project>) — known projects: ${known.join(', ') || '(none)'}`,
  );
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * The folder of the job's latest agent attempt: in the workflow run `runId` when given (its run key ends
 * with the run ID, plus `-r<n>` for each rerun after a usage-limit wait), else the newest run of the project.
 */
export async function latestAttemptDir(stateDir: string, project: string, runId?: string): Promise<string | null> {
  const base = path.join(stateDir, 'runs', project);
  let runs = await listDirs(base);
  if (runId) {
    // The run key ends with the run ID (older runs: its first 8 characters), plus -r<n> for each rerun.
    const esc = (s: string) => s.replace(/[^A-Za-z0-9]/g, (c) => `\\${c}`);
    const full = new RegExp(`-${esc(runId)}(?:-r(\\d+))?$`);
    const short = new RegExp(`-${esc(runId.slice(0, 8))}(?:-r(\\d+))?$`);
    const re = runs.some((n) => full.test(n)) ? full : short;
    const rerun = (n: string) => Number(re.exec(n)?.[1] ?? 0);
    runs = runs.filter((n) => re.test(n)).sort((a, b) => rerun(a) - rerun(b));
  }
  for (const run of runs.reverse()) {
    const attempts = (await listDirs(path.join(base, run)))
      .filter((n) => /^attempt-\d+$/.test(n))
      .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
      .reverse();
    for (const a of attempts) {
      const dir = path.join(base, run, a);
      if (existsSync(path.join(dir, STDOUT_FILE)) || existsSync(path.join(dir, STDERR_FILE))) return dir;
    }
  }
  return null;
}

function write(out: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (!out.write(chunk)) out.once('drain', () => resolve());
    else resolve();
  });
}

/** Copies what `file` gained since the last call to `out`, through `render` when given. */
async function pump(
  file: string,
  out: NodeJS.WritableStream,
  offsets: Map<string, number>,
  render?: ConversationRenderer,
): Promise<void> {
  let fh;
  try {
    fh = await fs.open(file, 'r');
  } catch {
    return; // not created yet
  }
  try {
    const { size } = await fh.stat();
    let pos = offsets.get(file) ?? 0;
    if (size < pos) pos = 0;
    const buf = Buffer.alloc(256 * 1024);
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (!bytesRead) break;
      const chunk = Buffer.from(buf.subarray(0, bytesRead));
      await write(out, render ? Buffer.from(render.push(chunk.toString('utf8'))) : chunk);
      pos += bytesRead;
    }
    offsets.set(file, pos);
  } finally {
    await fh.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JobState {
  runId: string;
  running: boolean;
}

async function jobState(client: Client, workflowId: string): Promise<JobState | null> {
  const { WorkflowNotFoundError } = await import('@temporalio/client');
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return { runId: d.runId, running: d.status.name === 'RUNNING' };
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  }
}

/** How `logs` shows an attempt folder: only its path, or its output (rendered unless raw). */
interface ShowOptions {
  pathOnly?: boolean;
  raw?: boolean;
}

export async function showLogs(
  config: Config,
  target: LogTarget,
  opts: ShowOptions & { follow?: boolean } = {},
): Promise<number> {
  return opts.follow ? followLogs(config, target, opts) : printLogs(config.orchestrator.stateDir, target, opts);
}

const note = (m: string) => process.stderr.write(`${m}\n`);

function noOutputYet(stateDir: string, target: LogTarget): UserError {
  return new UserError(
    `no agent output for ${target.workflowId} yet (looked in ${path.join(stateDir, 'runs', target.project)})`,
    EXIT.failed,
  );
}

/** The `==> <folder> <==` line on stderr, before the folder's output. */
function header(dir: string, target: LogTarget, running: boolean): void {
  note(`==> ${dir} (${target.workflowId}${running ? ', running' : ''}) <==`);
}

/** A conversation renderer for the agent's stdout, or none with --raw. */
function rendererFor(opts: ShowOptions): ConversationRenderer | undefined {
  return opts.raw ? undefined : new ConversationRenderer(wantsColor(process.stdout));
}

/** Copies what the attempt folder's stdout and stderr gained since the last call. */
async function pumpAttempt(dir: string, offsets: Map<string, number>, render?: ConversationRenderer): Promise<void> {
  await pump(path.join(dir, STDOUT_FILE), process.stdout, offsets, render);
  await pump(path.join(dir, STDERR_FILE), process.stderr, offsets);
}

/** Ends the rendered conversation: what the renderer still held (a last line without its newline). */
async function endRendering(render?: ConversationRenderer): Promise<void> {
  const rest = render?.end();
  if (rest) await write(process.stdout, Buffer.from(rest));
}

/**
 * Without -f: the newest run folder of the project that has agent output, read from disk alone (no server, no
 * Temporal SDK: this is a command people run often and expect at once). A newer run that has not started its agent
 * yet (waiting for a slot, its account or a reset) is named, not skipped silently. Whether the agent still runs
 * is the folder's own record (runner/runFiles.ts: agentStillRuns).
 */
async function printLogs(stateDir: string, target: LogTarget, opts: ShowOptions): Promise<number> {
  const base = path.join(stateDir, 'runs', target.project);
  const newestRun = (await listDirs(base)).at(-1);
  const dir = await latestAttemptDir(stateDir, target.project);
  const waiting = newestRun && (!dir || path.relative(base, dir).split(path.sep)[0] !== newestRun) ? newestRun : null;
  const waitingNote = `the newest run of ${target.project} (${waiting}) has no agent output: its agent has not started (it waits for an agent slot, its account or a reset, or the job ended before one; \`orchestrate logs ${target.project} -f\` follows the job)`;
  if (opts.pathOnly) {
    if (waiting) throw new UserError(`${target.workflowId}: ${waitingNote}`, EXIT.failed);
    if (!dir) throw noOutputYet(stateDir, target);
    print(dir);
    return EXIT.ok;
  }
  if (!dir)
    throw waiting ? new UserError(`${target.workflowId}: ${waitingNote}`, EXIT.failed) : noOutputYet(stateDir, target);
  if (waiting) note(`note: ${waitingNote}; showing the run before it`);
  const running = agentStillRuns(dir);
  header(dir, target, running);
  const render = rendererFor(opts);
  await pumpAttempt(dir, new Map(), render);
  await endRendering(render);
  if (running) note(`(its agent still runs: \`orchestrate logs ${target.project} -f\` follows it)`);
  return EXIT.ok;
}

/** With -f: the job's own run, followed while it runs; the server says which run that is and when it ends. */
async function followLogs(config: Config, target: LogTarget, opts: ShowOptions): Promise<number> {
  const stateDir = config.orchestrator.stateDir;
  // The run folders are readable without a server; the server only says which run is the job's and whether
  // it still runs (the client library is loaded by tryConnect, not before).
  const { connected, error } = await tryConnect(config);
  if (error) note(`note: ${error.split(' — ')[0]}; showing the newest run folder of ${target.project}`);
  try {
    let state = connected ? await jobState(connected.client, target.workflowId) : null;
    if (connected && !state)
      note(`note: no workflow ${target.workflowId} on the server; showing the newest run folder`);
    const findDir = () => latestAttemptDir(stateDir, target.project, state?.runId);
    let dir = await findDir();
    if (!dir && !state?.running) throw noOutputYet(stateDir, target);
    if (opts.pathOnly) {
      if (!dir)
        throw new UserError(`${target.workflowId} has no run folder yet (the agent has not started)`, EXIT.failed);
      print(dir);
      return EXIT.ok;
    }
    const offsets = new Map<string, number>();
    let render = rendererFor(opts);
    let shown: string | null = null;
    let waitNoted = false;
    for (;;) {
      if (dir && dir !== shown) {
        header(dir, target, Boolean(state?.running));
        shown = dir;
        offsets.clear();
        render = rendererFor(opts);
      }
      if (!dir && !waitNoted) {
        note(`${target.workflowId}: waiting for the agent to start …`);
        waitNoted = true;
      }
      if (dir) await pumpAttempt(dir, offsets, render);
      if (!state?.running || !connected) break;
      await sleep(POLL_MS);
      // Read the state before the folder: the last pass after the job ended drains everything it wrote.
      state = (await jobState(connected.client, target.workflowId)) ?? state;
      dir = (await findDir()) ?? dir;
    }
    await endRendering(render);
    // The loop ends once the job does (or with no server to ask): its outcome, when the server has it.
    if (connected && state) {
      const { jobResult } = await import('../../temporal/client');
      const r = await jobResult(connected.client.workflow.getHandle(target.workflowId), target.project);
      note(`${target.workflowId} finished: ${r.outcome}${r.outcome === 'succeeded' ? '' : ` — ${r.message}`}`);
    }
    return EXIT.ok;
  } finally {
    await connected?.connection.close();
  }
}

export async function logs(
  arg: string,
  opts: { follow?: boolean; path?: boolean; raw?: boolean },
  cmd: Command,
): Promise<number> {
  const config = await getConfig(cmd);
  const target = resolveLogTarget(config, arg);
  // `orchestrate logs x | head` closes stdout early: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
  });
  return showLogs(config, target, { follow: opts.follow, pathOnly: opts.path, raw: opts.raw });
}
