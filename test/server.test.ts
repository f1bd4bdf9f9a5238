// The dev-server manager against a real `temporal server start-dev`: its OWN server, state folder and ports,
// so the shared server from globalSetup is left alone.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import {
  devServerPaths,
  devServerStatus,
  startDevArgs,
  startDevServer,
  stopDevServer,
  type DevServerOptions,
} from '../src/devserver/server';
import { waitForServer } from '../src/devserver/probe';
import { uiWorkflowUrl } from '../src/temporal/ui';
import { SEARCH_ATTRIBUTE_REGISTRATIONS, SearchAttr } from '../src/temporal/types';
import { findTemporalCli, repoRoot } from '../src/devserver/temporalBin';
import { freePorts, testServer, testWorkflowBundle } from './helpers/server';
import { processAlive } from './helpers/process';

/** temporal.api.enums.v1.IndexedValueType: INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_DOUBLE. */
const INDEXED = { Keyword: 2, Double: 4 } as const;

let tmpDir: string;
const servers: DevServerOptions[] = [];

async function newOptions(name: string): Promise<DevServerOptions> {
  const [port, uiPort] = await freePorts(2);
  const opts = { stateDir: path.join(tmpDir, name), ip: '127.0.0.1', port, uiPort, namespace: 'default' };
  servers.push(opts);
  return opts;
}

async function withClient<T>(address: string, fn: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    return await fn(new Client({ connection, namespace: 'default' }), connection);
  } finally {
    await connection.close();
  }
}

/** A TCP listener that is not Temporal: answers every connection with an HTTP/1.1 error and hangs up. */
async function listen(port: number): Promise<{ close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 418 not temporal\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        srv.close(() => resolve());
      }),
  };
}

beforeAll(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orchestrate-server-test-'));
});

afterAll(async () => {
  for (const opts of servers) await stopDevServer(opts).catch(() => undefined);
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

test('globalSetup published the shared server (and the workflow bundle)', async () => {
  const shared = testServer();
  expect(shared.namespace).toBe('default');
  await waitForServer(shared.address, shared.namespace, 5_000, { uiUrl: shared.uiUrl });
  const [host, port] = shared.address.split(':');
  const uiPort = Number(new URL(shared.uiUrl).port);
  const status = await devServerStatus({
    stateDir: shared.stateDir,
    ip: host,
    port: Number(port),
    uiPort,
    namespace: 'default',
  });
  expect(status.running).toBe(true);
  expect(status.pid).toEqual(expect.any(Number));
  if (fs.existsSync(path.resolve(__dirname, '../src/workflows/index.ts'))) {
    expect(fs.statSync(testWorkflowBundle().codePath).size).toBeGreaterThan(0);
  }
});

describe('dev server lifecycle (own server)', () => {
  let opts: DevServerOptions;
  let firstPid: number;
  const workflowId = `persist-check-${Date.now()}`;

  beforeAll(async () => {
    opts = await newOptions('lifecycle');
  });

  test('start: healthy, namespace described, Web UI answers, pid and SQLite on disk', async () => {
    const progress: string[] = [];
    const s = await startDevServer({ ...opts, onProgress: (m) => progress.push(m) });
    expect(s.alreadyRunning).toBe(false);
    expect(s.running).toBe(true);
    expect(s.address).toBe(`127.0.0.1:${opts.port}`);
    expect(s.uiUrl).toBe(`http://127.0.0.1:${opts.uiPort}`);
    expect(s.pid).toEqual(expect.any(Number));
    firstPid = s.pid as number;
    expect(processAlive(firstPid)).toBe(true);

    const paths = devServerPaths(opts.stateDir);
    expect(s.dbPath).toBe(paths.dbPath);
    expect(fs.readFileSync(paths.pidPath, 'utf8').trim()).toBe(String(firstPid));
    expect(fs.existsSync(paths.dbPath)).toBe(true);
    expect(progress.join('\n')).toContain('ready');

    await waitForServer(s.address, opts.namespace, 5_000);
    const res = await fetch(`${s.uiUrl}/`);
    expect(res.status).toBeLessThan(500);
    await res.arrayBuffer();

    const status = await devServerStatus(opts);
    expect(status).toMatchObject({ running: true, pid: firstPid, address: s.address, uiUrl: s.uiUrl });
  });

  test('start again: alreadyRunning with the same pid', async () => {
    const s = await startDevServer(opts);
    expect(s.alreadyRunning).toBe(true);
    expect(s.pid).toBe(firstPid);
  });

  test('our search attributes are registered with their types (Keyword, Double)', async () => {
    const attrs = await withClient(
      `127.0.0.1:${opts.port}`,
      async (_c, connection) =>
        (await connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes,
    );
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS))
      expect(attrs?.[name]).toBe(INDEXED[type]);
  });

  test('a workflow started (no worker needed) is recorded', async () => {
    await withClient(`127.0.0.1:${opts.port}`, async (client) => {
      await client.workflow.start('neverRuns', {
        taskQueue: `no-worker-${workflowId}`,
        workflowId,
        typedSearchAttributes: [{ key: SearchAttr.project, value: 'persist-project' }],
      });
      const d = await client.workflow.getHandle(workflowId).describe();
      expect(d.status.name).toBe('RUNNING');
    });
  });

  test('stop: process gone, pid file removed, status not running; stopping again is a no-op', async () => {
    expect(await stopDevServer(opts)).toEqual({ wasRunning: true });
    expect(processAlive(firstPid)).toBe(false);
    expect(fs.existsSync(devServerPaths(opts.stateDir).pidPath)).toBe(false);
    const status = await devServerStatus(opts);
    expect(status).toMatchObject({ running: false, pid: null });
    expect(await stopDevServer(opts)).toEqual({ wasRunning: false });
    expect(fs.existsSync(devServerPaths(opts.stateDir).dbPath)).toBe(true);
  });

  test('restart on the same state dir (over a stale pid file): workflow and search attributes survived', async () => {
    // A pid that surely belongs to no process any more.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(devServerPaths(opts.stateDir).pidPath, `${dead.stdout}\n`);

    const progress: string[] = [];
    const s = await startDevServer({ ...opts, onProgress: (m) => progress.push(m) });
    expect(s.alreadyRunning).toBe(false);
    expect(s.pid).not.toBe(firstPid);
    expect(progress.join('\n')).toMatch(/stale pid file/i);

    await withClient(s.address, async (client, connection) => {
      const d = await client.workflow.getHandle(workflowId).describe();
      expect(d.status.name).toBe('RUNNING');
      expect(d.typedSearchAttributes.get(SearchAttr.project)).toBe('persist-project');

      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS))
        expect(customAttributes?.[name]).toBe(INDEXED[type]);

      const ids: string[] = [];
      for await (const wf of client.workflow.list({ query: `OrchestrateProject = 'persist-project'` })) {
        ids.push(wf.workflowId);
      }
      expect(ids).toEqual([workflowId]);
      await client.workflow.getHandle(workflowId).terminate('test done');
    });

    expect(await stopDevServer(opts)).toEqual({ wasRunning: true });
  });
});

describe('dev server start failures', () => {
  test('gRPC port held by a non-Temporal listener: clear error naming the port and [server] port', async () => {
    const opts = await newOptions('port-taken');
    const squatter = await listen(opts.port);
    try {
      await expect(startDevServer({ ...opts, timeoutMs: 10_000, busyPortGraceMs: 500 })).rejects.toThrow(
        new RegExp(`Port ${opts.port} .*\\[server\\] port`),
      );
      expect(fs.existsSync(devServerPaths(opts.stateDir).pidPath)).toBe(false);
    } finally {
      await squatter.close();
    }
  });

  test('UI port held by another program: clear error naming the UI port', async () => {
    const opts = await newOptions('ui-port-taken');
    const squatter = await listen(opts.uiPort);
    try {
      await expect(startDevServer({ ...opts, busyPortGraceMs: 500 })).rejects.toThrow(
        new RegExp(`Web UI port ${opts.uiPort} .*ui_port`),
      );
      expect(fs.existsSync(devServerPaths(opts.stateDir).pidPath)).toBe(false);
    } finally {
      await squatter.close();
    }
  });

  test('a port busy for a moment (no listener yet, e.g. a dying client) is waited for, then the server starts', async () => {
    const opts = await newOptions('port-briefly-taken');
    const squatter = await listen(opts.port);
    const released = new Promise<void>((resolve) => setTimeout(() => void squatter.close().then(resolve), 1_500));
    try {
      const started = await startDevServer({ ...opts, timeoutMs: 60_000, busyPortGraceMs: 20_000 });
      expect(started.running).toBe(true);
      expect(started.alreadyRunning).toBe(false);
    } finally {
      await released;
      await stopDevServer(opts);
    }
  }, 90_000);

  test('a server process that exits during startup: error carries the end of server.log', async () => {
    const opts = await newOptions('crashes');
    const fake = path.join(tmpDir, 'fake-temporal.sh');
    fs.writeFileSync(fake, '#!/bin/sh\necho "fatal: sqlite is on fire" >&2\nexit 3\n', { mode: 0o755 });
    const saved = process.env.ORCHESTRATE_TEMPORAL_BIN;
    process.env.ORCHESTRATE_TEMPORAL_BIN = fake;
    try {
      await expect(startDevServer({ ...opts, timeoutMs: 10_000, busyPortGraceMs: 500 })).rejects.toThrow(
        /exited with code 3[\s\S]*sqlite is on fire/,
      );
      expect(fs.existsSync(devServerPaths(opts.stateDir).pidPath)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.ORCHESTRATE_TEMPORAL_BIN;
      else process.env.ORCHESTRATE_TEMPORAL_BIN = saved;
    }
  });
});

describe('findTemporalCli', () => {
  const saved = process.env.ORCHESTRATE_TEMPORAL_BIN;
  afterEach(() => {
    if (saved === undefined) delete process.env.ORCHESTRATE_TEMPORAL_BIN;
    else process.env.ORCHESTRATE_TEMPORAL_BIN = saved;
  });

  test('defaults to the repo-local .tools/bin/temporal', () => {
    delete process.env.ORCHESTRATE_TEMPORAL_BIN;
    expect(repoRoot()).toBe(path.resolve(__dirname, '..'));
    expect(findTemporalCli()).toBe(path.join(repoRoot(), '.tools', 'bin', 'temporal'));
  });

  test('honours ORCHESTRATE_TEMPORAL_BIN', () => {
    const real = fs.realpathSync(path.join(repoRoot(), '.tools', 'bin', 'temporal'));
    process.env.ORCHESTRATE_TEMPORAL_BIN = real;
    expect(findTemporalCli()).toBe(real);
  });

  test('a bad ORCHESTRATE_TEMPORAL_BIN is a helpful error', () => {
    process.env.ORCHESTRATE_TEMPORAL_BIN = path.join(os.tmpdir(), 'no-such-temporal-binary');
    expect(() => findTemporalCli()).toThrow(/ORCHESTRATE_TEMPORAL_BIN=.*no-such-temporal-binary.*install-temporal/);
  });
});

test('the systemd unit starts the dev server with the same flags as `orchestrate server start`', () => {
  const unit = fs.readFileSync(path.join(repoRoot(), 'deploy/systemd/orchestrate-server.service'), 'utf8');
  const execStart = /^ExecStart=((?:[^\n]*\\\n)*[^\n]*)/m.exec(unit)?.[1] ?? '';
  const unitArgs = execStart.replace(/\\\n/g, ' ').trim().split(/\s+/).slice(1);
  const dbPath = '/home/orchestrate/.orchestrate/server/temporal.sqlite';
  const ours = startDevArgs(
    { stateDir: '/home/orchestrate/.orchestrate', ip: '127.0.0.1', port: 7233, uiPort: 8233, namespace: 'default' },
    dbPath,
  );
  expect(unitArgs).toEqual(ours);
});

test('uiWorkflowUrl', () => {
  expect(uiWorkflowUrl('http://127.0.0.1:8233', 'default', 'job/my proj')).toBe(
    'http://127.0.0.1:8233/namespaces/default/workflows/job%2Fmy%20proj',
  );
  expect(uiWorkflowUrl('http://127.0.0.1:8233/', 'default', 'cycle', 'run-1')).toBe(
    'http://127.0.0.1:8233/namespaces/default/workflows/cycle/run-1',
  );
});
