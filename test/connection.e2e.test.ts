// Any Temporal cluster: the CLI and the worker find the server through @temporalio/envconfig (a profile file and
// TEMPORAL_* variables) and pass the namespace to both the Client and the Worker. Unit checks of the target each
// profile shape gives (dev server, Temporal Cloud with an API key, mTLS), then the real thing: a worker and
// `orchestrate run` whose only way to the test server and its non-default namespace is a profile file.
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import execa from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporalTarget, webUiUrl } from '../src/temporal/connection';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../src/temporal/types';
import { jobWorkflowId } from '../src/temporal/ids';
import { makeRepo, processesIn, renderConfig, waitFor } from './helpers/env';
import { testServer } from './helpers/server';

const CLI = path.resolve(__dirname, '../dist/cli.js');
const SERVER = { server: { ip: '127.0.0.1', port: 7233, uiPort: 8233, namespace: 'default' } };
const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs fn with exactly these TEMPORAL_* variables set (the jest run's own are put back afterwards). */
function withTemporalEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith('TEMPORAL_'))
      .map((k) => [k, process.env[k]]),
  );
  for (const k of Object.keys(saved)) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const k of Object.keys(process.env)) if (k.startsWith('TEMPORAL_')) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('temporalTarget', () => {
  const profiles = path.join(dir, 'temporal.toml');
  const cert = path.join(dir, 'client.pem');
  const key = path.join(dir, 'client.key');
  beforeAll(() => {
    writeFileSync(cert, 'CERT');
    writeFileSync(key, 'KEY');
    writeFileSync(
      profiles,
      `[profile.default]
address = "127.0.0.1:7999"
namespace = "dev-ns"

[profile.cloud]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "key-abc"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "prod"
[profile.mtls.tls]
client_cert_path = "${cert}"
client_key_path = "${key}"
`,
    );
  });

  test('no profile and no TEMPORAL_ADDRESS: the local dev server of [server]', () => {
    const t = withTemporalEnv({ TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') }, () => temporalTarget(SERVER));
    expect(t).toEqual({ connectionOptions: { address: '127.0.0.1:7233' }, namespace: 'default', external: false });
  });

  test('the default profile of the file', () => {
    const t = withTemporalEnv({ TEMPORAL_CONFIG_FILE: profiles }, () => temporalTarget(SERVER));
    expect(t).toEqual({ connectionOptions: { address: '127.0.0.1:7999' }, namespace: 'dev-ns', external: true });
  });

  test('TEMPORAL_PROFILE picks Temporal Cloud with an API key (TLS on)', () => {
    const t = withTemporalEnv({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'cloud' }, () =>
      temporalTarget(SERVER),
    );
    expect(t.connectionOptions).toEqual({ address: 'my-ns.a1b2c.tmprl.cloud:7233', apiKey: 'key-abc', tls: true });
    expect(t.namespace).toBe('my-ns.a1b2c');
  });

  test('an mTLS profile loads the client certificate pair from its files', () => {
    const t = withTemporalEnv({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'mtls' }, () =>
      temporalTarget(SERVER),
    );
    expect(t.connectionOptions.address).toBe('temporal.internal:7233');
    const tls = t.connectionOptions.tls as { clientCertPair: { crt: Uint8Array; key: Uint8Array } };
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toBe('CERT');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toBe('KEY');
    expect(t.namespace).toBe('prod');
  });

  test('TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE override the profile', () => {
    const t = withTemporalEnv(
      { TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_ADDRESS: 'elsewhere:7233', TEMPORAL_NAMESPACE: 'env-ns' },
      () => temporalTarget(SERVER),
    );
    expect(t).toEqual({ connectionOptions: { address: 'elsewhere:7233' }, namespace: 'env-ns', external: true });
  });

  test('the Web UI address: ORCHESTRATE_UI_URL, else the dev server’s', () => {
    const saved = process.env.ORCHESTRATE_UI_URL;
    try {
      delete process.env.ORCHESTRATE_UI_URL;
      expect(webUiUrl(SERVER)).toBe('http://127.0.0.1:8233');
      process.env.ORCHESTRATE_UI_URL = 'https://cloud.temporal.io/namespaces/my-ns';
      expect(webUiUrl(SERVER)).toBe('https://cloud.temporal.io/namespaces/my-ns');
    } finally {
      if (saved === undefined) delete process.env.ORCHESTRATE_UI_URL;
      else process.env.ORCHESTRATE_UI_URL = saved;
    }
  });
});

describe('a worker and the CLI reach a non-default namespace through a profile file only', () => {
  const namespace = `orch-ns-${randomBytes(4).toString('hex')}`;
  let connection: Connection;
  let worker: execa.ExecaChildProcess | undefined;
  let childEnv: NodeJS.ProcessEnv;
  const projectsDir = path.join(dir, 'ns');

  beforeAll(async () => {
    const server = testServer();
    connection = await Connection.connect({ address: server.address });
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    // A new namespace reaches every server component after its cache refresh; search attributes are per namespace.
    await waitFor(
      'the new namespace to accept search attributes',
      async () =>
        connection.operatorService
          .addSearchAttributes({
            namespace,
            // IndexedValueType KEYWORD = 2, DOUBLE = 4
            searchAttributes: Object.fromEntries(
              Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS).map(([n, t]) => [n, t === 'Double' ? 4 : 2]),
            ),
          })
          .then(
            () => true,
            () => false,
          ),
      30_000,
    );
    makeRepo(path.join(projectsDir, 'projects', 'nsproj'));
    const configPath = path.join(projectsDir, 'workspaces.toml');
    // [server] points nowhere useful (port 1): only the profile can lead to the test server.
    const toml = renderConfig(projectsDir, `ns-${randomBytes(3).toString('hex')}`, {
      projects: { nsproj: 'prompt = "hello from another namespace"' },
      extra: '[server]\nport = 1\nnamespace = "not-this-one"\n',
    });
    writeFileSync(configPath, toml);
    const profile = path.join(projectsDir, 'temporal.toml');
    writeFileSync(profile, `[profile.default]\naddress = "${server.address}"\nnamespace = "${namespace}"\n`);
    childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
    Object.assign(childEnv, { ORCHESTRATE_CONFIG: configPath, TEMPORAL_CONFIG_FILE: profile, NO_COLOR: '1' });
    worker = execa('node', [CLI, 'worker'], { env: childEnv, extendEnv: false, all: true, reject: false });
  });

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker;
    await connection?.close();
  });

  test('`orchestrate run` starts the job in that namespace and the worker there runs it', async () => {
    const run = await execa('node', [CLI, 'run', '-p', 'nsproj', '--json'], {
      env: childEnv,
      extendEnv: false,
      reject: false,
      timeout: 90_000,
    });
    expect(run.stderr).not.toMatch(/Error:/);
    expect(run.exitCode).toBe(0);
    const out = JSON.parse(run.stdout) as { outcome: string; workflowId: string; result: string };
    expect(out.outcome).toBe('succeeded');
    expect(out.result).toContain('hello from another namespace');

    const inNamespace = new Client({ connection, namespace });
    const desc = await inNamespace.workflow.getHandle(jobWorkflowId('nsproj')).describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.taskQueue).toMatch(/^ns-/);
    const inDefault = new Client({ connection, namespace: 'default' });
    await expect(inDefault.workflow.getHandle(jobWorkflowId('nsproj')).describe()).rejects.toThrow(/not found/i);
    expect(processesIn(path.join(projectsDir, 'projects'))).toEqual([]);
  });
});
