// Connection info for the one shared Temporal dev server that test/globalSetup.ts starts for the whole jest run.
import fs from 'node:fs';
import net from 'node:net';

export interface TestServer {
  /** host:port of the shared dev server's frontend (also in TEMPORAL_ADDRESS, which envconfig reads). */
  address: string;
  namespace: string;
  uiUrl: string;
  /** The shared server's state folder (its SQLite, log and pid live in <stateDir>/server). */
  stateDir: string;
}

/** Distinct TCP ports that were free a moment ago on 127.0.0.1 (bound to port 0, then released). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host, port: 0, exclusive: true }, () => resolve());
      });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through jest so test/globalSetup.ts starts the server`);
  return value;
}

/** The shared dev server started by test/globalSetup.ts. */
export function testServer(): TestServer {
  return {
    address: requiredEnv('TEMPORAL_ADDRESS'),
    namespace: requiredEnv('TEMPORAL_NAMESPACE'),
    uiUrl: requiredEnv('ORCHESTRATE_TEST_UI_URL'),
    stateDir: requiredEnv('ORCHESTRATE_TEST_STATE_DIR'),
  };
}

/** Worker option for the workflow bundle built once by globalSetup: `Worker.create({ workflowBundle: ... })`. */
export function testWorkflowBundle(): { codePath: string } {
  const codePath = process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE;
  if (codePath && fs.existsSync(codePath)) return { codePath };
  const why = process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE_ERROR ?? 'src/workflows/index.ts did not exist';
  throw new Error(`No workflow bundle from test/globalSetup.ts: ${why}`);
}
