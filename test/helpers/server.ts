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

/**
 * Distinct TCP ports that were free a moment ago on host, picked below the kernel's ephemeral range. A
 * port inside that range can be taken while its server is down: a client retrying to reach it may get a
 * TCP self-connection (its source port equals the destination), and the restarted server cannot bind.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ephemeralLow = ephemeralRangeStart();
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow - 1);
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1000) throw new Error(`no free TCP port on ${host} between ${low} and ${high}`);
    const port = low + Math.floor(Math.random() * (high - low));
    if (ports.includes(port)) continue;
    if (await canListen(host, port)) ports.push(port);
  }
  return ports;
}

function ephemeralRangeStart(): number {
  try {
    const [start] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return Number(start) || 32768;
  } catch {
    return 32768;
  }
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
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
