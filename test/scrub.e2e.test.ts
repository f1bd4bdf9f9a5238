// Secrets a failing agent prints never leave the worker: not in workflow history, heartbeats, reported.json,
// the ledger, notifications or CLI output. The run folder's raw logs keep what the agent wrote.
import execa from 'execa';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { jobResult } from '../src/temporal/client';
import { REDACTED, makeScrubber, scrubDeep, secretValues } from '../src/lib/scrub';
import { makeEnv, processesIn, REPO_ROOT, type TestEnv } from './helpers/env';

// In the worker's environment (this process runs the in-process worker): secret by name, or by shape.
const API_KEY = 'sk-ant-api03-FAKEkeyForTests0123456789abcdef';
const DB_PASSWORD = 'hunter2-correct-horse-battery';
// In [agent] env, under a name that does not look secret.
const CONFIGURED = 'configured-value-7f3a9c';
// Printed by the agent, in no environment: caught by its shape.
const LOOSE_KEY = 'sk-proj-looseKEYprintedByAgent0123456789';
const SECRETS = [API_KEY, DB_PASSWORD, CONFIGURED, LOOSE_KEY];
const saved = { ...process.env };
let env: TestEnv;

beforeAll(async () => {
  process.env.ANTHROPIC_API_KEY = API_KEY;
  process.env.ORCH_TEST_DB_PASSWORD = DB_PASSWORD;
  env = await makeEnv({
    projects: {
      leaky: `prompt = "[scenario:env_on_stderr:request failed: ${LOOSE_KEY}]"\n[projects.leaky.agent]\nenv = { SERVICE_URL_PART = "${CONFIGURED}" }`,
    },
    extra: '[notify]\ncommand = "cat >> notified.jsonl; echo >> notified.jsonl"',
  });
});
afterAll(async () => {
  process.env = saved;
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  expect(left).toEqual([]);
});

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

function expectNoSecret(what: string, text: string): void {
  for (const secret of SECRETS) {
    if (text.includes(secret)) throw new Error(`${what} holds the secret ${secret}:\n${text.slice(0, 2000)}`);
  }
}

test('an agent that prints its environment and fails: no secret in history, ledger, reported.json, notification or CLI output', async () => {
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  const run = await execa('node', [cli, 'run', '-p', 'leaky'], { env: env.cliEnv, reject: false });
  expect(run.exitCode).toBe(1);
  expectNoSecret('CLI output', run.stdout + run.stderr);
  expect(run.stdout).toContain(REDACTED);

  const r = await jobResult(env.client.workflow.getHandle('job/leaky'), 'leaky');
  expect(r.outcome).toBe('crashed');
  expectNoSecret('workflow history', JSON.stringify(await env.client.workflow.getHandle(r.workflowId).fetchHistory()));

  const state = filesUnder(env.stateDir);
  const ledger = state.filter((f) => f.endsWith('.jsonl'));
  expect(ledger.length).toBe(1);
  expectNoSecret('the ledger', readFileSync(ledger[0], 'utf8'));
  expect(readFileSync(ledger[0], 'utf8')).toContain(REDACTED);
  const reported = state.filter((f) => path.basename(f) === 'reported.json');
  expect(reported.length).toBe(2);
  for (const f of reported) expectNoSecret(f, readFileSync(f, 'utf8'));
  for (const f of state.filter((f) => !/std(out|err)\.log$/.test(f))) expectNoSecret(f, readFileSync(f, 'utf8'));

  const notified = readFileSync(path.join(env.dir, 'notified.jsonl'), 'utf8');
  expect(notified).toContain('job_failed');
  expectNoSecret('the notification', notified);

  // The raw log is the user's own file, as the agent wrote it.
  const stderr = readFileSync(path.join(r.logPath, 'stderr.log'), 'utf8');
  expect(stderr).toContain(`ANTHROPIC_API_KEY=${API_KEY}`);
  expect(statSync(path.join(r.logPath, 'stderr.log')).mode & 0o777).toBe(0o600);
});

test('the scrubber: configured values, secret-looking names, key shapes; short and plain values left alone', () => {
  const secrets = secretValues(
    { SERVICE: 'configured-123', SHORT: '1', HOME: '/home/someone' },
    { GITHUB_TOKEN: 'ghp_abcdef123456', EDITOR: 'vim-editor-x', AWS_SECRET_ACCESS_KEY: 'aws/secret+value' },
  );
  expect(secrets.sort()).toEqual(['aws/secret+value', 'configured-123', 'ghp_abcdef123456']);
  const scrub = makeScrubber(secrets);
  expect(scrub('push ghp_abcdef123456 to /home/someone/x with 1 and sk-ant-oat01-abcdefghij')).toBe(
    `push ${REDACTED} to /home/someone/x with 1 and ${REDACTED}`,
  );
  expect(scrubDeep({ a: ['configured-123'], b: { c: 'x aws/secret+value' }, n: 3 }, scrub)).toEqual({
    a: [REDACTED],
    b: { c: `x ${REDACTED}` },
    n: 3,
  });
});
