// `orchestrate sessions list|reap` and the stale-session reaper, with real tmux on a private socket: only this
// orchestrator's sessions for projects no longer persistent, idle (no running job, per Temporal) and unwatched
// are killed; persistent, in-use and attached ones are kept; sessions a person made, or another orchestrator's,
// are never touched.
import execa from 'execa';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSession, sessionDirFor } from '../src/persistent/projectSession';
import { listSessions, reapSessions, jobRunningCheck } from '../src/persistent/sessions';
import { main } from '../src/cli/main';
import { formatAge } from '../src/cli/commands/sessions';
import { loadConfig, type Config } from '../src/config';
import { jobWorkflowId } from '../src/temporal/ids';
import { Tmux } from '../src/persistent/tmux';
import { makeEnv, waitFor, type TestEnv } from './helpers/env';

const FAKE_TUI = path.resolve(__dirname, 'fixtures/fake-claude-tui.js');
const SOCKET = `orch-test-${randomBytes(4).toString('hex')}`;
const tmux = new Tmux(SOCKET);
const work = mkdtempSync(path.join(os.tmpdir(), 'orch-tmx-'));
const agent = (name: string) =>
  `[projects.${name}.agent]\ninteractive_command = "node '${FAKE_TUI}'"\nenv = { FAKE_TUI_TRANSCRIPT_DIR = "${work}" }`;

let env: TestEnv;
let config: Config;
let watcher: execa.ExecaChildProcess | undefined;

beforeAll(async () => {
  env = await makeEnv({
    projects: Object.fromEntries(
      ['tmxrkeep', 'tmxrstale', 'tmxrbusy', 'tmxrwatch', 'tmxrother'].map((n) => [n, agent(n)]),
    ),
    orchestratorExtra: [`tmux_socket = "${SOCKET}"`, 'persistent = ["tmxrkeep"]'],
    startWorker: false,
  });
  config = await loadConfig(env.configPath);
});

afterAll(async () => {
  watcher?.kill();
  await env?.client.workflow
    .getHandle(jobWorkflowId('tmxrbusy'))
    .terminate('test over')
    .catch(() => undefined);
  await env?.stop();
  await tmux.killServer();
  rmSync(work, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'orchestrate', '-c', env.configPath, ...args]);
    return { code, out };
  } finally {
    spy.mockRestore();
  }
}

test('an empty socket: list and reap say so', async () => {
  const list = await cli('sessions', 'list');
  expect(list.code).toBe(0);
  expect(list.out).toContain(`no sessions on tmux socket "${SOCKET}" (persistent projects: tmxrkeep;`);
  const reap = await cli('sessions', 'reap');
  expect(reap.code).toBe(0);
  expect(reap.out).toContain(`nothing to reap on tmux socket "${SOCKET}"`);
});

describe('with sessions of every kind', () => {
  beforeAll(async () => {
    for (const p of ['tmxrkeep', 'tmxrstale', 'tmxrbusy', 'tmxrwatch']) await ensureSession(config, config.projects[p]);
    // Another orchestrator (another task queue) on the same socket.
    const other: Config = { ...config, orchestrator: { ...config.orchestrator, taskQueue: 'someone-else' } };
    await ensureSession(other, config.projects.tmxrother);
    // Made by a person: one with our prefix, one without.
    await tmux.newSession({ name: 'orch-tmxrhand', cwd: work, command: ['sleep', '600'] });
    await tmux.newSession({ name: 'scratch', cwd: work, command: ['sleep', '600'] });
    // tmxrbusy has a running job (on a queue nobody polls, so it stays running).
    await env.client.workflow.start('agentJob', {
      taskQueue: `nobody-${randomUUID()}`,
      workflowId: jobWorkflowId('tmxrbusy'),
      args: [{ project: 'tmxrbusy', kind: 'run' }],
    });
    // Someone is watching tmxrwatch (a control-mode client counts as attached).
    watcher = execa('tmux', ['-L', SOCKET, '-C', 'attach', '-t', '=orch-tmxrwatch'], { stdin: 'pipe', reject: false });
    await waitFor('the watcher to attach', async () => (await tmux.session('orch-tmxrwatch'))?.attached === 1);
  });

  test('sessions list --json classifies each one', async () => {
    const { code, out } = await cli('sessions', 'list', '--json');
    expect(code).toBe(0);
    const list = JSON.parse(out);
    expect(list).toMatchObject({ socket: SOCKET, prefix: 'orch-', tmuxMissing: false, temporalError: null });
    const by = Object.fromEntries(list.sessions.map((s: { session: string }) => [s.session, s]));
    expect(Object.keys(by).sort()).toEqual([
      'orch-tmxrbusy',
      'orch-tmxrhand',
      'orch-tmxrkeep',
      'orch-tmxrother',
      'orch-tmxrstale',
      'orch-tmxrwatch',
      'scratch',
    ]);
    expect(by['orch-tmxrkeep']).toMatchObject({
      project: 'tmxrkeep',
      own: true,
      persistent: true,
      inUse: false,
      stale: false,
    });
    expect(by['orch-tmxrstale']).toMatchObject({
      project: 'tmxrstale',
      own: true,
      persistent: false,
      inUse: false,
      stale: true,
      attached: 0,
    });
    expect(by['orch-tmxrbusy']).toMatchObject({ own: true, inUse: true, stale: true, jobWorkflowId: 'job/tmxrbusy' });
    expect(by['orch-tmxrwatch']).toMatchObject({ own: true, attached: 1, stale: true });
    expect(by['orch-tmxrother']).toMatchObject({
      own: false,
      foreign: 'started by another orchestrator (task queue someone-else)',
    });
    expect(by['orch-tmxrhand']).toMatchObject({ own: false, project: null, foreign: 'not started by orchestrate' });
    expect(by.scratch).toMatchObject({ own: false, foreign: 'not named orch-*' });
    expect(by['orch-tmxrkeep'].ageMs).toBeGreaterThanOrEqual(0);
    expect(by['orch-tmxrkeep'].attach).toBe(`tmux -L ${SOCKET} attach -t orch-tmxrkeep`);
  });

  test('sessions list: a table with project, age and in use / idle', async () => {
    const { code, out } = await cli('sessions', 'list');
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^SESSION\s+PROJECT\s+AGE\s+STATUS\s+ATTACHED\s+NOTE$/);
    const row = (s: string) => lines.find((l) => l.startsWith(`${s} `)) ?? '';
    expect(row('orch-tmxrkeep')).toMatch(/^orch-tmxrkeep\s+tmxrkeep\s+\d+s\s+idle\s+0\s+persistent$/);
    expect(row('orch-tmxrstale')).toMatch(
      /idle\s+0\s+stale: not in orchestrator\.persistent; `orchestrate sessions reap` kills it$/,
    );
    expect(row('orch-tmxrbusy')).toMatch(
      /in use\s+0\s+stale: not in orchestrator\.persistent; job job\/tmxrbusy running$/,
    );
    expect(row('orch-tmxrwatch')).toMatch(/idle\s+1\s+stale/);
    expect(row('orch-tmxrhand')).toMatch(
      /^orch-tmxrhand\s+-\s+\d+s\s+not ours\s+0\s+not started by orchestrate: never touched$/,
    );
    expect(out).toContain(`tmux -L ${SOCKET} attach -t <session>`);
  });

  test('sessions reap kills only the stale, idle, unwatched session of this orchestrator', async () => {
    const staleDir = sessionDirFor(config, 'orch-tmxrstale');
    expect(existsSync(staleDir)).toBe(true);
    const { code, out } = await cli('sessions', 'reap');
    expect(code).toBe(0);
    expect(out).toContain('killed orch-tmxrstale (project tmxrstale is not in orchestrator.persistent');
    expect(out).toContain('kept   orch-tmxrkeep (persistent');
    expect(out).toContain('kept   orch-tmxrbusy (in use by the running job job/tmxrbusy)');
    expect(out).toContain('kept   orch-tmxrwatch (1 client(s) attached)');
    expect(out).not.toMatch(/orch-tmxrhand|orch-tmxrother|scratch/);

    const left = (await tmux.listSessions()).map((s) => s.name).sort();
    expect(left).toEqual([
      'orch-tmxrbusy',
      'orch-tmxrhand',
      'orch-tmxrkeep',
      'orch-tmxrother',
      'orch-tmxrwatch',
      'scratch',
    ]);
    expect(existsSync(staleDir)).toBe(false);
  });

  test('once the job ends and the watcher leaves, the next reap takes those too; --json', async () => {
    await env.client.workflow.getHandle(jobWorkflowId('tmxrbusy')).terminate('done');
    watcher?.kill();
    await waitFor('the watcher to detach', async () => (await tmux.session('orch-tmxrwatch'))?.attached === 0);
    const { out } = await cli('sessions', 'reap', '--json');
    const report = JSON.parse(out);
    expect(report.killed.map((k: { session: string }) => k.session).sort()).toEqual([
      'orch-tmxrbusy',
      'orch-tmxrwatch',
    ]);
    expect(report.kept).toEqual([
      { session: 'orch-tmxrkeep', project: 'tmxrkeep', reason: 'persistent (in orchestrator.persistent)' },
    ]);
    const left = (await tmux.listSessions()).map((s) => s.name).sort();
    expect(left).toEqual(['orch-tmxrhand', 'orch-tmxrkeep', 'orch-tmxrother', 'scratch']);
  });

  test('when Temporal cannot say whether a job runs, the session is kept', async () => {
    await ensureSession(config, config.projects.tmxrstale);
    const report = await reapSessions(config, async () => {
      throw new Error('unavailable');
    });
    expect(report.killed).toEqual([]);
    expect(report.kept).toContainEqual({
      session: 'orch-tmxrstale',
      project: 'tmxrstale',
      reason: 'could not ask Temporal whether job/tmxrstale is running',
    });
    // With Temporal: gone.
    const again = await reapSessions(config, jobRunningCheck(env.client));
    expect(again.killed.map((k) => k.session)).toEqual(['orch-tmxrstale']);
  });
});

test('without tmux installed there is nothing to list or reap (and no error)', async () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    expect(await listSessions(config)).toMatchObject({ sessions: [], tmuxMissing: true });
    expect((await reapSessions(config, async () => false)).note).toMatch(/tmux is not installed/);
  } finally {
    process.env.PATH = saved;
  }
});

test('formatAge', () => {
  expect(formatAge(0)).toBe('0s');
  expect(formatAge(45_000)).toBe('45s');
  expect(formatAge(3_720_000)).toBe('1h2m');
  expect(formatAge(93_784_000)).toBe('1d2h');
});
