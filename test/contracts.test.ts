// The contracts in src/temporal/ that workflows, activities and the CLI share: patch IDs (checked against
// docs/deploy.md and the recorded histories), failure types and their readers, workflow IDs, the heartbeat shape.
// Pure checks: no server.
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PATCH_IDS } from '../src/temporal/patches';
import {
  AGENT_CRASHED,
  CONFIG_ERROR,
  FAILURE_TYPES,
  JOB_FAILED,
  LEASE_LOST,
  RUN_FOLDER_ERROR,
  SETUP_ERROR,
  WORKER_SHUTDOWN,
  configError,
  failedJobResult,
  isSetupFailure,
  jobFailed,
  reportedRunResult,
  setupError,
} from '../src/temporal/failures';
import { batchWorkflowId, jobWorkflowId, scheduleIds, taskQueueFor } from '../src/temporal/ids';
import { bareRunResult, readAgentHeartbeat, type JobResult } from '../src/temporal/types';

const ROOT = path.join(__dirname, '..');
const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** The patch IDs in docs/deploy.md's table "The patches in the code now" (first column, in backticks). */
function documentedPatchIds(): string[] {
  const doc = readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
  const section = doc.split('### The patches in the code now')[1]?.split(/\n#{2,3} /)[0] ?? '';
  return [...section.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]);
}

/** Patch IDs recorded as markers in a history file (test/histories/*.json). */
function recordedPatchIds(file: string): string[] {
  const history = JSON.parse(readFileSync(file, 'utf8')) as {
    events: Array<{ markerRecordedEventAttributes?: { details?: Record<string, { payloads?: { data: string }[] }> } }>;
  };
  return history.events.flatMap((e) =>
    Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((d) =>
      (d.payloads ?? []).flatMap((p) => {
        const v = JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as { id?: unknown };
        return typeof v?.id === 'string' ? [v.id] : [];
      }),
    ),
  );
}

describe('patch IDs', () => {
  test('docs/deploy.md lists exactly the patch IDs of src/temporal/patches.ts', () => {
    expect([...documentedPatchIds()].sort()).toEqual([...PATCH_IDS].sort());
  });

  test('IDs are distinct', () => {
    expect(new Set(PATCH_IDS).size).toBe(PATCH_IDS.length);
  });

  test('every patched() / deprecatePatch() call passes a constant of src/temporal/patches.ts, never a literal', () => {
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      expect({ file, literals: text.match(/(?:patched|deprecatePatch)\(\s*['"`]/g) ?? [] }).toEqual({
        file,
        literals: [],
      });
    }
  });

  test('every recorded history marks only known patch IDs (the strings never changed)', () => {
    const dir = path.join(__dirname, 'histories');
    const recorded = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => recordedPatchIds(path.join(dir, f)));
    expect(recorded.length).toBeGreaterThan(0);
    for (const id of recorded) expect(PATCH_IDS).toContain(id);
  });
});

describe('failure types', () => {
  test('the type strings are the ones recorded in histories and retry policies', () => {
    expect(FAILURE_TYPES).toEqual([
      'SetupError',
      'ConfigError',
      'AgentCrashed',
      'WorkerShutdown',
      'RunFolderError',
      'AgentJobFailed',
      'LeaseLost',
    ]);
    expect([
      SETUP_ERROR,
      CONFIG_ERROR,
      AGENT_CRASHED,
      WORKER_SHUTDOWN,
      RUN_FOLDER_ERROR,
      JOB_FAILED,
      LEASE_LOST,
    ]).toEqual(FAILURE_TYPES);
  });

  test('no file in src/ but src/temporal/failures.ts writes a failure type as a string literal', () => {
    const quoted = new RegExp(`['"\`](${FAILURE_TYPES.join('|')})['"\`]`);
    for (const file of sourceFiles(SRC)) {
      if (file === path.join(SRC, 'temporal', 'failures.ts')) continue;
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        // An Error subclass's own name (config's ConfigError class) is not a failure type raised by us.
        .filter((l) => quoted.test(l) && !/this\.name\s*=/.test(l));
      expect({ file, lines }).toEqual({ file, lines: [] });
    }
  });

  test('setup and config errors are never retried', () => {
    for (const f of [setupError('p: no folder'), configError('bad toml')]) {
      expect(f.nonRetryable).toBe(true);
      expect(isSetupFailure(f)).toBe(true);
    }
    expect(setupError('x').type).toBe(SETUP_ERROR);
    expect(configError('x').type).toBe(CONFIG_ERROR);
    expect(isSetupFailure(ApplicationFailure.create({ type: AGENT_CRASHED, message: 'died' }))).toBe(false);
    expect(isSetupFailure(new Error('plain'))).toBe(false);
  });

  test('isSetupFailure looks through an activity failure to its cause', () => {
    const wrapped = new ActivityFailure(
      'activity failed',
      'prepareJob',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      setupError('p: no folder'),
    );
    expect(isSetupFailure(wrapped)).toBe(true);
  });

  test('reportedRunResult reads the AgentRunResult an activity failure carries, and nothing else', () => {
    const result = bareRunResult('crashed', 'p: agent died', { pid: 42 });
    const crashed = ApplicationFailure.create({ type: AGENT_CRASHED, message: result.message, details: [result] });
    expect(reportedRunResult(crashed)).toEqual(result);
    expect(reportedRunResult(ApplicationFailure.create({ type: WORKER_SHUTDOWN, message: 'deploy' }))).toBeUndefined();
    expect(reportedRunResult(ApplicationFailure.create({ message: 'x', details: ['text'] }))).toBeUndefined();
    expect(
      reportedRunResult(ApplicationFailure.create({ message: 'x', details: [{ no: 'outcome' }] })),
    ).toBeUndefined();
    expect(reportedRunResult(new Error('plain'))).toBeUndefined();
    expect(reportedRunResult(undefined)).toBeUndefined();
  });

  test('jobFailed carries the JobResult, and failedJobResult reads it back', () => {
    const job: JobResult = {
      workflowId: jobWorkflowId('p'),
      project: 'p',
      kind: 'run',
      startedAt: '2026-01-01T00:00:00.000Z',
      ...bareRunResult('agent_error', 'p: the agent failed'),
    };
    const failure = jobFailed(job);
    expect(failure.type).toBe(JOB_FAILED);
    expect(failure.message).toBe(job.message);
    expect(failure.nonRetryable).toBe(true);
    expect(failedJobResult(failure)).toEqual(job);
    // Another type with the same details is not a failed job.
    expect(failedJobResult(ApplicationFailure.create({ type: AGENT_CRASHED, message: 'x', details: [job] }))).toBe(
      undefined,
    );
    expect(failedJobResult(ApplicationFailure.create({ type: JOB_FAILED, message: 'x' }))).toBeUndefined();
  });
});

describe('IDs and task queues', () => {
  test('the strings every trigger and schedule relies on', () => {
    expect(jobWorkflowId('my-proj')).toBe('job/my-proj');
    expect(batchWorkflowId('cycle', 'orchestrate')).toBe('cycle');
    expect(batchWorkflowId('eod', 'staging')).toBe('eod@staging');
    expect(scheduleIds('orchestrate')).toEqual({
      eod: 'orchestrate-eod',
      rollover: 'orchestrate-rollover',
      cycle: 'orchestrate-cycle',
    });
    expect(scheduleIds('staging').rollover).toBe('orchestrate-rollover@staging');
    expect(taskQueueFor('orchestrate', 'gpu-box')).toBe('orchestrate@gpu-box');
    expect(taskQueueFor('orchestrate', null)).toBe('orchestrate');
  });
});

describe('agent heartbeat', () => {
  test('readAgentHeartbeat keeps the fields of the expected type', () => {
    expect(readAgentHeartbeat({ pid: 12, bytes: 300, lastLine: 'working' })).toEqual({
      pid: 12,
      bytes: 300,
      lastLine: 'working',
    });
    expect(readAgentHeartbeat({ phase: 'working', session: 'orch-p', socket: 'orchestrate', lastLine: '' })).toEqual({
      phase: 'working',
      session: 'orch-p',
      socket: 'orchestrate',
      lastLine: '',
    });
    expect(readAgentHeartbeat({ pid: '12', phase: 3, extra: true })).toEqual({});
  });

  test('readAgentHeartbeat returns null for details that are not an object', () => {
    for (const d of [null, undefined, 'text', 5]) expect(readAgentHeartbeat(d)).toBeNull();
  });
});
