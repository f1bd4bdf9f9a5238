// A persistent project's tmux session: its name and folder, and ensureSession(), which finds it or creates it
// (in the project folder, running [agent] interactive_command with the session's settings).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import { resolveExecutable } from '../runner/process';
import { setupError } from '../temporal/failures';
import { exists, exitStatusPath, writeSessionFiles } from './sessionFiles';
import { Tmux, TmuxError, sanitizeSessionName } from './tmux';

/** tmux user options (`@name`) orchestrate sets on the sessions it creates: how the reaper knows its own. */
export const SESSION_OPTIONS = {
  project: 'orchestrate_project',
  /** The task queue of the orchestrator that created it: another orchestrator's sessions are never reaped. */
  owner: 'orchestrate_owner',
  /** Folder of the session's settings, Stop hook and markers. */
  dir: 'orchestrate_dir',
} as const;
export const SESSION_OPTION_NAMES = Object.values(SESSION_OPTIONS);

const SESSION_WIDTH = 200;
const SESSION_HEIGHT = 50;
/** How long a new session's start script has to read (and delete) its environment file. */
const ENV_FILE_WAIT_MS = 5000;

import { sleep } from '../lib/sleep';

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

function tmuxSetupError(project: ProjectConfig, e: unknown): unknown {
  if (e instanceof TmuxError && e.notInstalled) return setupError(`${project.name}: ${e.message}`);
  return e;
}

export interface EnsuredSession {
  session: string;
  dir: string;
  created: boolean;
  /** The process running in the session's pane. */
  panePid: number | null;
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
      const agentGone = existing.paneDead || (await exists(exitStatusPath(dir)));
      if (!agentGone) return { session, dir, created: false, panePid: existing.panePid };
      await tmux.killSession(session);
    }
    try {
      return await createSession(config, project, tmux, session);
    } catch (e) {
      // Created by someone else in the meantime: use theirs (checked above on the next round).
      if (Tmux.isDuplicateSession(e) && attempt === 0) continue;
      throw tmuxSetupError(project, e);
    }
  }
}

/** A new session running the start script. Throws tmux's error as it is (ensureSession reads it). */
async function createSession(
  config: Config,
  project: ProjectConfig,
  tmux: Tmux,
  session: string,
): Promise<EnsuredSession> {
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
    throw e;
  }
  // The start script reads and deletes the environment file at once; never leave it behind.
  const deadline = Date.now() + ENV_FILE_WAIT_MS;
  while ((await exists(envFile)) && Date.now() < deadline) await sleep(50);
  await fs.rm(envFile, { force: true });
  const made = await tmux.session(session).catch(() => null);
  return { session, dir, created: true, panePid: made?.panePid ?? null };
}
