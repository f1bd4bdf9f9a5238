// What the views read and print, without a server: the ledger's corrected lines, schedule times in the
// configured timezone, a project whose path is missing.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appendLedger, readLedger, readLedgers, type LedgerEntry } from '../src/lib/ledger';
import { renderScheduleList } from '../src/cli/commands/schedule';
import { gatherStatus } from '../src/cli/commands/status';
import { parseConfig } from '../src/config';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'views-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (over: Partial<LedgerEntry>): LedgerEntry => ({
  finishedAt: '2026-03-14T22:10:00.000Z',
  project: 'web',
  kind: 'eod',
  outcome: 'succeeded',
  costUsd: 0.5,
  numTurns: 3,
  durationMs: 1000,
  logPath: '/runs/web/1',
  workflowId: 'job/web',
  runId: 'r1',
  attempt: 1,
  ...over,
});

test("a correction replaces its job's line, at that line's time; other jobs' lines stay", async () => {
  await appendLedger(dir, line({}));
  await appendLedger(dir, line({ runId: 'r2', logPath: '/runs/web/2', finishedAt: '2026-03-14T22:20:00.000Z' }));
  await appendLedger(
    dir,
    line({
      finishedAt: '2026-03-15T00:01:00.000Z',
      outcome: 'agent_error',
      message: 'web: work log not written',
      correction: true,
    }),
  );
  const entries = await readLedger(dir, 'web');
  expect(entries.map((e) => [e.runId, e.outcome, e.finishedAt])).toEqual([
    ['r1', 'agent_error', '2026-03-14T22:10:00.000Z'],
    ['r2', 'succeeded', '2026-03-14T22:20:00.000Z'],
  ]);
  // Cost is counted once, on the original day; the correction's own time does not move it.
  const day = await readLedgers(dir, { from: new Date('2026-03-14T00:00:00Z'), to: new Date('2026-03-15T00:00:00Z') });
  expect(day.map((e) => e.outcome)).toEqual(['agent_error', 'succeeded']);
  expect(day.reduce((s, e) => s + (e.costUsd ?? 0), 0)).toBe(1);
});

test('schedule list prints next runs in the configured timezone, as status does', () => {
  const text = renderScheduleList(
    [
      {
        id: 'orchestrate-eod',
        paused: false,
        description: 'EOD at 23:00',
        nextRuns: ['2026-07-01T22:00:00.000Z', '2026-07-02T22:00:00.000Z'],
        recentRuns: [],
      },
    ],
    'Europe/London',
  );
  expect(text).toContain('NEXT RUNS (Europe/London)');
  expect(text).toContain('2026-07-01 23:00, 2026-07-02 23:00');
  expect(text).not.toMatch(/\dZ/);
});

test('status shows a project whose path is missing as such, not idle', async () => {
  mkdirSync(path.join(dir, 'here'));
  const configPath = path.join(dir, 'workspaces.toml');
  const toml = [
    '[orchestrator]',
    `state_dir = "${path.join(dir, 'state')}"`,
    '[server]',
    'port = 1',
    '[projects.here]',
    `path = "${path.join(dir, 'here')}"`,
    'prompt = "x"',
    '[projects.gone]',
    `path = "${path.join(dir, 'gone')}"`,
    'prompt = "x"',
  ].join('\n');
  writeFileSync(configPath, toml);
  const report = await gatherStatus(parseConfig(toml, configPath));
  expect(report.projects.map((p) => [p.project, p.state])).toEqual([
    ['here', 'idle'],
    ['gone', 'path missing'],
  ]);
});
