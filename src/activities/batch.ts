// Activities behind the cycle, EOD and rollover workflows: config snapshot, gates, work-log check,
// the day's digest. Thin adapters over config, gates and the ledger.
import { Context } from '@temporalio/activity';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { dayBounds, localDate, localTime } from '../lib/dates';
import { formatDuration } from '../lib/duration';
import { readLedger } from '../lib/ledger';
import { notify } from '../lib/notify';
import { worklogPathFor } from '../lib/prompts';
import { type BatchKind, type BatchRow, type ConfigSnapshot, type GateDecision } from '../temporal/types';
import { configError } from '../temporal/failures';
import { jobWorkflowId } from '../temporal/ids';
import type { BatchActivities, JobWorklogInput, OpenedCycle, WorklogCheck } from '../temporal/activities';
import { loadConfigOrFail } from './agentJob';
import { decideAll } from '../gates';
import { configSnapshot, unknownProjectMessage, type Config } from '../config';
import { recordJobOutcome } from '../lib/jobRecord';
import { batchCounts, batchRowFailed } from '../lib/outcomes';

/**
 * The batch workflows' activities, bound to the worker's config path. Long because it is a closure holding the
 * activities, as the worker registers them, not one function's logic.
 */
export function createBatchActivities(deps: { configPath?: string }): BatchActivities {
  async function snapshotConfig(): Promise<ConfigSnapshot> {
    return configSnapshot(await loadConfigOrFail(deps.configPath), process.env);
  }

  async function evaluateGates(input: { projects: string[]; at: string }): Promise<GateDecision[]> {
    const config = await loadConfigOrFail(deps.configPath);
    const unknown = input.projects.filter((p) => !config.projects[p]);
    if (unknown.length) {
      throw configError(unknownProjectMessage(config, unknown));
    }
    const client = Context.current().client;
    return decideAll(
      input.projects.map((p) => config.projects[p]),
      {
        config,
        now: new Date(input.at),
        signal: Context.current().cancellationSignal,
        isJobRunning: async (project) => {
          try {
            const d = await client.workflow.getHandle(jobWorkflowId(project)).describe();
            return d.status.name === 'RUNNING';
          } catch {
            return false; // never ran
          }
        },
      },
    );
  }

  /** EOD: the work log must exist and have been written after the job started. */
  async function verifyWorklog(input: { project: string; date: string; since: string }): Promise<WorklogCheck> {
    return checkWorklogFile(await loadConfigOrFail(deps.configPath), input);
  }

  /**
   * The EOD job's own check, once its agent succeeded. A missing work log fails the job: its ledger line is
   * corrected to agent_error (history, costs, the budget and the digest read one verdict) and the [notify] hook
   * gets job_failed, as for any failed job.
   */
  async function checkJobWorklog(input: JobWorklogInput): Promise<WorklogCheck> {
    const config = await loadConfigOrFail(deps.configPath);
    const check = await checkWorklogFile(config, input);
    if (check.ok) return check;
    const ctx = Context.current();
    const corrected = {
      ...input.result,
      outcome: 'agent_error' as const,
      message: `${input.project}: ${check.reason}`,
    };
    await recordJobOutcome(config, { project: input.project, kind: 'eod' }, corrected, ctx.info, ctx.log, {
      correction: true,
    });
    return check;
  }

  /**
   * Writes <state_dir>/digests/<date>.md: per project, this EOD's own job (from the batch's rows, so a job that
   * finished after midnight is still there) and the day's other jobs from the ledger, each once; what was
   * skipped and why. Times are in the configured timezone. One function (a little over 80 lines): the
   * digest reads top to bottom as the document it writes.
   */
  async function writeDigest(input: { date: string; rows: BatchRow[]; kind: BatchKind }): Promise<string> {
    const config = await loadConfigOrFail(deps.configPath);
    const tz = config.orchestrator.timezone;
    const { start, end } = dayBounds(input.date, tz);
    const names = [...new Set([...Object.keys(config.projects), ...input.rows.map((r) => r.project)])].sort();
    /** HH:MM in the timezone; with the day when it is not the digest's (an EOD finishing after midnight). */
    const when = (iso: string | null | undefined): string => {
      const t = iso ? new Date(iso) : null;
      if (!t || Number.isNaN(t.getTime())) return '--:--';
      const day = localDate(t, tz);
      return day === input.date ? localTime(t, tz) : `${day} ${localTime(t, tz)}`;
    };
    const facts = (j: {
      durationMs: number | null;
      costUsd: number | null;
      numTurns: number | null;
      logPath: string | null;
    }) =>
      `${j.durationMs !== null ? formatDuration(j.durationMs) : '?'} · ${j.costUsd !== null ? `$${j.costUsd.toFixed(4)}` : 'cost n/a'} · ${j.numTurns ?? '?'} turns${j.logPath ? ` · log ${j.logPath}` : ''}`;
    const now = new Date();
    const lines: string[] = [
      `# Orchestrator digest — ${input.date}`,
      '',
      `Timezone: ${tz}. Generated ${localDate(now, tz)} ${localTime(now, tz)}.`,
      '',
    ];
    let total = 0;
    for (const name of names) {
      const row = input.rows.find((r) => r.project === name);
      // This batch's own job for the project: it ran (or tried to), whatever the clock said when it ended.
      const own = row && row.decision === 'run' && row.status !== 'pending' ? row : null;
      const ledger = await readLedger(config.orchestrator.stateDir, name);
      // Its ledger line (same run folder) is the same job: listed once, from the row.
      const isOwn = (logPath: string | null) => !!own?.logPath && logPath === own.logPath;
      const jobs: Array<{ at: string | null; text: string }> = [];
      if (own) {
        total += own.costUsd ?? 0;
        const at = own.finishedAt ?? ledger.find((e) => isOwn(e.logPath))?.finishedAt ?? null;
        const detail = own.status === 'succeeded' && own.reason ? ` — ${own.reason}` : '';
        jobs.push({ at, text: `${input.kind}: **${own.status}** · ${facts(own)}${detail}` });
      }
      for (const j of ledger) {
        const t = Date.parse(j.finishedAt);
        if (t < start.getTime() || t >= end.getTime() || isOwn(j.logPath)) continue;
        total += j.costUsd ?? 0;
        jobs.push({ at: j.finishedAt, text: `${j.kind}: **${j.outcome}** · ${facts(j)}` });
      }
      // By time; a job without one (a batch's job that crashed or was cancelled before reporting) last.
      const time = (at: string | null) => (at === null ? Infinity : Date.parse(at));
      jobs.sort((a, b) => (time(a.at) === time(b.at) ? 0 : time(a.at) < time(b.at) ? -1 : 1));
      lines.push(`## ${name}`, '');
      if (jobs.length === 0) lines.push('- no jobs today');
      for (const j of jobs) lines.push(`- ${when(j.at)} ${j.text}`);
      if (row) {
        if (row.decision !== 'run') lines.push(`- EOD skipped: ${row.reason}`);
        else if (row.status !== 'succeeded') lines.push(`- EOD failed (${row.status}): ${row.reason}`);
        // Only a work log that is there: a missing one is the failure above.
        if (row.worklogPath && row.status === 'succeeded' && (await exists(row.worklogPath)))
          lines.push(`- work log: ${row.worklogPath}`);
      }
      lines.push('');
    }
    lines.push(`Total cost today: $${total.toFixed(4)}`, '');
    const file = path.join(config.orchestrator.stateDir, 'digests', `${input.date}.md`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, lines.join('\n'));
    const failures = input.rows.filter(batchRowFailed);
    const counts = batchCounts(input.rows);
    await notify(
      config,
      {
        type: 'eod_digest',
        date: input.date,
        path: file,
        totalUsd: Math.round(total * 1e6) / 1e6,
        succeeded: counts.succeeded,
        failed: counts.failed,
        skipped: counts.skipped,
        failures: failures.map((r) => ({ project: r.project, status: r.status, reason: r.reason })),
      },
      { log: (m) => Context.current().log.warn(m) },
    );
    return file;
  }

  /** A no-op on the queue it is sent to: that a worker picked it up is the answer (EOD/rollover host check). */
  async function hostReady(): Promise<string> {
    return Context.current().info.taskQueue;
  }

  /** Another batch of this kind running (e.g. one started by the schedule while the CLI's runs): its workflow ID. */
  // Of two that start together, the earlier one (then the smaller ID) goes on and the other stands down.
  async function otherRunningBatch(input: {
    kind: BatchKind;
    selfWorkflowId: string;
    selfStartTime: string;
  }): Promise<string | null> {
    const client = Context.current().client;
    const self = Date.parse(input.selfStartTime);
    for await (const wf of client.workflow.list({
      // Only this orchestrator's batches: several orchestrators (task queues) may share a namespace.
      query: `WorkflowType = '${input.kind}' AND ExecutionStatus = 'Running' AND TaskQueue = '${Context.current().info.taskQueue}'`,
    })) {
      if (wf.workflowId === input.selfWorkflowId) continue;
      const other = wf.startTime.getTime();
      if (other < self || (other === self && wf.workflowId < input.selfWorkflowId)) return wf.workflowId;
    }
    return null;
  }

  /** Both at once: a workflow waiting for two activities may need two workflow tasks to see them both. */
  async function openCycle(input: {
    kind: BatchKind;
    selfWorkflowId: string;
    selfStartTime: string;
  }): Promise<OpenedCycle> {
    const [snap, otherRunning] = await Promise.all([snapshotConfig(), otherRunningBatch(input)]);
    return { snap, otherRunning };
  }

  return {
    snapshotConfig,
    openCycle,
    evaluateGates,
    verifyWorklog,
    checkJobWorklog,
    writeDigest,
    otherRunningBatch,
    hostReady,
  };
}

/** The work log of the project's day: there, written since the job started, not empty. */
async function checkWorklogFile(
  config: Config,
  input: { project: string; date: string; since: string },
): Promise<WorklogCheck> {
  const project = config.projects[input.project];
  if (!project) throw configError(unknownProjectMessage(config, [input.project]));
  const rel = worklogPathFor(project.worklogPath, input.date);
  const file = path.resolve(project.path, rel);
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    return { ok: false, path: file, reason: `work log not written: ${rel} does not exist in ${project.path}` };
  }
  // One second of slack for file systems with coarse timestamps.
  if (st.mtimeMs < Date.parse(input.since) - 1000) {
    return {
      ok: false,
      path: file,
      reason: `work log not written: ${rel} was not updated by today's EOD job (last modified ${st.mtime.toISOString()})`,
    };
  }
  if (st.size === 0) return { ok: false, path: file, reason: `work log not written: ${rel} is empty` };
  return { ok: true, path: file, reason: `work log written: ${rel}` };
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}
