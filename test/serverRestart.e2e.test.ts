// The Temporal dev server killed and restarted mid-cycle (on-disk SQLite): the cycle completes and every
// project is accounted for, with one agent run each. Uses its own server so the shared one is untouched.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBatch } from '../src/temporal/client';
import { loadConfig } from '../src/config';
import { devServerPaths, startDevServer, stopDevServer, type DevServerOptions } from '../src/devserver/server';
import type { BatchResult } from '../src/temporal/types';
import { createWorker } from '../src/worker';
import { agentStartsIn, makeRepo, processesIn, renderConfig, waitFor } from './helpers/env';
import { freePorts } from './helpers/server';
import { processAlive } from './helpers/process';

let dir: string;
let server: DevServerOptions;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let native: NativeConnection | undefined;
let clientConnection: Connection | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orch-restart-'));
  const [port, uiPort] = await freePorts(2);
  server = { stateDir: path.join(dir, 'server-state'), ip: '127.0.0.1', port, uiPort, namespace: 'default' };
  await startDevServer({ ...server, timeoutMs: 60_000 });
});

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await native?.close().catch(() => undefined);
  await clientConnection?.close().catch(() => undefined);
  await stopDevServer(server).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('cycle survives a dev server SIGKILL and restart', async () => {
  const address = `127.0.0.1:${server.port}`;
  const projects = {
    rst1: 'prompt = "[scenario:slow:4]"',
    rst2: 'prompt = "[scenario:slow:4]"',
    rst3: 'prompt = "[scenario:slow:4]"',
  };
  for (const name of Object.keys(projects)) makeRepo(path.join(dir, 'projects', name));
  const stamps = path.join(dir, 'stamps.jsonl');
  const configPath = path.join(dir, 'workspaces.toml');
  writeFileSync(
    configPath,
    renderConfig(dir, 'restart-test', { projects, concurrency: 3 }).replace(
      '[agent]\n',
      `[agent]\nenv = { FAKE_CLAUDE_STAMPS = "${stamps}" }\n`,
    ),
  );
  const config = await loadConfig(configPath);
  native = await NativeConnection.connect({ address });
  ({ worker } = await createWorker({
    config,
    connection: native,
    namespace: 'default',
    workflowBundlePath: process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE,
  }));
  running = worker.run();
  clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace: 'default' });

  const handle = await startBatch(client, config, 'cycle', {});
  const starts = () => agentStartsIn(stamps);
  await waitFor('all three agents running', () => starts() === 3, 30_000);

  // Kill the server hard, then bring it back on the same database.
  const pid = Number(readFileSync(devServerPaths(server.stateDir).pidPath, 'utf8').trim());
  process.kill(-pid, 'SIGKILL');
  await waitFor('server gone', () => !processAlive(pid), 10_000);
  await startDevServer({ ...server, timeoutMs: 60_000 });

  const result = (await handle.result()) as BatchResult;
  expect(result.rows.map((r) => [r.project, r.status]).sort()).toEqual([
    ['rst1', 'succeeded'],
    ['rst2', 'succeeded'],
    ['rst3', 'succeeded'],
  ]);
  // Nothing duplicated: one agent per project; nothing left: no process in any project folder.
  expect(starts()).toBe(3);
  expect(processesIn(path.join(dir, 'projects'))).toEqual([]);
}, 180_000);
