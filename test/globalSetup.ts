// Starts ONE real Temporal dev server (through startDevServer, so that code path is exercised) for the whole jest
// run and builds the workflow bundle once. Test files read both through process.env, which jest workers inherit
// (see test/helpers/server.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowBundleOptions } from '../src/bundle';
import { startDevServer, stopDevServer, type DevServerOptions } from '../src/devserver/server';
import { freePorts } from './helpers/server';
import { ensureTestPrerequisites } from './prerequisites';

export interface GlobalTestState {
  tmpDir: string;
  server: DevServerOptions;
}

declare global {
  var __ORCHESTRATE_TEST_STATE__: GlobalTestState | undefined;
}

async function buildWorkflowBundle(tmpDir: string): Promise<string | null> {
  const workflowsPath = path.resolve(__dirname, '../src/workflows/index.ts');
  if (!fs.existsSync(workflowsPath)) return null;
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  const bundle = await bundleWorkflowCode({
    ...workflowBundleOptions(workflowsPath),
    logger: new DefaultLogger('WARN'),
  });
  const codePath = path.join(tmpDir, 'workflow-bundle.js');
  fs.writeFileSync(codePath, bundle.code);
  return codePath;
}

export default async function globalSetup(): Promise<void> {
  ensureTestPrerequisites();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orchestrate-test-'));
  const [port, uiPort] = await freePorts(2);
  const server: DevServerOptions = {
    stateDir: path.join(tmpDir, 'state'),
    ip: '127.0.0.1',
    port,
    uiPort,
    namespace: 'default',
  };
  globalThis.__ORCHESTRATE_TEST_STATE__ = { tmpDir, server };

  const [started, bundled] = await Promise.allSettled([
    startDevServer({ ...server, timeoutMs: 60_000 }),
    buildWorkflowBundle(tmpDir),
  ]);
  if (started.status === 'rejected') {
    await stopDevServer(server).catch(() => undefined);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw started.reason;
  }

  process.env.TEMPORAL_ADDRESS = started.value.address;
  process.env.TEMPORAL_NAMESPACE = server.namespace;
  process.env.ORCHESTRATE_TEST_UI_URL = started.value.uiUrl;
  process.env.ORCHESTRATE_TEST_STATE_DIR = server.stateDir;

  if (bundled.status === 'rejected' || !bundled.value) {
    // Every workflow test needs the bundle: fail the run here, with the reason, instead of in each file.
    await stopDevServer(server).catch(() => undefined);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    const reason =
      bundled.status === 'rejected' ? (bundled.reason as Error).message : 'src/workflows/index.ts is missing';
    throw new Error(`bundling src/workflows failed: ${reason}`);
  }
  process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE = bundled.value;
}
