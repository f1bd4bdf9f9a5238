// The files in a session's folder (`<state_dir>/sessions/<socket>/<session>`):
//   start.sh          run by tmux in the pane: reads env.sh once, runs the interactive agent, saves exit-status
//   env.sh            the agent's environment (private; deleted by start.sh as soon as it has read it)
//   settings.json     passed with --settings: the Stop, StopFailure and UserPromptSubmit hooks (hook-stop.sh)
//                     and the PermissionRequest hook (hook-permission.sh)
//   hook-stop.sh      saves the hook's input as stop-<nonce>.json (prompt-<nonce>.json once the prompt is
//                     submitted), the nonce read from ./nonce
//   nonce             the nonce of the job in progress ("idle" between jobs)
//   stop-<nonce>.json the completion marker of that job (session_id, transcript_path, ...)
//   hook-permission.sh  refuses a tool use that needs approval while a job runs, noting it in
//   denied-<nonce>.jsonl  the tool uses refused during that job, one hook input per line
//   exit-status       the agent has exited (with that status): the session is of no use any more
//   job.json          the job in progress (jobState.ts)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { INTERACTIVE_AGENT } from '../agents/profiles';

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
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
  return command.includes('{settings}')
    ? command.split('{settings}').join(quoted)
    : `${command} ${INTERACTIVE_AGENT.settingsFlag} ${quoted}`;
}

/**
 * The hook events that end a job's turn, both saved as its marker: Stop, and StopFailure, which Claude Code runs
 * instead when an API error (a refused key, overload, a usage limit) ended the turn. An older Claude Code than
 * STOP_FAILURE_MIN_VERSION rejects the whole settings file.
 */
export const TURN_END_HOOKS = ['Stop', 'StopFailure'] as const;
/** The first Claude Code that knows every hook in TURN_END_HOOKS. */
export const STOP_FAILURE_MIN_VERSION = '2.1.78';

/** What the PermissionRequest hook answers while a job runs: the refusal the model is told. */
const REFUSAL =
  'orchestrate runs this job unattended, so nobody can approve this tool use: it is refused, as claude -p refuses it. Go on without it.';

/** The hooks (Stop, StopFailure, UserPromptSubmit, PermissionRequest) and the settings that install them. */
async function writeHooks(project: ProjectConfig, session: string, dir: string): Promise<string> {
  const stopHook = path.join(dir, 'hook-stop.sh');
  const permissionHook = path.join(dir, 'hook-permission.sh');
  const settings = path.join(dir, 'settings.json');
  const about = `for tmux session ${session} (project ${project.name})`;
  // A job's nonce outlives the job only when nothing was left to clear it (the job was cancelled or timed out while
  // no worker ran): past the job's last possible moment (./until-<nonce>), the session is a person's again.
  const nonce = [
    `d=${shQuote(dir)}`,
    'n=$(cat "$d/nonce" 2>/dev/null)',
    '[ -n "$n" ] || n=none',
    'u=$(cat "$d/until-$n" 2>/dev/null)',
    'if [ -n "$u" ] && [ "$(date +%s)" -gt "$u" ]; then n=idle; fi',
  ];
  // The Stop hook saves its input (session_id, transcript_path, ...) as the marker of the job whose nonce is
  // current; written to a temporary name first, so a marker is never read half-written.
  await fs.writeFile(
    stopHook,
    [
      '#!/bin/sh',
      `# Written by orchestrate: Claude Code's Stop, StopFailure and UserPromptSubmit hook ${about}.`,
      '# Saves the hook input as the marker ($1: stop, or prompt) of the job in progress (its nonce is in ./nonce).',
      ...nonce,
      'k=${1:-stop}',
      't="$d/.$k-$n.$$"',
      'cat > "$t" && mv -f "$t" "$d/$k-$n.json"',
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  // A permission dialog in a job nobody watches would wait for its timeout: while a job runs, the tool use is
  // refused and noted for the job's outcome. Between jobs (nonce `idle`) a person at the session answers it.
  const decision = {
    hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: REFUSAL } },
  };
  await fs.writeFile(
    permissionHook,
    [
      '#!/bin/sh',
      `# Written by orchestrate: Claude Code's PermissionRequest hook ${about}.`,
      '# While a job runs (its nonce in ./nonce), refuses the tool use and notes it in denied-<nonce>.jsonl.',
      ...nonce,
      'if [ "$n" = idle ] || [ "$n" = none ]; then cat > /dev/null; exit 0; fi',
      '{ tr -d \'\\n\'; echo; } >> "$d/denied-$n.jsonl"',
      `printf '%s\\n' ${shQuote(JSON.stringify(decision))}`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  // `|| true`: a Stop hook exiting 2 would tell Claude Code to keep going; ours must never block a stop.
  const saveInput = (kind: string) => [
    { hooks: [{ type: 'command', command: `sh ${shQuote(stopHook)} ${kind} || true` }] },
  ];
  const hooks: Record<string, unknown> = Object.fromEntries(TURN_END_HOOKS.map((event) => [event, saveInput('stop')]));
  // Submitted: its input names the transcript, which the job follows for its progress.
  hooks.UserPromptSubmit = saveInput('prompt');
  hooks.PermissionRequest = [{ matcher: '*', hooks: [{ type: 'command', command: `sh ${shQuote(permissionHook)}` }] }];
  await fs.writeFile(settings, JSON.stringify({ hooks }, null, 2));
  return settings;
}

/** Every file a new session starts with; returns the start script and the environment file it deletes. */
export async function writeSessionFiles(config: Config, project: ProjectConfig, session: string, dir: string) {
  await fs.mkdir(dir, { recursive: true });
  const settings = await writeHooks(project, session, dir);
  const start = path.join(dir, 'start.sh');
  const envFile = path.join(dir, 'env.sh');
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
  await fs.rm(exitStatusPath(dir), { force: true });
  await writeNonce(dir, 'idle');
  return { start, envFile };
}

export function exitStatusPath(dir: string): string {
  return path.join(dir, 'exit-status');
}

/** The agent's exit status, when it has exited; else null. */
export async function readExitStatus(dir: string): Promise<string | null> {
  const status = await fs.readFile(exitStatusPath(dir), 'utf8').catch(() => null);
  return status === null ? null : status.trim();
}

/**
 * Tells the hooks whose turn ends (`idle` between jobs) and, for a job, until when (epoch ms) it can be running:
 * the hooks treat its nonce as `idle` after that, should no worker be left to clear it.
 */
export async function writeNonce(dir: string, nonce: string, until?: number): Promise<void> {
  // Renamed into place: a hook reading either mid-write would see nothing and mark nobody's job.
  const put = async (name: string, text: string) => {
    const tmp = path.join(dir, `.${name}.${process.pid}`);
    await fs.writeFile(tmp, `${text}\n`);
    await fs.rename(tmp, path.join(dir, name));
  };
  if (until !== undefined) await put(untilFile(nonce), String(Math.ceil(until / 1000)));
  await put('nonce', nonce);
}

/** The file holding the last moment (epoch seconds) the job of `nonce` can be running. */
function untilFile(nonce: string): string {
  return `until-${nonce}`;
}

/** What the Stop hook saved: the fields read from Claude Code's hook input (unknown: older versions lack some). */
export interface Marker {
  session_id?: unknown;
  transcript_path?: unknown;
  /** `Stop`, or `StopFailure` when an API error ended the turn. */
  hook_event_name?: unknown;
  /** The text of the turn's last assistant message, given to the hook as the turn ends (never written late). */
  last_assistant_message?: unknown;
  /** StopFailure: the error's category (`authentication_failed`, `rate_limit`, `overloaded`, …). */
  error?: unknown;
}

export function markerPath(dir: string, nonce: string): string {
  return path.join(dir, `stop-${nonce}.json`);
}

/** The UserPromptSubmit hook's input for the job of `nonce`: its prompt was submitted (and the transcript named). */
export function promptMarkerPath(dir: string, nonce: string): string {
  return path.join(dir, `prompt-${nonce}.json`);
}

/** The job's completion marker; null while there is none, {} when it cannot be parsed. */
export async function readMarker(file: string): Promise<Marker | null> {
  try {
    const v: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : {};
  }
}

/** The tool uses the PermissionRequest hook refused during the job of `nonce`, one hook input per line. */
export function deniedPath(dir: string, nonce: string): string {
  return path.join(dir, `denied-${nonce}.jsonl`);
}

/** The refused tool uses of a job (`tool_name`, `tool_input`, …); [] when there were none. */
export async function readDenials(file: string): Promise<unknown[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const denials: unknown[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      denials.push(JSON.parse(line));
    } catch {
      denials.push({});
    }
  }
  return denials;
}

/** Markers and refusals of earlier jobs (and half-written markers) are of no use to a new job. */
export async function removeMarkers(dir: string): Promise<void> {
  for (const f of await fs.readdir(dir).catch(() => [] as string[]))
    if (/^(?:stop|prompt)-[0-9a-z]+\.json$|^\.(?:stop|prompt)-|^denied-[0-9a-z]+\.jsonl$|^until-[0-9a-z]+$/.test(f))
      await fs.rm(path.join(dir, f), { force: true });
}
