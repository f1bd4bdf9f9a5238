// Jobs of persistent projects (orchestrator.persistent): instead of a `claude -p` child process, the prompt goes
// into a long-lived interactive agent in the project's tmux session, `<session_prefix><project>` on the
// orchestrator's own tmux socket, which a person can attach to at any time.
//
//   ensure the session  created if missing, in the project folder, running [agent] interactive_command with
//                       `--settings <file>`: a Stop hook that writes a completion marker named after the
//                       nonce of the job in progress. The agent's environment is passed explicitly (tmux
//                       sessions get the tmux server's environment, not ours).
//   wait until ready    the input prompt is drawn, the agent is not busy, and the screen is still.
//   inject              the prompt literally (send-keys -l, never key names), checked to have reached the input
//                       line (a TUI that just started drops keys: typed again); then Enter on its own, pressed
//                       again while the text still sits in the input line.
//   wait                for this job's Stop-hook marker; fallback for agents without hooks: the pane has been
//                       quiet at its idle prompt for idle_seconds. Heartbeats meanwhile.
//   result              the agent's text for this prompt, from the transcript the hook names, else from the pane.
//   timeout / cancel    interrupt the agent (Escape, then C-c), keep the session; timed_out / CancelledFailure.
//   session died        AgentCrashed, retryable once: the next attempt creates the session again; a second death
//                       under the same job is final.
//   worker deployed     (on_shutdown = "detach") the agent is left working; WorkerShutdown (retryable), and the
//                       next attempt of the same job adopts it (job.json in the session folder): it waits for the
//                       same nonce instead of sending the prompt again.
//
// Sessions are never killed here, except one whose agent has already exited (it is replaced).
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { formatDuration } from '../lib/duration';
import { parseUsageLimitReset, stripAnsi, truncateText } from '../agents/result';
import { readTail, resolveExecutable } from '../runner/process';
import { Tmux, TmuxError, sanitizeSessionName } from './tmux';
import { AGENT_CRASHED, SETUP_ERROR, WORKER_SHUTDOWN, type AgentRunResult, type JobPlan } from '../temporal/types';
import { HEARTBEAT_EVERY_MS } from '../runner/attempt';
import { answerOnceWritten } from './transcriptWait';

export interface PersistentRunOptions {
  config: Config;
  project: ProjectConfig;
  plan: JobPlan;
  /** Run folder, already created: the transcript/capture files go there. */
  runDir: string;
  heartbeat: (details: unknown) => void;
  /** Abort = cancel the job. */
  cancelSignal: AbortSignal;
}

/** tmux user options (`@name`) orchestrate sets on the sessions it creates: how the reaper knows its own. */
export const SESSION_OPTIONS = {
  project: 'orchestrate_project',
  /** The task queue of the orchestrator that created it: another orchestrator's sessions are never reaped. */
  owner: 'orchestrate_owner',
  /** Folder of the session's settings, Stop hook and markers. */
  dir: 'orchestrate_dir',
} as const;
export const SESSION_OPTION_NAMES = Object.values(SESSION_OPTIONS);

const POLL_MS = 100;
/** The input prompt must have been on a still screen this long before we type. */
const READY_STABLE_MS = 300;
/** A TUI that has just started often draws its prompt before it takes input: a longer look the first time. */
const NEW_SESSION_STABLE_MS = 1000;
/** Typed text must show up within this long; else the TUI dropped it and it is typed again. */
const TYPE_ECHO_MS = 1000;
const TYPED_SETTLE_MS = 200;
/** After Enter: the prompt must have left the input line within this long, else Enter is pressed again. */
const ENTER_CHECK_MS = 1000;
const MAX_ENTER_ATTEMPTS = 5;
const INTERRUPT_WAIT_MS = 3000;
/** Scrollback read for the pane capture kept in the run folder (and the result, without a transcript). */
const CAPTURE_HISTORY_LINES = 5000;
const TRANSCRIPT_TAIL_BYTES = 8 * 1024 * 1024;
const SESSION_WIDTH = 200;
const SESSION_HEIGHT = 50;
/** How long a new session's start script has to read (and delete) its environment file. */
const ENV_FILE_WAIT_MS = 5000;

// ---------------------------------------------------------------------------------------------------------------
// Names and places

export function tmuxFor(config: Config): Tmux {
  return new Tmux(config.orchestrator.tmuxSocket);
}

export function sessionNameFor(config: Config, project: string): string {
  return sanitizeSessionName(`${config.orchestrator.sessionPrefix}${project}`);
}

/** `<state_dir>/sessions/<socket>/<session>`: settings, Stop hook, start script, markers. */
export function sessionDirFor(config: Config, session: string): string {
  return path.join(config.orchestrator.stateDir, 'sessions', config.orchestrator.tmuxSocket, session);
}

export function attachCommand(config: Config, session: string): string {
  return `tmux -L ${config.orchestrator.tmuxSocket} attach -t ${session}`;
}

function setupError(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: SETUP_ERROR, message, nonRetryable: true });
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The session

export interface EnsuredSession {
  session: string;
  dir: string;
  created: boolean;
  /** The process running in the session's pane. */
  panePid: number | null;
}

/** Environment variables that describe the caller's terminal, not the session's: never passed on. */
const TERMINAL_ENV = new Set([
  'TMUX',
  'TMUX_PANE',
  'TERM',
  'TERM_PROGRAM',
  'TERM_PROGRAM_VERSION',
  'COLORTERM',
  'COLUMNS',
  'LINES',
  'SHLVL',
  'PWD',
  'OLDPWD',
  '_',
]);

/**
 * The agent's environment, as an ephemeral job's: the worker's (only the variables in [agent] env_allow, when
 * set), then [agent] env, then ours.
 */
function sessionEnv(config: Config, project: ProjectConfig, session: string, dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  const allow = project.agent.envAllow ? new Set(project.agent.envAllow) : null;
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !TERMINAL_ENV.has(k) && (!allow || allow.has(k))) env[k] = v;
  }
  Object.assign(env, project.agent.env, {
    ORCHESTRATE_PROJECT: project.name,
    ORCHESTRATE_SESSION: session,
    ORCHESTRATE_SESSION_DIR: dir,
    ORCHESTRATE_TASK_QUEUE: config.orchestrator.taskQueue,
  });
  for (const k of Object.keys(env)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) delete env[k];
  return env;
}

/**
 * With env_allow, the start script first sheds the environment tmux gave it (the tmux server's, inherited from
 * whichever process started that server): it starts itself again under `env -i`, keeping only what describes
 * the pane's terminal, and then reads env.sh. Empty without env_allow.
 */
function clearEnvLines(project: ProjectConfig): string[] {
  if (!project.agent.envAllow) return [];
  const keep = ['TERM', 'TMUX', 'TMUX_PANE', 'COLORTERM'].map((k) => `\${${k}+${k}="$${k}"}`).join(' ');
  return [
    "# env_allow: only the allowed variables (in env.sh) and the pane's terminal reach the agent.",
    `if [ -z "\${ORCHESTRATE_ENV_CLEARED-}" ]; then exec env -i ORCHESTRATE_ENV_CLEARED=1 ${keep} /bin/sh "$0" "$@"; fi`,
    'unset ORCHESTRATE_ENV_CLEARED',
  ];
}

/** The interactive command with the settings file: at `{settings}` if the command has it, else appended. */
export function interactiveShellCommand(command: string, settingsPath: string): string {
  const quoted = shQuote(settingsPath);
  return command.includes('{settings}') ? command.split('{settings}').join(quoted) : `${command} --settings ${quoted}`;
}

async function writeSessionFiles(config: Config, project: ProjectConfig, session: string, dir: string) {
  await fs.mkdir(dir, { recursive: true });
  const hook = path.join(dir, 'hook-stop.sh');
  const settings = path.join(dir, 'settings.json');
  const start = path.join(dir, 'start.sh');
  const envFile = path.join(dir, 'env.sh');
  // The Stop hook saves its input (session_id, transcript_path, ...) as the marker of the job whose nonce is
  // current; written to a temporary name first, so a marker is never read half-written.
  await fs.writeFile(
    hook,
    [
      '#!/bin/sh',
      `# Written by orchestrate: Claude Code's Stop hook for tmux session ${session} (project ${project.name}).`,
      '# Saves the hook input as the completion marker of the job in progress (its nonce is in ./nonce).',
      `d=${shQuote(dir)}`,
      'n=$(cat "$d/nonce" 2>/dev/null)',
      '[ -n "$n" ] || n=none',
      't="$d/.stop-$n.$$"',
      'cat > "$t" && mv -f "$t" "$d/stop-$n.json"',
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  await fs.writeFile(
    settings,
    // `|| true`: a Stop hook exiting 2 would tell Claude Code to keep going; ours must never block a stop.
    JSON.stringify(
      { hooks: { Stop: [{ hooks: [{ type: 'command', command: `sh ${shQuote(hook)} || true` }] }] } },
      null,
      2,
    ),
  );
  const env = sessionEnv(config, project, session, dir);
  await fs.writeFile(
    envFile,
    Object.entries(env)
      .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
      .join(''),
    { mode: 0o600 },
  );
  await fs.writeFile(
    start,
    [
      '#!/bin/sh',
      `# Written by orchestrate: starts the agent in tmux session ${session} (project ${project.name}).`,
      ...clearEnvLines(project),
      `d=${shQuote(dir)}`,
      '# The environment comes from a private file, read once and deleted (never on a command line).',
      'if [ -f "$d/env.sh" ]; then . "$d/env.sh"; rm -f "$d/env.sh"; fi',
      interactiveShellCommand(project.agent.interactiveCommand, settings),
      'status=$?',
      'echo "$status" > "$d/exit-status"',
      '# Keep a failure on screen for a moment, so it can be read (and captured).',
      'if [ "$status" -ne 0 ]; then printf \'\\n[orchestrate] the agent exited with status %s\\n\' "$status"; sleep 3; fi',
      'exit "$status"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  await fs.rm(path.join(dir, 'exit-status'), { force: true });
  await fs.writeFile(path.join(dir, 'nonce'), 'idle\n');
  return { start, envFile };
}

/** The first word of the interactive command, when it is a plain program name or path (else null: unchecked). */
function commandProgram(command: string): string | null {
  const first = command.trim().split(/\s+/)[0] ?? '';
  return /^[A-Za-z0-9_./~+-]+$/.test(first) && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(first) ? first : null;
}

/**
 * The project's session, created if missing. Refuses (setup error) a session of that name that orchestrate did
 * not create, or one created for another project; replaces one whose agent has already exited.
 */
export async function ensureSession(config: Config, project: ProjectConfig): Promise<EnsuredSession> {
  const tmux = tmuxFor(config);
  const session = sessionNameFor(config, project.name);
  const socket = config.orchestrator.tmuxSocket;
  for (let attempt = 0; ; attempt++) {
    let existing;
    try {
      existing = await tmux.session(session, SESSION_OPTION_NAMES);
    } catch (e) {
      throw tmuxSetupError(project, e);
    }
    if (existing) {
      const owner = existing.options[SESSION_OPTIONS.project];
      if (!owner) {
        throw setupError(
          `${project.name}: tmux session ${session} on socket "${socket}" was not started by orchestrate — it is left alone; rename or close it (\`tmux -L ${socket} kill-session -t ${session}\`) so orchestrate can start its own, or change orchestrator.session_prefix`,
        );
      }
      if (owner !== project.name) {
        throw setupError(
          `${project.name}: tmux session ${session} on socket "${socket}" belongs to project "${owner}" (both names map to the same session name) — rename one of the projects`,
        );
      }
      const dir = existing.options[SESSION_OPTIONS.dir] || sessionDirFor(config, session);
      // Its agent has exited (the start script is only showing why, or remain-on-exit kept the pane): the
      // session is of no use to anyone any more, so it is replaced.
      const agentGone = existing.paneDead || (await exists(path.join(dir, 'exit-status')));
      if (!agentGone) return { session, dir, created: false, panePid: existing.panePid };
      await tmux.killSession(session);
    }

    const program = commandProgram(project.agent.interactiveCommand);
    if (program && !program.includes('~')) {
      const found = await resolveExecutable(program, project.path, project.agent.env.PATH ?? process.env.PATH);
      if (!found) {
        throw setupError(
          `${project.name}: interactive agent command "${program}" not found on the worker's PATH — install it on this worker host, or set [agent] interactive_command (or [projects.${project.name}.agent] interactive_command) to its full path`,
        );
      }
    }
    const dir = sessionDirFor(config, session);
    const { start, envFile } = await writeSessionFiles(config, project, session, dir);
    try {
      await tmux.newSession({
        name: session,
        cwd: project.path,
        command: ['sh', start],
        width: SESSION_WIDTH,
        height: SESSION_HEIGHT,
        options: {
          [SESSION_OPTIONS.project]: project.name,
          [SESSION_OPTIONS.owner]: config.orchestrator.taskQueue,
          [SESSION_OPTIONS.dir]: dir,
          orchestrate_created: new Date().toISOString(),
        },
      });
    } catch (e) {
      await fs.rm(envFile, { force: true });
      // Created by someone else in the meantime: use theirs (checked above on the next round).
      if (e instanceof TmuxError && /duplicate session/i.test(e.stderr) && attempt === 0) continue;
      throw tmuxSetupError(project, e);
    }
    // The start script reads and deletes the environment file at once; never leave it behind.
    const deadline = Date.now() + ENV_FILE_WAIT_MS;
    while ((await exists(envFile)) && Date.now() < deadline) await sleep(50);
    await fs.rm(envFile, { force: true });
    const made = await tmux.session(session).catch(() => null);
    return { session, dir, created: true, panePid: made?.panePid ?? null };
  }
}

function tmuxSetupError(project: ProjectConfig, e: unknown): unknown {
  if (e instanceof TmuxError && e.notInstalled) return setupError(`${project.name}: ${e.message}`);
  return e;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the screen

/** An input-prompt line: `> text`, optionally inside a box (`│ > text │`). Not `❯`: that marks menu choices. */
const PROMPT_RE = /^\s*(?:[│┃|]\s*)?>(?:\s|$)/;
const PROMPT_PREFIX_RE = /^\s*(?:[│┃|]\s*)?>\s?/;
const RULE_RE = /^\s*[╭╰]?[─━═]{3,}[╮╯]?\s*$|^\s*-{10,}\s*$/;
/** Claude Code 2.x's input prompt: `❯ text` right under a rule (a menu's `❯ 1. Yes` has no rule above it). */
const RULED_PROMPT_RE = /^\s*❯(?:\s|$)/;
const isPromptLine = (lines: string[], i: number): boolean =>
  PROMPT_RE.test(lines[i]) || (RULED_PROMPT_RE.test(lines[i]) && i > 0 && RULE_RE.test(lines[i - 1]));
/** What Claude Code shows while it works ("✻ Thinking… (12s · esc to interrupt)"). */
const BUSY_RE = /esc to interrupt|ctrl\+c to interrupt/i;

export interface Screen {
  text: string;
  lines: string[];
  /** Index of the input prompt line (the last prompt-looking line near the bottom), or null. */
  inputAt: number | null;
  /** Text in the input area, or null when there is no recognisable input prompt. */
  input: string | null;
  busy: boolean;
}

export function parseScreen(raw: string): Screen {
  const text = stripAnsi(raw);
  const lines = text.split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let inputAt: number | null = null;
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 40; i--) {
    if (isPromptLine(lines, i)) {
      inputAt = i;
      break;
    }
  }
  let input: string | null = null;
  if (inputAt !== null) {
    const rows = [lines[inputAt].replace(PROMPT_PREFIX_RE, '').replace(/^\s*❯\s?/, '')];
    for (let j = inputAt + 1; j < lines.length; j++) {
      if (lines[j].trim() === '' || RULE_RE.test(lines[j]) || /^\s*╰/.test(lines[j])) break;
      rows.push(lines[j].trim());
    }
    input = rows
      .map((r) => r.replace(/\s*[│┃]\s*$/, ''))
      .join('\n')
      .trim();
  }
  const busy = lines.slice(-15).some((l) => BUSY_RE.test(l));
  return { text, lines, inputAt, input, busy };
}

function isIdle(s: Screen): boolean {
  return s.inputAt !== null && !s.busy;
}

/** What the input area shows (the whole screen, for agents whose prompt is not recognised). */
function inputView(s: Screen): string {
  return s.input ?? s.text;
}

const norm = (s: string) => s.replace(/\s+/g, '');

/** Index where the transcript area ends: the rules and blank lines just above the input prompt. */
function transcriptEnd(s: Screen): number {
  if (s.inputAt === null) return s.lines.length;
  let end = s.inputAt;
  while (
    end > 0 &&
    (RULE_RE.test(s.lines[end - 1]) || s.lines[end - 1].trim() === '' || /^\s*╭/.test(s.lines[end - 1]))
  )
    end--;
  return end;
}

/** Tidies the agent's lines: no "⏺ " bullets, continuation indent removed, no spinner, no blank ends. */
function tidy(lines: string[]): string {
  const kept = lines.filter((l) => !BUSY_RE.test(l)).map((l) => l.replace(/^\s*[⏺●]\s?/, ''));
  const indents = kept.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const cut = Math.min(2, ...(indents.length > 1 ? indents.slice(1) : [0]));
  const out = kept.map((l, i) => (i > 0 && l.startsWith(' '.repeat(cut)) ? l.slice(cut) : l));
  while (out.length > 0 && out[0].trim() === '') out.shift();
  while (out.length > 0 && out[out.length - 1].trim() === '') out.pop();
  return out.join('\n');
}

/**
 * The agent's answer to `prompt` on screen: the lines after the prompt's echo ("> prompt") and before the input
 * box. Without a recognisable echo: the last 40 lines of the transcript area.
 */
export function answerFromPane(raw: string, prompt: string): string {
  const s = parseScreen(raw);
  const end = transcriptEnd(s);
  const target = norm(prompt);
  let start = -1;
  let lastEcho = -1;
  for (let i = end - 1; i >= 0 && start < 0; i--) {
    if (!PROMPT_RE.test(s.lines[i])) continue;
    if (lastEcho < 0) lastEcho = i + 1;
    let acc = norm(s.lines[i].replace(PROMPT_PREFIX_RE, ''));
    if (!target.startsWith(acc.slice(0, Math.min(acc.length, target.length)))) continue;
    let j = i;
    while (acc.length < target.length && j + 1 < end) acc += norm(s.lines[++j]);
    if (acc.startsWith(target)) start = j + 1;
  }
  if (start < 0) start = lastEcho >= 0 ? lastEcho : Math.max(0, end - 40);
  return tidy(s.lines.slice(start, end));
}

/** The last non-empty line of the transcript area, for heartbeats. */
function lastLine(s: Screen): string {
  const end = transcriptEnd(s);
  for (let i = end - 1; i >= 0; i--) {
    const l = s.lines[i].trim();
    if (l) return l.slice(0, 200);
  }
  return '';
}

// ---------------------------------------------------------------------------------------------------------------
// The transcript

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textOf(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const texts = content.filter((b) => isObject(b) && b.type === 'text' && typeof b.text === 'string');
  return texts.length ? texts.map((b) => (b as { text: string }).text).join('\n') : null;
}

/**
 * The agent's text after the user turn holding `prompt`, from a Claude Code transcript (JSONL), or null when the
 * turn is not found or has no text.
 */
export async function answerFromTranscript(file: string, prompt: string): Promise<string | null> {
  let tail;
  try {
    tail = await readTail(file, TRANSCRIPT_TAIL_BYTES);
  } catch {
    return null;
  }
  let text = tail.data.toString('utf8');
  if (tail.headTruncated) text = text.slice(text.indexOf('\n') + 1);
  const entries: Json[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (isObject(v) && !v.isSidechain) entries.push(v);
    } catch {
      // a torn line: skip
    }
  }
  const target = norm(prompt).slice(0, 200);
  let anchor = -1;
  for (let i = entries.length - 1; i >= 0 && anchor < 0; i--) {
    const e = entries[i];
    if (e.type !== 'user' || e.isMeta || !isObject(e.message)) continue;
    const t = textOf(e.message.content);
    if (t !== null && norm(t).includes(target)) anchor = i;
  }
  if (anchor < 0) return null;
  const parts = entries
    .slice(anchor + 1)
    .filter((e) => e.type === 'assistant' && isObject(e.message))
    .map((e) => textOf((e.message as Json).content))
    .filter((t): t is string => t !== null && t.trim() !== '');
  return parts.length ? parts.join('\n\n').trim() : null;
}

// ---------------------------------------------------------------------------------------------------------------
// One job

/** Why waiting stopped early. */
class Stop extends Error {
  constructor(readonly reason: 'timeout' | 'cancel' | 'detach' | 'died') {
    super(reason);
  }
}

interface Marker {
  session_id?: unknown;
  transcript_path?: unknown;
}

/**
 * The job in progress in a session (`job.json` in the session folder), so that a later attempt of the same job
 * (after its worker crashed or was deployed) adopts the prompt already submitted instead of sending it again.
 */
interface JobState {
  /** workflow ID, run ID and activity ID: the same across the retries of one job, different for every job. */
  jobKey: string;
  nonce: string;
  startedAt: number;
  /** What the input line showed with the prompt typed, before Enter. */
  typedView: string | null;
  /** Enter was pressed: from here on the prompt may have been submitted, so it is never typed again. */
  enterPressed: boolean;
  /** An attempt reported how the job ended: nothing left to adopt. */
  reported: boolean;
  /** Sessions that died under this job: the second is final (not retried). */
  crashes: number;
}

/** Sessions dying under one job before it fails for good (as ephemeral jobs: a crash gets one more try). */
export const MAX_SESSION_CRASHES = 2;

/** The activity attempt running this job, when called inside one; null when called directly. */
function activityAttempt(): { jobKey: string; workerShutdown: () => boolean } | null {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return null;
  }
  const wf = ctx.info.workflowExecution;
  return {
    jobKey: `${wf?.workflowId ?? '-'} ${wf?.runId ?? '-'} ${ctx.info.activityId}`,
    workerShutdown: () => ctx.cancellationDetails?.workerShutdown ?? false,
  };
}

async function readJobState(dir: string): Promise<JobState | null> {
  try {
    const v: unknown = JSON.parse(await fs.readFile(path.join(dir, 'job.json'), 'utf8'));
    return isObject(v) && typeof v.jobKey === 'string' && typeof v.nonce === 'string'
      ? (v as unknown as JobState)
      : null;
  } catch {
    return null;
  }
}

async function writeJobState(dir: string, state: JobState): Promise<void> {
  const tmp = path.join(dir, `.job.${process.pid}.json`);
  await fs.writeFile(tmp, JSON.stringify(state));
  await fs.rename(tmp, path.join(dir, 'job.json'));
}

export async function runPersistentAgent(opts: PersistentRunOptions): Promise<AgentRunResult> {
  const { config, project, plan, runDir, cancelSignal } = opts;
  const tmux = tmuxFor(config);
  const socket = config.orchestrator.tmuxSocket;
  const idleMs = config.orchestrator.idleSeconds * 1000;
  const eventsPath = path.join(runDir, 'events.log');
  const prompt = plan.prompt.replace(/\r\n?/g, '\n').replace(/\s+$/, '');
  const attempt = activityAttempt();

  const event = async (what: string) => {
    await fs.appendFile(eventsPath, `${new Date().toISOString()} ${what}\n`).catch(() => undefined);
  };

  let phase: 'starting' | 'typing' | 'submitting' | 'working' = 'starting';
  let lastBeat = 0;
  let lastScreen: Screen | null = null;
  let ensured: EnsuredSession | undefined;
  const beat = (force = false) => {
    if (!force && Date.now() - lastBeat < HEARTBEAT_EVERY_MS) return;
    lastBeat = Date.now();
    opts.heartbeat({ phase, session: ensured?.session, socket, lastLine: lastScreen ? lastLine(lastScreen) : '' });
  };
  beat(true);
  // Heartbeats from the start: creating a session and waiting for its agent take a while.
  const heartbeatTimer = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
  try {
    ensured = await ensureSession(config, project);
  } catch (e) {
    clearInterval(heartbeatTimer);
    throw e;
  }
  const { session, dir } = ensured;
  const attach = attachCommand(config, session);
  await event(`${ensured.created ? 'created' : 'reusing'} tmux session ${session} on socket ${socket} (${attach})`);

  // An earlier attempt of this same job may have submitted the prompt already (adopt it), or seen the session die.
  const previous = attempt ? await readJobState(dir) : null;
  const sameJob = previous !== null && previous.jobKey === attempt?.jobKey;
  const unfinished = sameJob && !previous.reported;
  const adopt = unfinished && previous.enterPressed && !ensured.created;
  const state: JobState = {
    jobKey: attempt?.jobKey ?? `direct ${randomBytes(6).toString('hex')}`,
    nonce: adopt ? previous.nonce : randomBytes(12).toString('hex'),
    startedAt: adopt ? previous.startedAt : Date.now(),
    typedView: adopt ? previous.typedView : null,
    enterPressed: adopt,
    reported: false,
    crashes: sameJob ? previous.crashes : 0,
  };
  if (unfinished && previous.enterPressed && ensured.created) {
    // The session died while no worker watched it: that is this job's crash.
    state.crashes++;
    await event(`the session died under an earlier attempt of this job (crash ${state.crashes})`);
    if (state.crashes >= MAX_SESSION_CRASHES) {
      clearInterval(heartbeatTimer);
      state.reported = true;
      await writeJobState(dir, state);
      const message = `${project.name}: tmux session ${session} died under this job ${state.crashes} times, so it is not retried — attach to the new session to look (\`${attach}\`)`;
      throw ApplicationFailure.create({ type: AGENT_CRASHED, message, nonRetryable: true });
    }
  }
  const started = state.startedAt;
  const deadline = started + plan.timeoutMs;
  const markerPath = path.join(dir, `stop-${state.nonce}.json`);
  let detached = false;

  /** Throws Stop when the job must end early: cancelled, past its timeout, or the session is gone. */
  const guard = async () => {
    if (cancelSignal.aborted) {
      // A deploy (on_shutdown = "detach"): leave the agent working; the next attempt adopts it.
      const detach = attempt?.workerShutdown() && config.orchestrator.onShutdown === 'detach';
      throw new Stop(detach ? 'detach' : 'cancel');
    }
    if (Date.now() >= deadline) throw new Stop('timeout');
    if (await exists(path.join(dir, 'exit-status'))) throw new Stop('died');
  };
  const capture = async (): Promise<Screen> => {
    try {
      lastScreen = parseScreen(await tmux.capturePane(session));
      return lastScreen;
    } catch (e) {
      if (Tmux.isNoSession(e) || Tmux.isNoServer(e)) throw new Stop('died');
      throw e;
    }
  };
  /** Polls `check` until it returns a value, or `ms` pass (null). Guarded and heartbeating throughout. */
  const pollFor = async <T>(ms: number, check: (s: Screen) => Promise<T | null> | T | null): Promise<T | null> => {
    const until = Date.now() + ms;
    for (;;) {
      await guard();
      const v = await check(await capture());
      if (v !== null) return v;
      beat();
      if (Date.now() >= until) return null;
      await sleep(POLL_MS);
    }
  };
  /** Waits for a screen that stays unchanged for `stableMs`. */
  const waitStable = async (stableMs: number): Promise<Screen> => {
    let last = '';
    let since = Date.now();
    const s = await pollFor(Infinity, (s) => {
      if (s.text !== last) {
        last = s.text;
        since = Date.now();
      }
      return Date.now() - since >= stableMs ? s : null;
    });
    return s!;
  };
  const waitReady = async (stableMs = READY_STABLE_MS): Promise<Screen> => {
    let last = '';
    let since = Date.now();
    const s = await pollFor(Infinity, (s) => {
      if (s.text !== last) {
        last = s.text;
        since = Date.now();
      }
      const still = Date.now() - since;
      // Only at a recognisable input prompt: text typed into anything else (a dialog asking to trust the folder,
      // a menu) would answer it.
      return isIdle(s) && still >= stableMs ? s : null;
    });
    return s!;
  };

  let marker: Marker | null = null;
  const readMarker = async (): Promise<Marker | null> => {
    try {
      const v: unknown = JSON.parse(await fs.readFile(markerPath, 'utf8'));
      return isObject(v) ? v : {};
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : {};
    }
  };

  /** How completion was detected. */
  const done = { via: 'hook' as 'hook' | 'idle' };
  /** The prompt still sits in the input line, unsent. */
  const unsent = (s: Screen) => !s.busy && state.typedView !== null && inputView(s) === state.typedView;
  try {
    await writeJobState(dir, state);
    if (adopt) {
      const s = await capture();
      phase = unsent(s) && !(await exists(markerPath)) ? 'submitting' : 'working';
      await event(
        `adopting the job an earlier attempt started (nonce ${state.nonce}): ${phase === 'working' ? 'its prompt was submitted' : 'its prompt is still in the input line'}`,
      );
    } else {
      // Old markers are of no use; the nonce file tells the Stop hook whose turn ends.
      for (const f of await fs.readdir(dir).catch(() => [] as string[]))
        if (/^stop-[0-9a-z]+\.json$|^\.stop-/.test(f)) await fs.rm(path.join(dir, f), { force: true });
      await fs.writeFile(path.join(dir, 'nonce'), `${state.nonce}\n`);
      if (sameJob && !ensured.created) {
        // An earlier attempt may have left part of the prompt in the input line.
        await tmux.sendKeys(session, 'C-u');
      }

      // Type the prompt; a TUI that is not ready yet drops it, so check that it arrived (and type it again
      // only while the input line still shows what it showed before: never twice).
      let empty: string | null = null;
      for (let n = 1; ; n++) {
        const before = await waitReady(n === 1 && ensured.created ? NEW_SESSION_STABLE_MS : READY_STABLE_MS);
        if (empty === null) empty = inputView(before);
        else if (inputView(before) !== empty) break; // it arrived late
        phase = 'typing';
        await tmux.sendLiteral(session, prompt);
        const arrived = await pollFor(TYPE_ECHO_MS, (s) => (inputView(s) !== empty ? s : null));
        if (arrived) break;
        await event(`typed text did not appear (attempt ${n}): the agent was not ready yet; typing again`);
      }
      state.typedView = inputView(await waitStable(TYPED_SETTLE_MS));
      state.enterPressed = true;
      await writeJobState(dir, state);
      phase = 'submitting';
      await event(`prompt typed (${prompt.length} characters)`);
    }

    if (phase === 'submitting') {
      // Enter on its own, again while the text still sits in the input line.
      let submitted = false;
      for (let n = 1; n <= MAX_ENTER_ATTEMPTS && !submitted; n++) {
        await tmux.sendKeys(session, 'Enter');
        submitted =
          (await pollFor(ENTER_CHECK_MS, async (s) => ((await exists(markerPath)) || !unsent(s) ? true : null))) ===
          true;
        if (!submitted) await event(`Enter not taken (attempt ${n}): the prompt is still in the input line`);
      }
      if (!submitted) {
        return await finish(
          'agent_error',
          `${project.name}: the prompt was typed into tmux session ${session} but Enter did not submit it (${MAX_ENTER_ATTEMPTS} tries) — attach to look (\`${attach}\`)`,
        );
      }
      phase = 'working';
      await event('prompt submitted; waiting for the Stop hook');
    }

    // Wait for this job's marker; or, for agents without the hook, a quiet pane at the idle prompt.
    let last = '';
    let since = Date.now();
    await pollFor(Infinity, async (s) => {
      if ((marker = await readMarker())) return true;
      if (s.text !== last) {
        last = s.text;
        since = Date.now();
      }
      if (isIdle(s) && !unsent(s) && Date.now() - since >= idleMs) {
        done.via = 'idle';
        return true;
      }
      return null;
    });
    await event(
      done.via === 'hook' ? 'Stop hook fired' : `pane quiet at the idle prompt for ${config.orchestrator.idleSeconds}s`,
    );
    return await finish('succeeded');
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    if (e.reason === 'died') {
      state.crashes++;
      const final = attempt !== null && state.crashes >= MAX_SESSION_CRASHES;
      const status = await fs.readFile(path.join(dir, 'exit-status'), 'utf8').catch(() => null);
      const why =
        status !== null
          ? `the agent exited (status ${status.trim()})`
          : 'the session was closed (killed, or its tmux server stopped)';
      const next = final
        ? `it happened ${state.crashes} times, so the job is not retried`
        : 'the job is retried once and the next attempt starts a new session';
      const result = await finish(
        'crashed',
        `${project.name}: tmux session ${session} ended mid-job: ${why} — ${next}; last screen in ${runDir}/pane.log`,
      );
      throw ApplicationFailure.create({
        type: AGENT_CRASHED,
        message: result.message,
        details: [result],
        nonRetryable: final,
      });
    }
    if (e.reason === 'detach') {
      detached = true;
      // Typed but Enter not pressed: cleared, the next attempt types it again. Otherwise the next attempt adopts.
      if (phase === 'typing') await tmux.sendKeys(session, 'C-u').catch(() => undefined);
      const left = state.enterPressed
        ? 'working for the next worker to adopt'
        : 'idle; the next attempt sends the prompt';
      await event(`worker shutting down: the agent is left ${left}`);
      throw ApplicationFailure.create({
        type: WORKER_SHUTDOWN,
        message: `${project.name}: worker shut down; the agent in tmux session ${session} was left ${left}`,
      });
    }
    await stopAgent();
    if (e.reason === 'cancel' && attempt?.workerShutdown()) {
      // on_shutdown = "kill": the server never asked for a cancel, so this is no CancelledFailure but a
      // retryable failure; the job is marked done with here, and the next attempt sends the prompt again.
      state.reported = true;
      await writeJobState(dir, state).catch(() => undefined);
      await event(
        'worker shutting down (on_shutdown = "kill"): the agent was interrupted; the next attempt sends the prompt again',
      );
      throw ApplicationFailure.create({
        type: WORKER_SHUTDOWN,
        message: `${project.name}: worker shut down with on_shutdown = "kill": the agent in tmux session ${session} was interrupted; the next worker runs the job again`,
      });
    }
    if (e.reason === 'cancel') {
      await finish('cancelled', `${project.name}: job cancelled; the agent in tmux session ${session} was interrupted`);
      throw new CancelledFailure(
        `${project.name}: job cancelled; the agent in tmux session ${session} was interrupted (the session is kept)`,
      );
    }
    if (phase === 'starting') {
      return await finish(
        'timed_out',
        `${project.name}: the agent in tmux session ${session} did not show an idle input prompt within the ${formatDuration(plan.timeoutMs)} timeout, so the prompt was not sent — it may be busy, or waiting for an answer (a dialog): attach and look (\`${attach}\`); screen in ${runDir}/pane.log`,
      );
    }
    return await finish(
      'timed_out',
      `${project.name}: agent ran longer than its ${formatDuration(plan.timeoutMs)} timeout in tmux session ${session} and was interrupted (the session is kept: \`${attach}\`) — raise [agent] timeout (or [projects.${project.name}.agent] timeout), or split the task; screen in ${runDir}/pane.log`,
    );
  } finally {
    clearInterval(heartbeatTimer);
    if (!detached) await fs.writeFile(path.join(dir, 'nonce'), 'idle\n').catch(() => undefined);
  }

  /** Interrupts the agent (typed but unsent text is cleared instead). Never kills the session. */
  async function stopAgent(): Promise<void> {
    const quiet = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        try {
          if (isIdle(parseScreen(await tmux.capturePane(session)))) return true;
        } catch {
          return true; // gone: nothing left to interrupt
        }
        await sleep(POLL_MS);
      }
      return false;
    };
    try {
      // Right after Enter the prompt may or may not have gone: the screen tells.
      const pending =
        phase === 'typing' ||
        (phase === 'submitting' && unsent(parseScreen(await tmux.capturePane(session))) && !(await exists(markerPath)));
      if (pending) {
        await tmux.sendKeys(session, 'C-u');
        await event('cleared the unsent prompt from the input line');
      } else if (phase === 'submitting' || phase === 'working') {
        await tmux.sendKeys(session, 'Escape');
        await event('interrupted the agent (Escape)');
        if (!(await quiet(INTERRUPT_WAIT_MS))) {
          await tmux.sendKeys(session, 'C-c');
          await event('still busy: interrupted again (C-c)');
          await quiet(INTERRUPT_WAIT_MS);
        }
      }
    } catch (err) {
      await event(`could not interrupt: ${(err as Error).message}`);
    }
  }

  async function finish(outcome: AgentRunResult['outcome'], message?: string): Promise<AgentRunResult> {
    state.reported = true;
    await writeJobState(dir, state).catch(() => undefined);
    let full = '';
    try {
      full = await tmux.capturePane(session, { historyLines: CAPTURE_HISTORY_LINES });
    } catch {
      full = lastScreen?.text ?? '';
    }
    await fs.writeFile(path.join(runDir, 'pane.log'), stripAnsi(full)).catch(() => undefined);
    let answer: string | null = null;
    let source = 'pane';
    if (marker && typeof marker.transcript_path === 'string') {
      const transcript = marker.transcript_path;
      answer = await answerOnceWritten(() => answerFromTranscript(transcript, prompt));
      if (answer !== null) source = `transcript ${marker.transcript_path}`;
    }
    if (answer === null) answer = phase === 'working' || phase === 'submitting' ? answerFromPane(full, prompt) : '';
    await fs.writeFile(path.join(runDir, 'result.txt'), answer).catch(() => undefined);
    const { text, truncated } = truncateText(answer);
    let usageLimitResetsAt: string | null = null;
    if (outcome === 'succeeded') {
      const limit = parseUsageLimitReset(answer, new Date());
      if (limit) {
        outcome = 'usage_limit';
        usageLimitResetsAt = limit.resetsAt;
        message = `${project.name}: Claude usage limit reached ("${limit.text}"; ${limit.resetsAt ? `resets at ${limit.resetsAt}` : 'reset time not given'}) — wait for the reset or raise the plan's limit`;
      }
    }
    const result: AgentRunResult = {
      outcome,
      message:
        message ??
        `${project.name}: done in tmux session ${session} (${done.via === 'hook' ? 'Stop hook' : `quiet at its prompt for ${config.orchestrator.idleSeconds}s`})`,
      exitCode: null,
      signal: null,
      durationMs: Date.now() - started,
      costUsd: null,
      numTurns: null,
      sessionId: marker && typeof marker.session_id === 'string' ? marker.session_id : null,
      subtype: null,
      result: text,
      resultTruncated: truncated,
      logPath: runDir,
      pid: ensured?.panePid ?? null,
      usageLimitResetsAt,
    };
    await fs
      .writeFile(
        path.join(runDir, 'session.json'),
        JSON.stringify(
          {
            session,
            socket,
            attach,
            project: project.name,
            nonce: state.nonce,
            created: ensured?.created ?? false,
            adopted: adopt,
            startedAt: new Date(started).toISOString(),
            finishedAt: new Date().toISOString(),
            outcome,
            completion: outcome === 'succeeded' ? done.via : null,
            resultSource: source,
            marker,
          },
          null,
          2,
        ),
      )
      .catch(() => undefined);
    await event(`${outcome}: ${result.message}`);
    return result;
  }
}
