// A batch's result table and its Web UI details: pure functions of the workflow, tested without a server.
import { finishedHeadline, firstLineOf, progressDetails, rowsFor } from '../../src/workflows/batch/progress';
import { batchRowFailed as rowFailed } from '../../src/lib/outcomes';
import { clipAtWord } from '../../src/lib/clip';
import type { BatchRow } from '../../src/temporal/types';

const row = (project: string, over: Partial<BatchRow> = {}): BatchRow => ({
  ...rowsFor([{ project, decision: 'run', gate: 'all', reason: 'has work' }])[0],
  ...over,
});

test('rows start pending when they run and skipped when they do not, with the gate reason', () => {
  const rows = rowsFor([
    { project: 'a', decision: 'run', gate: 'all', reason: 'has work' },
    { project: 'b', decision: 'skip', gate: 'paused', reason: 'paused' },
    { project: 'c', decision: 'error', gate: 'git', reason: 'not a git repository' },
  ]);
  expect(rows.map((r) => [r.project, r.decision, r.status, r.reason])).toEqual([
    ['a', 'run', 'pending', 'has work'],
    ['b', 'skip', 'skipped', 'paused'],
    ['c', 'error', 'skipped', 'not a git repository'],
  ]);
  expect(rows[0]).toMatchObject({ durationMs: null, costUsd: null, numTurns: null, workflowId: null, logPath: null });
});

test('a row failed when its gate could not decide or its job did not succeed', () => {
  expect(rowFailed(row('a', { status: 'succeeded' }))).toBe(false);
  expect(rowFailed(row('a', { decision: 'skip', status: 'skipped' }))).toBe(false);
  expect(rowFailed(row('a', { decision: 'error', status: 'skipped' }))).toBe(true);
  expect(rowFailed(row('a', { status: 'agent_error' }))).toBe(true);
  expect(rowFailed(row('a', { status: 'cancelled' }))).toBe(true);
  expect(
    finishedHeadline([
      row('a', { status: 'succeeded' }),
      row('b', { status: 'timed_out' }),
      row('c', { decision: 'error', status: 'skipped' }),
      row('d', { decision: 'skip', status: 'skipped' }),
    ]),
  ).toBe('finished: 1 succeeded, 2 failed, 1 skipped');
});

test('each row counts once: a gate error (a missing path) is failed, not also skipped; the counts add up', () => {
  const rows = [
    row('a', { status: 'succeeded' }),
    row('b', { status: 'succeeded' }),
    row('c', { status: 'succeeded' }),
    row('d', { decision: 'error', status: 'skipped', reason: 'project path /x does not exist' }),
  ];
  expect(finishedHeadline(rows)).toBe('finished: 3 succeeded, 1 failed, 0 skipped');
  expect(finishedHeadline(rows, true)).toBe('cancelled: 3 succeeded, 1 failed, 0 skipped');
});

test('long reasons are cut at a word boundary with an ellipsis, never mid-word', () => {
  const reason =
    'project path /srv/projects/web does not exist — fix [projects.web] path in workspaces.toml, then check again';
  const cell = progressDetails('cycle', '2026-03-14', [row('web', { reason })], 0, new Map()).split('\n')[4];
  const detail = cell.split(' | ')[2].replace(/ \|$/, '');
  expect(detail.length).toBeLessThanOrEqual(100);
  expect(detail.endsWith('…')).toBe(true);
  expect(reason.startsWith(detail.slice(0, -1))).toBe(true);
  expect(reason[detail.length - 1]).toBe(' ');
  expect(clipAtWord('a, then check', 10)).toBe('a, then…');
  expect(clipAtWord('short', 10)).toBe('short');
});

test('the details table: a headline, one escaped row per project, a job phase over its status', () => {
  const text = progressDetails(
    'cycle',
    '2026-03-14',
    [row('a', { status: 'running' }), row('b|c', { status: 'succeeded', reason: 'Done:\n  all | good' })],
    1,
    new Map([['a', 'verifying work log']]),
  );
  expect(text.split('\n')).toEqual([
    '**cycle 2026-03-14** · 1/2 done, 1 running',
    '',
    '| project | status | detail |',
    '| --- | --- | --- |',
    '| a | verifying work log | has work |',
    '| b\\|c | succeeded | Done: all \\| good |',
  ]);
});

test('the details table shows 50 rows, then says how many more the query has', () => {
  const rows = Array.from({ length: 53 }, (_, i) => row(`p${i}`));
  const text = progressDetails('eod', '2026-03-14', rows, 0, new Map(), 'finished');
  expect(text.startsWith('**eod 2026-03-14** · finished\n')).toBe(true);
  expect(text.split('\n').filter((l) => /^\| p\d/.test(l))).toHaveLength(50);
  expect(text.endsWith('… and 3 more (see the progress query)')).toBe(true);
});

test("a row shows the first non-blank line of the agent's answer, capped at 160 characters", () => {
  expect(firstLineOf(`Done: ${'word '.repeat(40)}`)).toMatch(/word…$/);
  expect(firstLineOf('\n  \nDone: fixed it\nmore')).toBe('Done: fixed it');
  expect(firstLineOf('')).toBe('');
  const long = firstLineOf('x'.repeat(200));
  expect(long).toHaveLength(160);
  expect(long.endsWith('…')).toBe(true);
});
