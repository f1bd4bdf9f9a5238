// Runs an agent command as the leader of its own process group, with stdout/stderr going straight to
// files (not through this process), so the output survives a worker crash and a 50 MB output never sits
// in memory. Started through the spawn helper (./spawnHelper) by default, so the worker never forks itself.
// Killing is always done to the whole group (./processGroup): execa's own kill reaches only the child.
import execa from 'execa';
import { constants as fsConstants, promises as fs, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { SpawnHelperUnavailable, spawnHelperEnabled, spawnThroughHelper } from './spawnHelper';

export interface AgentProcessSpec {
  command: string;
  args: string[];
  cwd: string;
  /** Extra environment for the agent (merged over the worker's). */
  env: Record<string, string>;
  /** false: the agent gets `env` only, not the worker's environment (the allow-list is applied by the caller). */
  inheritEnv?: boolean;
  stdoutPath: string;
  stderrPath: string;
  /** A file the agent reads as its stdin (a prompt too big for an argument); none: stdin is empty. */
  stdinPath?: string | null;
}

export interface AgentExit {
  exitCode: number | null;
  signal: string | null;
}

export interface AgentProcess {
  pid: number;
  /** Resolves when the group leader exits. Never rejects. */
  exited: Promise<AgentExit>;
}

/**
 * Resolves `command` the way the OS would (PATH lookup for bare names, relative to `cwd` otherwise).
 * Returns null when there is no executable file there.
 */
export async function resolveExecutable(
  command: string,
  cwd: string,
  envPath = process.env.PATH ?? '',
): Promise<string | null> {
  const candidates = command.includes('/')
    ? [path.resolve(cwd, command)]
    : envPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      const st = await fs.stat(candidate);
      if (!st.isFile()) continue;
      await fs.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here: try the next one
    }
  }
  return null;
}

/**
 * Starts the agent: through the spawn helper (./spawnHelper) unless it is turned off, else, or when the helper
 * cannot answer, from this process. `onHelperUnavailable` runs before such a fallback (the helper may have
 * started the agent before it went: the caller stops whatever of the job runs). The output files are created
 * here first, so a disk that cannot take them fails the launch with its OS error before anything starts.
 */
export async function startAgentProcess(
  spec: AgentProcessSpec,
  onHelperUnavailable: (why: string) => Promise<void> = async () => undefined,
): Promise<AgentProcess> {
  for (const file of [spec.stdoutPath, spec.stderrPath]) closeSync(openSync(file, 'a', 0o600));
  if (spec.stdinPath) closeSync(openSync(spec.stdinPath, 'r'));
  if (!spawnHelperEnabled()) return spawnDirectly(spec);
  try {
    const started = await spawnThroughHelper({
      file: spec.command,
      args: spec.args,
      cwd: spec.cwd,
      env: spec.inheritEnv === false ? spec.env : { ...definedEnv(process.env), ...spec.env },
      stdoutPath: spec.stdoutPath,
      stderrPath: spec.stderrPath,
      stdinPath: spec.stdinPath ?? null,
    });
    // It could not be started (e.g. its folder is gone): as a direct spawn that fails.
    if ('error' in started) return { pid: -1, exited: Promise.resolve({ exitCode: null, signal: null }) };
    return started;
  } catch (e) {
    if (!(e instanceof SpawnHelperUnavailable)) throw e;
    await onHelperUnavailable(e.message);
    return spawnDirectly(spec);
  }
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Starts the agent from this process (the helper is off or cannot be used). */
function spawnDirectly(spec: AgentProcessSpec): AgentProcess {
  const out = openSync(spec.stdoutPath, 'a', 0o600);
  let err: number;
  let input: number | 'ignore' = 'ignore';
  try {
    err = openSync(spec.stderrPath, 'a', 0o600);
    if (spec.stdinPath) input = openSync(spec.stdinPath, 'r');
  } catch (e) {
    closeSync(out);
    throw e;
  }
  try {
    const child = execa(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      extendEnv: spec.inheritEnv ?? true,
      // Own process group: the whole tree can be signalled at once, and it is not hit by the worker's
      // terminal's Ctrl-C.
      detached: true,
      stdio: [input, out, err],
      buffer: false,
      reject: false,
      cleanup: false,
      // Never a shell: the prompt is one argument, whatever characters it holds.
      shell: false,
    });
    if (child.pid === undefined) {
      // Spawn failed synchronously (e.g. EACCES); execa reports it through the promise.
      return {
        pid: -1,
        exited: child.then(
          (r) => ({ exitCode: r.exitCode ?? null, signal: r.signal ?? null }),
          () => ({ exitCode: null, signal: null }),
        ),
      };
    }
    const exited = new Promise<AgentExit>((resolve) => {
      // execa's child is thenable, so .on() returns a promise-like: nothing to await here.
      void child.on('exit', (code, signal) => resolve({ exitCode: code, signal }));
      void child.on('error', () => resolve({ exitCode: null, signal: null }));
    });
    // Swallow execa's own promise: the exit event above is the single source of truth.
    child.catch(() => undefined);
    return { pid: child.pid, exited };
  } finally {
    closeSync(out);
    closeSync(err);
    if (input !== 'ignore') closeSync(input);
  }
}

/** Reads at most the last `maxBytes` of a file. */
export async function readTail(
  file: string,
  maxBytes: number,
): Promise<{ data: Buffer; size: number; headTruncated: boolean }> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const data = Buffer.alloc(length);
    await handle.read(data, 0, length, size - length);
    return { data, size, headTruncated: size > length };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { data: Buffer.alloc(0), size: 0, headTruncated: false };
    throw e;
  } finally {
    await handle?.close();
  }
}
