// Safe deploys: every recorded workflow history (test/histories/*.json) must replay against the current workflow
// code. A change that would break a workflow already running (or one a schedule starts from an older history)
// fails here, in CI, instead of in production after a deploy. See docs/deploy.md.
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type * as Workflows from '../src/workflows';

const HISTORIES_DIR = path.join(__dirname, 'histories');

/**
 * Every workflow type the worker registers, and the recorded histories covering it. A workflow added to
 * src/workflows/index.ts fails the typecheck here until a history of it is recorded (test/record-histories.ts).
 */
const COVERAGE: Record<keyof typeof Workflows, string[]> = {
  agentJob: [
    'agentJob-succeeded',
    'agentJob-agent_error',
    'agentJob-usage_limit_wait',
    'agentJob-persistent',
    'agentJob-transient_retry',
    'agentJob-cancelled_wait',
    'agentJob-eod_worklog_missing',
    'agentJob-lean',
    'agentJob-lean-setup_error',
    'agentJob-lean-cycle',
    'agentJob-account_hold_across_runs',
    'agentJob-held_across_runs',
    'agentJob-hold_read_in_activity',
    'agentJob-hold_in_activity_limited',
    'agentJob-held_in_activity',
    'agentJob-cancelled_hold',
    'agentJob-held_across_runs_tells_batch',
  ],
  accountHold: ['accountHold', 'accountHold-cancelled'],
  cycle: [
    'cycle',
    'cycle-cancelled',
    'cycle-child_window',
    'cycle-start_at_once',
    'cycle-gates_in_chunks',
    'cycle-first_wave_sooner',
    'cycle-window_at_first_wave_slots',
    'cycle-limit_early_window',
  ],
  eod: ['eod', 'eod-scheduled', 'eod-host_wait', 'eod-worklog_missing'],
  rollover: ['rollover'],
};
/** Recorded for patches that came later: no history of them was recorded before those patches. */
const NEW_WITH_PATCHES = [
  'agentJob-transient_retry',
  'agentJob-cancelled_wait',
  'eod-scheduled',
  'eod-host_wait',
  'agentJob-eod_worklog_missing',
  'cycle-cancelled',
  'eod-worklog_missing',
  'agentJob-lean',
  'agentJob-lean-setup_error',
  'agentJob-lean-cycle',
  'cycle-start_at_once',
  'cycle-child_window',
  'cycle-gates_in_chunks',
  'cycle-first_wave_sooner',
  'agentJob-account_hold_across_runs',
  'agentJob-held_across_runs',
  'agentJob-hold_read_in_activity',
  'agentJob-hold_in_activity_limited',
  'agentJob-held_in_activity',
  'accountHold',
  'agentJob-cancelled_hold',
  'accountHold-cancelled',
  'cycle-window_at_first_wave_slots',
  'cycle-limit_early_window',
  'agentJob-held_across_runs_tells_batch',
];
/**
 * Histories recorded before the patches listed in docs/deploy.md ("The patches in the code now"): they prove the
 * old branch of each patched() still replays. Delete them when those patches move to deprecatePatch().
 */
const BEFORE_PATCHES = Object.values(COVERAGE)
  .flat()
  .filter((n) => !NEW_WITH_PATCHES.includes(n))
  .map((n) => `${n}-before-patches`);

type History = temporal.api.history.v1.History;

/** A history file: the JSON of `(await handle.fetchHistory()).toJSON()`, as test/record-histories.ts writes it. */
function loadHistory(name: string): History {
  const json: unknown = JSON.parse(readFileSync(path.join(HISTORIES_DIR, `${name}.json`), 'utf8'));
  // fromObject is the inverse of toJSON (int64 strings, enum names, base64 bytes). Not the SDK's historyFromJSON:
  // with two copies of protobufjs in node_modules it throws "type must be a Type".
  return temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
}

function workflowType(history: History): string | null | undefined {
  return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
}

/** Replays histories in one replay worker; the error of each (undefined: it replayed). */
async function replay(histories: Array<{ name: string; history: History }>): Promise<Map<string, Error | undefined>> {
  const codePath = process.env.ORCHESTRATE_TEST_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('ORCHESTRATE_TEST_WORKFLOW_BUNDLE is not set: run this through jest (globalSetup)');
  const results = new Map<string, Error | undefined>();
  const iterable = Worker.runReplayHistories(
    { workflowBundle: { codePath }, replayName: 'orchestrate-replay' },
    histories.map(({ name, history }) => ({ workflowId: name, history })),
  );
  for await (const r of iterable) results.set(r.workflowId, r.error);
  return results;
}

/** What a failed replay says: which history, why, and what to do about it. */
function replayFailure(name: string, err: Error): Error {
  const nondeterminism = err.name === 'DeterminismViolationError';
  return new Error(
    `${name}.json no longer replays against the current workflow code` +
      `${nondeterminism ? ' (nondeterminism)' : ''}: ${err.message}\n\n` +
      'Workflows already running (or started from a schedule before the deploy) would fail the same way on the ' +
      'new worker. If the change is intended and safe for in-flight workflows, re-record the histories with ' +
      '`npm run record-histories`; otherwise keep the old behaviour for old histories with ' +
      "`if (patched('<change-id>')) { new } else { old }` (see docs/deploy.md).",
  );
}

const files = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();
let results: Map<string, Error | undefined>;

beforeAll(async () => {
  // Quiet: the deliberately broken history below makes the SDK's core log its nondeterminism as a warning.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  results = await replay(files.map((name) => ({ name, history: loadHistory(name) })));
});

test('there is a recorded history of every workflow type, and of each case listed', () => {
  const recorded = new Map(files.map((name) => [name, workflowType(loadHistory(name))]));
  for (const [type, names] of Object.entries(COVERAGE)) {
    for (const name of names) expect({ name, type: recorded.get(name) }).toEqual({ name, type });
  }
  for (const name of BEFORE_PATCHES) expect(recorded.has(name)).toBe(true);
});

test.each(files)('%s replays without nondeterminism', (name) => {
  expect(results.has(name)).toBe(true);
  const err = results.get(name);
  if (err) throw replayFailure(name, err);
});

test('a history the code no longer matches fails the replay (the check works)', async () => {
  // The recorded job, except that its first activity was another one: what reordering activities in agentJob
  // would look like to a workflow recorded before the change.
  const history = loadHistory('agentJob-succeeded');
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes)!;
  expect(scheduled.activityTaskScheduledEventAttributes!.activityType!.name).toBe('prepareJob');
  scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'runAgentJob';
  const err = (await replay([{ name: 'tampered', history }])).get('tampered');
  expect(err?.name).toBe('DeterminismViolationError');
  const failure = replayFailure('tampered', err!);
  expect(failure.message).toMatch(/npm run record-histories/);
  expect(failure.message).toMatch(/patched\(/);
});
