// How every batch begins: its kind in the Web UI's list, the config snapshot, the day it acts for, its live
// result table; and how it stands down when another batch of its kind already runs.
import {
  defineQuery,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { localDate } from '../../lib/dates';
import {
  BATCH_PROGRESS_QUERY,
  SearchAttr,
  type BatchInput,
  type BatchKind,
  type BatchResult,
  type ConfigSnapshot,
} from '../../temporal/types';
import { openCycle, otherRunningBatchOf, otherRunningCycle, snapshotConfig } from './proxies';
import { SCHEDULED_DATE_PATCH } from '../../temporal/patches';

/** Live progress of a cycle / EOD / rollover: the result table as it fills in. */
export const batchProgressQuery = defineQuery<BatchResult>(BATCH_PROGRESS_QUERY);

/** [orchestrator] host_wait for snapshots taken before it existed. */
const DEFAULT_HOST_WAIT_MS = 120_000;

/** Set by the server on workflows a schedule starts: the time the run was due (not when it started). */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** A batch in flight: what it read at its start and the result table it fills in (what the query returns). */
export interface Batch {
  kind: BatchKind;
  input: BatchInput;
  snap: ConfigSnapshot;
  /** The day it acts for (YYYY-MM-DD in the orchestrator's timezone). */
  date: string;
  hostWaitMs: number;
  state: BatchResult;
  /** The snapshot's project of that name (a map: a batch asks once per job and per event). */
  projectNamed: (name: string) => SnapshotProject | undefined;
}

type SnapshotProject = ConfigSnapshot['projects'][number];

export async function openBatch(kind: BatchKind, input: BatchInput): Promise<Batch> {
  upsertSearchAttributes([{ key: SearchAttr.kind, value: kind }]);
  setCurrentDetails('reading config');
  return batchOf(kind, input, await snapshotConfig());
}

/** A cycle's openBatch and anotherBatchRunning in one activity: the batch, and the other cycle's ID or null. */
export async function openCycleAtOnce(input: BatchInput): Promise<[Batch, string | null]> {
  upsertSearchAttributes([{ key: SearchAttr.kind, value: 'cycle' }]);
  setCurrentDetails('reading config');
  const { snap, otherRunning } = await openCycle(overlapQuery('cycle'));
  return [batchOf('cycle', input, snap), otherRunning];
}

/** The batch of this kind started from `snap`: the day it acts for, its table, the progress query. */
function batchOf(kind: BatchKind, input: BatchInput, snap: ConfigSnapshot): Batch {
  // A scheduled run's day is the day it was due: an EOD due at 23:00 that runs at 01:00 (catch-up window)
  // is still yesterday's EOD. (patched: runs already going when this shipped keep the day they chose.)
  const scheduledAt = input.carry || input.date ? null : scheduledStartTime();
  const date =
    input.carry?.date ??
    input.date ??
    (scheduledAt && patched(SCHEDULED_DATE_PATCH)
      ? localDate(scheduledAt, snap.timezone)
      : localDate(new Date(), snap.timezone));
  const state: BatchResult = {
    kind,
    date,
    startedAt: input.carry?.startedAt ?? new Date().toISOString(),
    finishedAt: '',
    rows: input.carry?.rows ?? [],
    digestPath: null,
    refused: null,
  };
  setHandler(batchProgressQuery, () => state);
  const byName = new Map<string, SnapshotProject>();
  for (const p of snap.projects) if (!byName.has(p.name)) byName.set(p.name, p);
  return {
    kind,
    input,
    snap,
    date,
    hostWaitMs: snap.hostWaitMs ?? DEFAULT_HOST_WAIT_MS,
    state,
    projectNamed: (name) => byName.get(name),
  };
}

/**
 * Another batch of this kind already running on this task queue (a schedule's run while the CLI's runs): this
 * one does nothing and returns the result that says so; null when it goes on.
 */
export async function standDownIfAnotherRuns(batch: Batch): Promise<BatchResult | null> {
  return standDownFor(batch, await anotherBatchRunning(batch.kind));
}

/** The workflow ID of another batch of this kind running on this task queue that goes first, else null. */
export function anotherBatchRunning(kind: BatchKind): Promise<string | null> {
  const check = kind === 'cycle' ? otherRunningCycle : otherRunningBatchOf(kind);
  return check(overlapQuery(kind));
}

/** What the "another batch of this kind running?" check asks about: this batch's kind, ID and start. */
function overlapQuery(kind: BatchKind): { kind: BatchKind; selfWorkflowId: string; selfStartTime: string } {
  const info = workflowInfo();
  return { kind, selfWorkflowId: info.workflowId, selfStartTime: info.startTime.toISOString() };
}

/** With another batch of its kind running (its workflow ID), the result that says this one did nothing. */
export function standDownFor(batch: Batch, other: string | null): BatchResult | null {
  if (!other) return null;
  batch.state.refused = `another ${batch.kind} is already running (${other}); this one did nothing`;
  setCurrentDetails(batch.state.refused);
  return { ...batch.state, finishedAt: new Date().toISOString() };
}

/** When a schedule started this run, the time it was due; null for runs started by hand. */
function scheduledStartTime(): Date | null {
  const info = workflowInfo();
  const typed = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
  if (typed instanceof Date && !Number.isNaN(typed.getTime())) return typed;
  // Older servers may send it without the type metadata the typed view needs.
  const raw = info.searchAttributes?.TemporalScheduledStartTime?.[0];
  if (raw === undefined) return null;
  const at = raw instanceof Date ? raw : new Date(String(raw));
  return Number.isNaN(at.getTime()) ? null : at;
}
