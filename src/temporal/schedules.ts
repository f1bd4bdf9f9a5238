// The nightly EOD, the morning rollover and the optional cycle cadence, as Temporal schedules: the
// server owns them, so nothing is missed while a machine sleeps (the catch-up window runs what was due).
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Config } from '../config';
import { SearchAttr, type BatchKind } from './types';
import { DEFAULT_TASK_QUEUE, batchWorkflowId, scheduleIds } from './ids';

export interface PlannedSchedule {
  id: string;
  kind: BatchKind;
  spec: ScheduleSpec;
  description: string;
}

function at(hhmm: string): { hour: number; minute: number } {
  const [hour, minute] = hhmm.split(':').map(Number);
  return { hour, minute };
}

/** The schedules the config asks for (pure). */
export function plannedSchedules(config: Config): PlannedSchedule[] {
  const tz = config.orchestrator.timezone;
  const ids = scheduleIds(config.orchestrator.taskQueue);
  const out: PlannedSchedule[] = [];
  const { eod, rollover, cycleEveryMs } = config.schedules;
  if (eod) {
    out.push({
      id: ids.eod,
      kind: 'eod',
      spec: { calendars: [{ ...at(eod), comment: `EOD at ${eod} ${tz}` }], timezone: tz },
      description: `EOD daily at ${eod} (${tz})`,
    });
  }
  if (rollover) {
    out.push({
      id: ids.rollover,
      kind: 'rollover',
      spec: { calendars: [{ ...at(rollover), comment: `rollover at ${rollover} ${tz}` }], timezone: tz },
      description: `rollover daily at ${rollover} (${tz})`,
    });
  }
  if (cycleEveryMs) {
    out.push({
      id: ids.cycle,
      kind: 'cycle',
      spec: { intervals: [{ every: cycleEveryMs }], timezone: tz },
      description: `cycle every ${Math.round(cycleEveryMs / 60000)} min (the working-hours gate decides per project)`,
    });
  }
  return out;
}

function scheduleOptions(config: Config, s: PlannedSchedule): ScheduleOptions {
  return {
    scheduleId: s.id,
    spec: s.spec,
    action: {
      type: 'startWorkflow',
      workflowType: s.kind,
      // The server appends the scheduled time to this ID.
      workflowId: batchWorkflowId(s.kind, config.orchestrator.taskQueue),
      taskQueue: config.orchestrator.taskQueue,
      // No date here (args are fixed): the workflow takes its day from the TemporalScheduledStartTime search
      // attribute the server sets, so an EOD due at 23:00 that runs after midnight (catch-up) keeps its day.
      args: [{}],
      typedSearchAttributes: [{ key: SearchAttr.kind, value: s.kind }],
      staticSummary: `${s.kind} (scheduled)`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      // A server that was down at 23:00 still runs the EOD when it comes back within this window.
      catchupWindow: config.schedules.catchupWindowMs,
    },
    memo: { description: s.description },
  };
}

export interface ApplyReport {
  created: string[];
  updated: string[];
  deleted: string[];
}

/** Creates or updates every configured schedule, idempotently; deletes ours that the config dropped. */
export async function applySchedules(client: Client, config: Config): Promise<ApplyReport> {
  const report: ApplyReport = { created: [], updated: [], deleted: [] };
  const planned = plannedSchedules(config);
  for (const s of planned) {
    const options = scheduleOptions(config, s);
    try {
      await client.schedule.create(options);
      report.created.push(s.id);
    } catch (e) {
      if (!(e instanceof ScheduleAlreadyRunning)) throw e;
      await client.schedule.getHandle(s.id).update((prev) => ({
        ...prev,
        spec: options.spec,
        action: options.action,
        policies: { ...prev.policies, ...options.policies },
      }));
      report.updated.push(s.id);
    }
  }
  const wanted = new Set(planned.map((s) => s.id));
  for (const id of Object.values(scheduleIds(config.orchestrator.taskQueue))) {
    if (wanted.has(id)) continue;
    try {
      await client.schedule.getHandle(id).delete();
      report.deleted.push(id);
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
  report.deleted.push(...(await deleteLegacySchedules(client, config.orchestrator.taskQueue)));
  return report;
}

/**
 * Before schedule IDs carried the task queue, an orchestrator on another queue than the default one named its
 * schedules `orchestrate-eod` etc. too. Those that start work on this queue are replaced by the ones above: delete
 * them, or both would fire. Schedules of the same names for another queue (the default orchestrator's) stay.
 */
async function deleteLegacySchedules(client: Client, taskQueue: string): Promise<string[]> {
  if (taskQueue === DEFAULT_TASK_QUEUE) return [];
  const deleted: string[] = [];
  for (const id of Object.values(scheduleIds(DEFAULT_TASK_QUEUE))) {
    const handle = client.schedule.getHandle(id);
    try {
      const d = await handle.describe();
      if (d.action.type !== 'startWorkflow' || d.action.taskQueue !== taskQueue) continue;
      await handle.delete();
      deleted.push(id);
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
  return deleted;
}

/** Accepts "eod", "rollover", "cycle" (this task queue's) or a full schedule ID. */
export function scheduleIdFor(name: string, taskQueue: string): string {
  return (scheduleIds(taskQueue) as Record<string, string>)[name] ?? name;
}

/** The equivalent `temporal schedule create` command, for people who drive Temporal from its own CLI. */
export function temporalCliCommand(config: Config, s: PlannedSchedule): string {
  const parts = [
    'temporal schedule create',
    `--schedule-id ${s.id}`,
    `--workflow-id ${batchWorkflowId(s.kind, config.orchestrator.taskQueue)}`,
    `--type ${s.kind}`,
    `--task-queue ${config.orchestrator.taskQueue}`,
    `--input '{}'`,
    `--overlap-policy Skip`,
    `--catchup-window ${Math.round(config.schedules.catchupWindowMs / 60000)}m`,
    `--time-zone ${config.orchestrator.timezone}`,
  ];
  const cal = s.spec.calendars?.[0];
  if (cal)
    parts.push(
      `--calendar '${JSON.stringify({ hour: String(cal.hour), minute: String(cal.minute), comment: cal.comment })}'`,
    );
  const every = s.spec.intervals?.[0]?.every;
  if (every !== undefined) parts.push(`--interval ${Math.round(Number(every) / 60000)}m`);
  return parts.join(' \\\n  ');
}

export interface ScheduleRow {
  id: string;
  paused: boolean;
  description: string;
  nextRuns: string[];
  recentRuns: string[];
}

/** This orchestrator's (task queue's) schedules as they stand on the server, with their next run times. */
export async function describeSchedules(client: Client, taskQueue: string): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for (const id of Object.values(scheduleIds(taskQueue))) {
    try {
      const d = await client.schedule.getHandle(id).describe();
      rows.push({
        id,
        paused: d.state.paused,
        description: String((d.memo as Record<string, unknown> | undefined)?.description ?? ''),
        nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
        recentRuns: d.info.recentActions.map((a) => a.takenAt.toISOString()),
      });
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
  return rows;
}
