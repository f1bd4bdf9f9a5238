// A running job's progress line, and which progress updates its workflow is told of (the Web UI's details).
import { ProgressDetailsThrottle, progressLine } from '../src/lib/agentProgress';

test('the progress line: turn, tool, tokens, cost, retry; a long silence is said', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  expect(
    progressLine(
      {
        turn: 3,
        tool: 'Bash: npm test',
        tokens: { input: 5_100, output: 100, cacheRead: 0, cacheCreation: 0 },
        costUsd: 0.0412,
        retry: 'API overloaded, retry 3 of 10',
        lastOutputAt: new Date(now - 90_000).toISOString(),
      },
      now,
    ),
  ).toBe('turn 3 · Bash: npm test · 5.2k tokens · $0.0412 · API overloaded, retry 3 of 10 · silent 1m30s');
  expect(progressLine({ turn: 1, text: 'Looking at the code.' }, now)).toBe('turn 1 · says: Looking at the code.');
  expect(progressLine(null, now)).toBeNull();
});

test('progress is told no sooner than the interval after the start, then at most once per interval, on a change', () => {
  const t0 = 1_000_000;
  const throttle = new ProgressDetailsThrottle(30_000, t0);
  const bash = { turn: 1, tool: 'Bash: npm test' };
  // A short job: nothing told in its first interval.
  expect(throttle.take(bash, t0 + 1_000)).toBe(false);
  expect(throttle.take(bash, t0 + 29_999)).toBe(false);
  expect(throttle.take(bash, t0 + 30_000)).toBe(true);
  // The same turn and tool: not again, however long it takes.
  expect(throttle.take({ ...bash, costUsd: 0.5 }, t0 + 90_000)).toBe(false);
  // A change inside the interval waits for its end.
  const edit = { turn: 2, tool: 'Edit: src/app.ts' };
  expect(throttle.take(edit, t0 + 40_000)).toBe(false);
  expect(throttle.take(edit, t0 + 95_000)).toBe(true);
  // The tool done, the turn the same: a change too.
  expect(throttle.take({ turn: 2 }, t0 + 130_000)).toBe(true);
  // No stream progress (a text-format agent, a persistent session): never told.
  expect(throttle.take(null, t0 + 500_000)).toBe(false);
  expect(throttle.take({ lastOutputAt: new Date().toISOString() }, t0 + 600_000)).toBe(false);
});
