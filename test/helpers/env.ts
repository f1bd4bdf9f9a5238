// A throwaway orchestrator for one test file: temp state dir, real git repos as projects, a config file,
// and a worker on its own task queue against the shared dev server started by globalSetup.
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import execa from 'execa';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { createWorker } from '../../src/worker';
import { processAlive } from './process';

export const FAKE_CLAUDE = path.resolve(__dirname, '../fixtures/fake-claude.js');
export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface TestEnv {
  dir: string;
  stateDir: string;
  configPath: string;
  config: Config;
  taskQueue: string;
  client: Client;
  projectPath: (name: string) => string;
  /** Rewrites the config file (workers re-read it for every job). */
  writeConfig: (toml: string) => Promise<void>;
  /** Env for spawning the CLI against this setup. */
  cliEnv: NodeJS.ProcessEnv;
  stop: () => Promise<void>;
  /** The in-process worker (absent with startWorker: false). */
  worker?: Worker;
}

export interface EnvOptions {
  /** Project name → extra TOML lines for its table (path is added). `null` = no git repo is created. */
  projects: Record<string, string>;
  /** Extra TOML appended after the generated tables (e.g. [gates], [schedules]). */
  extra?: string;
  agentArgs?: string;
  timeout?: string;
  concurrency?: number;
  /** Projects whose folder is not created (setup-error tests). */
  missing?: string[];
  startWorker?: boolean;
  /** Extra lines for the [orchestrator] table. */
  orchestratorExtra?: string[];
  /** Data converter for the worker and the client (e.g. the encryption codec). */
  dataConverter?: DataConverter;
}

export function git(cwd: string, ...args: string[]): void {
  execa.sync('git', args, { cwd });
}

export function makeRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'init');
}

export function renderConfig(dir: string, taskQueue: string, opts: EnvOptions): string {
  const lines = [
    '[orchestrator]',
    `task_queue = "${taskQueue}"`,
    `state_dir = "${path.join(dir, 'state')}"`,
    'timezone = "Europe/London"',
    `concurrency = ${opts.concurrency ?? 4}`,
    'kill_grace = "1s"',
    // Fast failure detection and usage-limit back-off, so fault tests take seconds.
    'heartbeat_timeout = "10s"',
    'usage_limit_backoff = "2s"',
    'usage_limit_margin = "0s"',
    ...(opts.orchestratorExtra ?? []),
    '',
    '[agent]',
    `command = "${FAKE_CLAUDE}"`,
    `args = ${opts.agentArgs ?? '["-p", "{prompt}", "--output-format", "json"]'}`,
    `timeout = "${opts.timeout ?? '60s'}"`,
    '',
    '[schedules]',
    'eod = ""',
    'rollover = ""',
    '',
  ];
  for (const [name, body] of Object.entries(opts.projects)) {
    lines.push(`[projects.${name}]`, `path = "${path.join(dir, 'projects', name)}"`, body, '');
  }
  if (opts.extra) lines.push(opts.extra);
  return lines.join('\n');
}

let runtimeInstalled = false;

export async function makeEnv(opts: EnvOptions): Promise<TestEnv> {
  if (!runtimeInstalled) {
    // Expected job failures are logged as warnings by the SDK: keep test output to real errors.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-test-'));
  const taskQueue = `test-${randomUUID()}`;
  for (const name of Object.keys(opts.projects)) {
    if (!opts.missing?.includes(name)) makeRepo(path.join(dir, 'projects', name));
  }
  const configPath = path.join(dir, 'workspaces.toml');
  writeFileSync(configPath, renderConfig(dir, taskQueue, opts));
  const config = await loadConfig(configPath);
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace: 'default', dataConverter: opts.dataConverter });
  const nativeConnection = await NativeConnection.connect({ address });
  const worker =
    opts.startWorker === false
      ? undefined
      : (
          await createWorker({
            config,
            connection: nativeConnection,
            namespace: 'default',
            workflowBundlePath: process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE,
            dataConverter: opts.dataConverter,
          })
        ).worker;
  const running = worker ? worker.run() : Promise.resolve();
  return {
    dir,
    stateDir: path.join(dir, 'state'),
    configPath,
    config,
    taskQueue,
    client,
    worker,
    projectPath: (name) => path.join(dir, 'projects', name),
    writeConfig: async (toml) => writeFileSync(configPath, toml),
    cliEnv: { ...process.env, ORCHESTRATE_CONFIG: configPath, TEMPORAL_ADDRESS: address, NO_COLOR: '1' },
    stop: async () => {
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await clientConnection.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Live processes whose command line mentions `needle` (left-over agents after a test). */
export function processesMatching(needle: string): string[] {
  const r = execa.sync('ps', ['-eo', 'pid,stat,args'], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes(needle) && !/\sZ/.test(l.slice(0, 14)) && !l.includes('ps -eo'));
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Live (non-zombie) processes whose working directory is inside `dir`: left-over agents, if any. */
export function processesIn(dir: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd !== dir && !cwd.startsWith(dir + path.sep)) continue;
      if (!processAlive(Number(entry))) continue;
      found.push({
        pid: Number(entry),
        cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
      });
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

/** How many agent runs the fake agent stamped into FAKE_CLAUDE_STAMPS's file (0 before the first). */
export function agentStartsIn(stamps: string): number {
  return existsSync(stamps)
    ? readFileSync(stamps, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"start"')).length
    : 0;
}

/** Waits until a running workflow's current details (what the Web UI shows) match `pattern`; returns them. */
export function waitForDetails(
  handle: { query: <T>(name: string) => Promise<T> },
  pattern: RegExp,
  timeoutMs?: number,
): Promise<string> {
  return waitFor(
    `current details matching ${pattern}`,
    async () => {
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      return meta.currentDetails && pattern.test(meta.currentDetails) ? meta.currentDetails : null;
    },
    timeoutMs,
  );
}
