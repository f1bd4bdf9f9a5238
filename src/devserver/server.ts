// Manages a local `temporal server start-dev`: one detached process per state folder, SQLite on disk (so
// workflows, schedules and search attributes survive restarts), its pid and log in <stateDir>/server/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../temporal/types';
import { findTemporalCli } from './temporalBin';
import {
  ATTEMPT_TIMEOUT_MS,
  answersAsTemporal,
  errorMessage,
  hostPort,
  portFree,
  portFreeWithin,
  waitForServer,
} from './probe';
import { sleep } from '../lib/sleep';
import { isLiveState, readProcStat, signalGroup } from '../runner/processGroup';

export interface DevServerOptions {
  stateDir: string;
  ip: string;
  port: number;
  uiPort: number;
  namespace: string;
}

export interface DevServerStatus {
  running: boolean;
  pid: number | null;
  address: string;
  uiUrl: string;
  dbPath: string;
  logPath: string;
}

export interface DevServerPaths {
  dir: string;
  dbPath: string;
  logPath: string;
  pidPath: string;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
/** How long a busy port may take to come free before start refuses it (see portFreeWithin). */
const PORT_BUSY_GRACE_MS = 10_000;
const STOP_GRACE_MS = 15_000;
const KILL_WAIT_MS = 5_000;
const LOG_TAIL_LINES = 25;
/** temporal.api.enums.v1.IndexedValueType: INDEXED_VALUE_TYPE_KEYWORD and INDEXED_VALUE_TYPE_DOUBLE. */
const INDEXED_VALUE_TYPES = { Keyword: 2, Double: 4 } as const;

export function devServerPaths(stateDir: string): DevServerPaths {
  const dir = path.join(path.resolve(stateDir), 'server');
  return {
    dir,
    dbPath: path.join(dir, 'temporal.sqlite'),
    logPath: path.join(dir, 'server.log'),
    pidPath: path.join(dir, 'server.pid'),
  };
}

/** The host clients dial: a wildcard bind address is reached through loopback. */
function dialHost(ip: string): string {
  if (ip === '' || ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::' || ip === '[::]') return '::1';
  return ip.replace(/^\[(.*)\]$/, '$1');
}

function addressOf(opts: DevServerOptions): string {
  return hostPort(dialHost(opts.ip), opts.port);
}

function uiUrlOf(opts: DevServerOptions): string {
  return `http://${hostPort(dialHost(opts.ip), opts.uiPort)}`;
}

function baseStatus(opts: DevServerOptions): Omit<DevServerStatus, 'running' | 'pid'> {
  const p = devServerPaths(opts.stateDir);
  return { address: addressOf(opts), uiUrl: uiUrlOf(opts), dbPath: p.dbPath, logPath: p.logPath };
}

// ---------------------------------------------------------------------------------------------------------------
// Process helpers

function readPid(pidPath: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(pidPath, 'utf8').trim();
  } catch {
    return null;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function removePidFile(pidPath: string): void {
  fs.rmSync(pidPath, { force: true });
}

/** The process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform === 'linux') {
    const stat = readProcStat(pid);
    if (!stat || !isLiveState(stat)) return false;
  }
  return true;
}

/** The command line of a process, where the OS tells us (Linux); null elsewhere. */
function commandLine(pid: number): string[] | null {
  if (process.platform !== 'linux') return null;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** Alive, and (where we can tell) really a `temporal server start-dev`, not a recycled pid. */
function isDevServerProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const argv = commandLine(pid);
  return argv === null || argv.includes('start-dev');
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function logTail(logPath: string, fromOffset = 0, lines = LOG_TAIL_LINES): string {
  try {
    const text = fs.readFileSync(logPath).subarray(fromOffset).toString('utf8');
    const all = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    return all.length ? all.slice(-lines).join('\n') : '(empty)';
  } catch {
    return '(no log)';
  }
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

/** Registers any of our search attributes that a server (one we did not start) lacks. */
async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address, connectTimeout: ATTEMPT_TIMEOUT_MS });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.keys(SEARCH_ATTRIBUTE_REGISTRATIONS).filter((n) => !(n in (customAttributes ?? {})));
    if (missing.length) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((n) => [n, INDEXED_VALUE_TYPES[SEARCH_ATTRIBUTE_REGISTRATIONS[n]]]),
        ),
      });
    }
    return missing;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${flag}=`));
  return eq?.slice(flag.length + 1);
}

export function startDevArgs(opts: DevServerOptions, dbPath: string): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    opts.ip,
    '--port',
    String(opts.port),
    '--ui-ip',
    opts.ip,
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    dbPath,
    '--namespace',
    opts.namespace,
    '--log-level',
    'warn',
    // WAL with synchronous=NORMAL: one fsync per checkpoint instead of several per commit, which more than
    // halves the server's time per workflow task here (bench/README.md). A killed or crashed server loses
    // nothing; a power loss can lose the last commits, which workers then redo (an agent is adopted or its
    // recorded exit collected, never run twice: see docs/reliability.md).
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
  ];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS)) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  return args;
}

/** The child must not pick up client settings (TEMPORAL_ADDRESS, profiles, TLS) meant for orchestrate itself. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TEMPORAL_')) env[k] = v;
  return env;
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/**
 * Starts the dev server in the background (detached; it outlives this process) and waits until it serves gRPC,
 * knows the namespace and the Web UI answers. Does nothing when it already runs. Long because its steps (an
 * existing server, the port checks, the spawn, the wait with the log's tail on failure) share the paths and the
 * deadline, and each failure message names what the user runs next.
 */
export async function startDevServer(
  opts: DevServerOptions & {
    onProgress?: (msg: string) => void;
    timeoutMs?: number;
    /** How long a busy port may take to come free before start refuses it (default 10 s). */
    busyPortGraceMs?: number;
  },
): Promise<DevServerStatus & { alreadyRunning: boolean }> {
  const progress = opts.onProgress ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const busyPortGraceMs = opts.busyPortGraceMs ?? PORT_BUSY_GRACE_MS;
  const paths = devServerPaths(opts.stateDir);
  const base = baseStatus(opts);
  const { address, uiUrl } = base;
  fs.mkdirSync(paths.dir, { recursive: true });

  const existing = readPid(paths.pidPath);
  if (existing !== null) {
    if (isDevServerProcess(existing)) {
      const argv = commandLine(existing);
      const runningPort = argv ? argValue(argv, '--port') : undefined;
      if (runningPort !== undefined && runningPort !== String(opts.port)) {
        throw new Error(
          `The dev server for ${opts.stateDir} already runs (pid ${existing}) on port ${runningPort}, but [server] port ` +
            `is ${opts.port}. Stop it first (\`orchestrate server stop\`), then start it again.`,
        );
      }
      try {
        await waitForServer(address, opts.namespace, timeoutMs, { uiUrl });
      } catch (err) {
        throw new Error(
          `The Temporal dev server (pid ${existing}) is running but does not answer at ${address}: ${errorMessage(err)}. ` +
            `Stop it with \`orchestrate server stop\` and start it again. Last lines of ${paths.logPath}:\n` +
            logTail(paths.logPath),
        );
      }
      progress(`Temporal dev server already running (pid ${existing}) at ${address}`);
      return { ...base, running: true, pid: existing, alreadyRunning: true };
    }
    progress(`Removing stale pid file ${paths.pidPath} (process ${existing} is gone)`);
    removePidFile(paths.pidPath);
  }

  if (!(await portFree(opts.ip, opts.port, '[server] port'))) {
    if (await answersAsTemporal(address, opts.namespace, 3_000)) {
      const added = await ensureSearchAttributes(address, opts.namespace);
      progress(
        `A Temporal server not started by orchestrate already answers at ${address}; using it` +
          (added.length ? ` (registered search attributes ${added.join(', ')})` : ''),
      );
      return { ...base, running: true, pid: null, alreadyRunning: true };
    }
    if (!(await portFreeWithin(opts.ip, opts.port, '[server] port', busyPortGraceMs)))
      throw new Error(
        `Port ${opts.port} on ${opts.ip} is already in use by another program that is not a Temporal server, so the ` +
          `dev server cannot start there. Stop that program or pick a free port in workspaces.toml ([server] port).`,
      );
  }
  if (!(await portFreeWithin(opts.ip, opts.uiPort, '[server] ui_port', busyPortGraceMs))) {
    throw new Error(
      `Web UI port ${opts.uiPort} on ${opts.ip} is already in use by another program, so the dev server cannot ` +
        `start. Stop that program or pick a free port in workspaces.toml ([server] ui_port).`,
    );
  }

  const bin = findTemporalCli();
  const args = startDevArgs(opts, paths.dbPath);
  fs.appendFileSync(paths.logPath, `\n=== ${new Date().toISOString()} orchestrate starts: ${bin} ${args.join(' ')}\n`);
  const logOffset = fileSize(paths.logPath);
  const logFd = fs.openSync(paths.logPath, 'a');
  let exited: string | null = null;
  let child;
  try {
    child = spawn(bin, args, {
      cwd: paths.dir,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: serverEnv(),
      windowsHide: true,
    });
  } finally {
    fs.closeSync(logFd);
  }
  child.on('error', (err) => {
    exited ??= `could not be run (${err.message})`;
  });
  child.on('exit', (code, signal) => {
    exited ??= signal ? `was killed by ${signal}` : `exited with code ${code}`;
  });
  child.unref();

  const pid = child.pid;
  if (pid === undefined) {
    await sleep(0);
    throw new Error(`The Temporal CLI ${bin} ${exited ?? 'could not be started'}.`);
  }
  fs.writeFileSync(paths.pidPath, `${pid}\n`);
  progress(`Starting Temporal dev server (pid ${pid}) at ${address}, Web UI ${uiUrl}; data in ${paths.dbPath}`);

  try {
    await waitForServer(address, opts.namespace, timeoutMs, {
      uiUrl,
      abortIf: () => (exited ? new Error(`the server process ${exited}`) : null),
    });
  } catch (err) {
    if (!exited) {
      signalGroup(pid, 'SIGTERM', { orProcess: true });
      if (!(await waitGone(pid, KILL_WAIT_MS))) {
        signalGroup(pid, 'SIGKILL', { orProcess: true });
        await waitGone(pid, KILL_WAIT_MS);
      }
    }
    removePidFile(paths.pidPath);
    throw new Error(
      `The Temporal dev server did not start: ${errorMessage(err)}. Last lines of ${paths.logPath}:\n` +
        logTail(paths.logPath, logOffset),
    );
  }
  progress(`Temporal dev server ready at ${address}; Web UI ${uiUrl}`);
  return { ...base, running: true, pid, alreadyRunning: false };
}

/** SIGTERM to the server's process group, wait until it is gone (SIGKILL if it lingers), remove the pid file. */
export async function stopDevServer(opts: DevServerOptions): Promise<{ wasRunning: boolean }> {
  const { pidPath } = devServerPaths(opts.stateDir);
  const pid = readPid(pidPath);
  if (pid === null) return { wasRunning: false };
  if (!isDevServerProcess(pid)) {
    removePidFile(pidPath);
    return { wasRunning: false };
  }
  signalGroup(pid, 'SIGTERM', { orProcess: true });
  if (!(await waitGone(pid, STOP_GRACE_MS))) {
    signalGroup(pid, 'SIGKILL', { orProcess: true });
    if (!(await waitGone(pid, KILL_WAIT_MS))) {
      throw new Error(`The Temporal dev server (pid ${pid}) did not exit after SIGKILL.`);
    }
  }
  removePidFile(pidPath);
  return { wasRunning: true };
}

/** Is the dev server (or any Temporal server at the configured address) up and answering? */
export async function devServerStatus(opts: DevServerOptions): Promise<DevServerStatus> {
  const base = baseStatus(opts);
  const recorded = readPid(devServerPaths(opts.stateDir).pidPath);
  const pid = recorded !== null && isDevServerProcess(recorded) ? recorded : null;
  const running = await answersAsTemporal(base.address, opts.namespace, pid !== null ? 3_000 : 1_500);
  return { ...base, running, pid };
}
